//! What the admin pages show: users and the mail outbox.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
    pub disabled: bool,
    /// RFC 3339 on the wire (the JSON API returns this type too).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    /// Empty once delivered (links in mail are the recipient's secret).
    pub body: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    /// True when no SMTP server is configured, so mail waits here.
    pub holds_mail: bool,
    pub mails: Vec<OutboxMail>,
}

/// A mail body with the secret of every mailed link (`token=…`) replaced, for showing mail
/// addressed to someone else in /admin/outbox: an admin may see that a reset link went out,
/// not use it to take over the account.
pub fn mask_link_tokens(body: &str) -> String {
    const MARK: &str = "token=";
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        rest = &rest[at + MARK.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '%'))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str("(hidden)");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_are_masked_and_the_rest_kept() {
        let body = "Open http://h/reset-password?token=AbC-123_xyz\n\nor http://h/verify-email?token=q%2B1 now; token= alone";
        let masked = mask_link_tokens(body);
        assert_eq!(
            masked,
            "Open http://h/reset-password?token=(hidden)\n\nor http://h/verify-email?token=(hidden) now; token= alone"
        );
        assert!(!masked.contains("AbC-123"));
        assert_eq!(mask_link_tokens("no links"), "no links");
    }
}
