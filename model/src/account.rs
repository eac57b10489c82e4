//! Accounts: roles and the input rules for sign-up, shared by the browser (instant feedback)
//! and the server (the check that counts).

use serde::{Deserialize, Serialize};

/// What a user may do within one tenant. Ordered: each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Watches, keeps a watchlist and continue-watching.
    Viewer,
    /// Uploads and manages talks, edits subtitles, holds stream keys.
    Editor,
    /// Everything, plus users, dashboards and the job queue.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether a user with this role may do what `required` allows.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Long enough for any passphrase, short enough that hashing it cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_EMAIL_BYTES: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("use at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("use at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("use more than a few different characters")]
    TooRepetitive,
    #[error("the password must not contain your email address")]
    ContainsEmail,
}

/// Length-based rules (NIST SP 800-63B): no composition rules, which push people to
/// predictable patterns, but a minimum length, a cap, and a rejection of the trivially weak.
pub fn check_password(password: &str, email: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(PasswordError::TooRepetitive);
    }
    let local_part = email.split('@').next().unwrap_or_default().to_lowercase();
    if local_part.chars().count() >= 4 && password.to_lowercase().contains(&local_part) {
        return Err(PasswordError::ContainsEmail);
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("enter an email address like name@example.com")]
    Malformed,
    #[error("an email address is at most {MAX_EMAIL_BYTES} characters")]
    TooLong,
}

/// Trims and lower-cases the domain (the local part is case-sensitive in theory, but two
/// accounts differing only in case would be a support nightmare, so it is folded too) and
/// rejects what cannot be an address. Deliverability is proven by the verification mail,
/// not by this check.
pub fn normalize_email(input: &str) -> Result<String, EmailError> {
    let email = input.trim();
    if email.len() > MAX_EMAIL_BYTES {
        return Err(EmailError::TooLong);
    }
    let (local, domain) = email.rsplit_once('@').ok_or(EmailError::Malformed)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !local.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        });
    if domain_ok && local_ok {
        Ok(email.to_lowercase())
    } else {
        Err(EmailError::Malformed)
    }
}

pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Trims a display name and checks it: 1 to 100 characters, no control characters (names
/// appear in mails and page titles, where a newline or NUL would do harm).
pub fn check_display_name(input: &str) -> Result<String, AuthFailure> {
    let name = input.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AuthFailure::NameInvalid);
    }
    Ok(name.to_owned())
}

/// The signed-in user as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionUser {
    pub id: uuid::Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// Why an account action was refused, in words a user can act on. Each has a stable code so
/// a form posted without JavaScript can be sent back with `?error=<code>` (a code, never free
/// text, so a crafted link cannot put arbitrary words on our page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum AuthFailure {
    /// Deliberately the same for an unknown email and a wrong password (no enumeration).
    #[error("The email address or password is wrong.")]
    InvalidCredentials,
    #[error("Confirm your email address first: we have sent you a new confirmation link.")]
    EmailNotVerified,
    #[error("This account is disabled. Ask an administrator of this site.")]
    AccountDisabled,
    #[error("An account with this email address already exists. Log in, or reset your password.")]
    EmailTaken,
    #[error("Enter an email address like name@example.com.")]
    EmailMalformed,
    #[error("An email address is at most 254 characters.")]
    EmailTooLong,
    #[error("Use at least 12 characters for your password.")]
    PasswordTooShort,
    #[error("Use at most 1024 bytes for your password.")]
    PasswordTooLong,
    #[error("Use more than a few different characters in your password.")]
    PasswordTooRepetitive,
    #[error("Your password must not contain your email address.")]
    PasswordContainsEmail,
    #[error("Enter a name of 1 to 100 characters, without control characters.")]
    NameInvalid,
    #[error("This link is invalid, was already used or has expired. Request a new one.")]
    TokenInvalid,
    #[error("Too many attempts. Wait a minute and try again.")]
    RateLimited,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 13] = [
        AuthFailure::InvalidCredentials,
        AuthFailure::EmailNotVerified,
        AuthFailure::AccountDisabled,
        AuthFailure::EmailTaken,
        AuthFailure::EmailMalformed,
        AuthFailure::EmailTooLong,
        AuthFailure::PasswordTooShort,
        AuthFailure::PasswordTooLong,
        AuthFailure::PasswordTooRepetitive,
        AuthFailure::PasswordContainsEmail,
        AuthFailure::NameInvalid,
        AuthFailure::TokenInvalid,
        AuthFailure::RateLimited,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuthFailure::InvalidCredentials => "invalid_credentials",
            AuthFailure::EmailNotVerified => "email_not_verified",
            AuthFailure::AccountDisabled => "account_disabled",
            AuthFailure::EmailTaken => "email_taken",
            AuthFailure::EmailMalformed => "email_malformed",
            AuthFailure::EmailTooLong => "email_too_long",
            AuthFailure::PasswordTooShort => "password_too_short",
            AuthFailure::PasswordTooLong => "password_too_long",
            AuthFailure::PasswordTooRepetitive => "password_too_repetitive",
            AuthFailure::PasswordContainsEmail => "password_contains_email",
            AuthFailure::NameInvalid => "name_invalid",
            AuthFailure::TokenInvalid => "token_invalid",
            AuthFailure::RateLimited => "rate_limited",
        }
    }

    pub fn from_code(code: &str) -> Option<AuthFailure> {
        AuthFailure::ALL.into_iter().find(|f| f.code() == code)
    }
}

impl From<PasswordError> for AuthFailure {
    fn from(err: PasswordError) -> Self {
        match err {
            PasswordError::TooShort => AuthFailure::PasswordTooShort,
            PasswordError::TooLong => AuthFailure::PasswordTooLong,
            PasswordError::TooRepetitive => AuthFailure::PasswordTooRepetitive,
            PasswordError::ContainsEmail => AuthFailure::PasswordContainsEmail,
        }
    }
}

impl From<EmailError> for AuthFailure {
    fn from(err: EmailError) -> Self {
        match err {
            EmailError::Malformed => AuthFailure::EmailMalformed,
            EmailError::TooLong => AuthFailure::EmailTooLong,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert!(!Role::Editor.allows(Role::Admin));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn password_rules_explain_themselves() {
        let email = "grace@example.com";
        assert_eq!(check_password("short", email), Err(PasswordError::TooShort));
        assert_eq!(
            check_password("aaaaaaaaaaaaaaaa", email),
            Err(PasswordError::TooRepetitive)
        );
        assert_eq!(
            check_password("my-grace-password", email),
            Err(PasswordError::ContainsEmail)
        );
        assert_eq!(
            check_password(&"ab1!x".repeat(300), email),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            check_password("correct horse battery staple", email),
            Ok(())
        );
        assert_eq!(
            PasswordError::TooShort.to_string(),
            "use at least 12 characters"
        );
    }

    #[test]
    fn a_long_unicode_passphrase_counts_characters_not_bytes() {
        // 12 characters, 36 bytes.
        assert_eq!(
            check_password("日本語のパスワード長いです", "a@b.co"),
            Ok(())
        );
        assert_eq!(
            check_password("日本語のパスワード", "a@b.co"),
            Err(PasswordError::TooShort)
        );
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Grace@Example.COM ").unwrap(),
            "grace@example.com"
        );
        for bad in [
            "",
            "grace",
            "grace@",
            "@example.com",
            "grace@example",
            "a b@example.com",
            "grace@exa mple.com",
            "grace@.example.com",
            "grace@example..com",
            "<script>@example.com",
            "a@b@example.com",
        ] {
            assert_eq!(normalize_email(bad), Err(EmailError::Malformed), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(normalize_email(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn failure_codes_round_trip_and_unknown_codes_are_ignored() {
        for failure in AuthFailure::ALL {
            assert_eq!(AuthFailure::from_code(failure.code()), Some(failure));
        }
        assert_eq!(AuthFailure::from_code("<script>"), None);
        assert_eq!(
            AuthFailure::from(PasswordError::TooShort).to_string(),
            "Use at least 12 characters for your password."
        );
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            check_display_name("  Grace Hopper ").unwrap(),
            "Grace Hopper"
        );
        assert_eq!(check_display_name("   "), Err(AuthFailure::NameInvalid));
        assert_eq!(check_display_name("a\nb"), Err(AuthFailure::NameInvalid));
        assert_eq!(
            check_display_name(&"é".repeat(100)).unwrap(),
            "é".repeat(100)
        );
        assert_eq!(
            check_display_name(&"é".repeat(101)),
            Err(AuthFailure::NameInvalid)
        );
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(input in "[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9-]{1,10}\\.[a-z]{2,4}") {
            let once = normalize_email(&input).unwrap();
            prop_assert_eq!(normalize_email(&once).unwrap(), once.clone());
        }

        #[test]
        fn password_checks_never_panic(password in ".{0,80}", email in ".{0,40}") {
            let _ = check_password(&password, &email);
        }
    }
}
