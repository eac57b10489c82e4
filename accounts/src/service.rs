//! The account flows. Each takes the request's tenant; nothing here knows about HTTP.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrotape_model::account::{check_display_name, check_password, normalize_email};
use ferrotape_model::{AuthFailure, Role, TenantId};
use ferrotape_store::accounts::{self as repo, EmailTokenPurpose, NewUser, UserRecord};
use ferrotape_store::{PgPool, StoreError, mail};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

use crate::limits::{Attempt, RateLimits};
use crate::mailer::{Mailer, MailerError};
use crate::media_urls::MediaUrlSigner;
use crate::stream_keys::StreamKeys;
use crate::tokens::{self, AccessClaims, AccessTokenKeys};
use crate::{AccountError, password};

/// A refresh token presented again within this window after it was rotated is the same
/// browser racing itself (two tabs, parallel requests), not a thief: it is honoured once more
/// without issuing new tokens. Later reuse revokes the whole login.
const ROTATION_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Lifetime of mailed verification and reset links.
    pub email_link_ttl: Duration,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Overrides the key stored in the database (all replicas must then share it).
    pub jwt_secret: Option<String>,
    pub site_name: String,
    /// Whether mail held for want of SMTP is written to the log with its body (links and
    /// all). Only the embedded default does, where the log is the newcomer's only inbox; a
    /// shared log must never carry reset links.
    pub log_held_mail: bool,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            access_ttl: Duration::from_secs(10 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            email_link_ttl: Duration::from_secs(60 * 60),
            smtp_url: None,
            mail_from: "Ferrotape <no-reply@localhost>".into(),
            jwt_secret: None,
            site_name: "Ferrotape".into(),
            log_held_mail: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Mailer(#[from] MailerError),
    #[error("FERROTAPE_JWT_SECRET must be at least 32 bytes")]
    ShortSecret,
    #[error("cannot load the token-signing key: {0}")]
    Store(#[from] StoreError),
}

/// Where a request came from: its IP (for rate limits) and the origin links in mails point
/// to (`https://talks.example.org`).
#[derive(Debug, Clone)]
pub struct ClientContext {
    pub ip: IpAddr,
    pub origin: String,
}

/// A fresh pair of tokens for the cookies.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub claims: AccessClaims,
    pub access_token: String,
    pub refresh_token: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    Rotated(IssuedSession),
    /// Rotated moments ago by a concurrent request of the same browser; the request is
    /// authenticated but keeps the cookies the other response sets.
    RecentlyRotated(AccessClaims),
    /// A further request racing the rotation after the grace was spent: served anonymously,
    /// with the cookies left alone (the rotating response sets them).
    RaceLost,
}

#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    keys: AccessTokenKeys,
    media_urls: MediaUrlSigner,
    stream_keys: StreamKeys,
    mailer: Arc<Mailer>,
    limits: RateLimits,
    config: AccountsConfig,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl Accounts {
    pub async fn new(pool: PgPool, config: AccountsConfig) -> Result<Accounts, SetupError> {
        let mailer = Mailer::new(config.smtp_url.as_deref(), &config.mail_from)?;
        let secret = match config.jwt_secret.as_deref().filter(|s| !s.is_empty()) {
            Some(secret) if secret.len() < 32 => return Err(SetupError::ShortSecret),
            Some(secret) => secret.as_bytes().to_vec(),
            None => repo::signing_key(&pool, &tokens::random_bytes::<64>()).await?,
        };
        Ok(Accounts {
            inner: Arc::new(Inner {
                pool,
                keys: AccessTokenKeys::new(&secret),
                media_urls: MediaUrlSigner::from_secret(&secret),
                stream_keys: StreamKeys::from_secret(&secret),
                mailer: Arc::new(mailer),
                limits: RateLimits::default(),
                config,
            }),
        })
    }

    /// Signs and checks preview URLs of non-public media (key derived from the token key).
    pub fn media_urls(&self) -> &MediaUrlSigner {
        &self.inner.media_urls
    }

    /// Derives live streams' keys (from the token key, as the media URL signer is).
    pub fn stream_keys(&self) -> &StreamKeys {
        &self.inner.stream_keys
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// True when no SMTP server is configured and mail waits in /admin/outbox (and the log).
    pub fn holds_mail(&self) -> bool {
        self.inner.mailer.holds_mail()
    }

    /// Mail delivery and rate-limit housekeeping, until `shutdown` turns true.
    pub async fn run_background(self, shutdown: watch::Receiver<bool>) {
        let deliver = self
            .inner
            .mailer
            .clone()
            .run(self.inner.pool.clone(), shutdown.clone());
        let mut stop = shutdown;
        let housekeeping = async {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => self.inner.limits.forget_idle_keys(),
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        };
        tokio::join!(deliver, housekeeping);
    }

    /// Delivers waiting mail now (tests use it instead of waiting for the loop).
    pub async fn deliver_mail_now(&self) -> Result<usize, StoreError> {
        self.inner.mailer.deliver_pending(&self.inner.pool).await
    }

    fn rate_limit(
        &self,
        attempt: Attempt,
        ip: IpAddr,
        account: Option<&str>,
    ) -> Result<(), AccountError> {
        self.inner
            .limits
            .check(attempt, ip, account)
            .map_err(|retry_after| {
                tracing::warn!(?attempt, %ip, "rate limited");
                AccountError::RateLimited { retry_after }
            })
    }

    // --- Sign-up and email verification ------------------------------------------------------

    /// Creates an account and mails a confirmation link. The first account of a fresh install
    /// (the default tenant has no user yet) becomes its admin; everyone else starts as viewer.
    pub async fn sign_up(
        &self,
        tenant: TenantId,
        client: &ClientContext,
        email: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Role, AccountError> {
        self.rate_limit(Attempt::SignUp, client.ip, None)?;
        let account = NewAccount::check(email, display_name, password).await?;

        let mut tx = self.inner.pool.begin().await?;
        let first =
            tenant == TenantId::DEFAULT && repo::lock_and_check_first_user(&mut tx, tenant).await?;
        let role = if first { Role::Admin } else { Role::Viewer };
        let user = match account.insert(&mut tx, tenant, role, false).await {
            Ok(user) => user,
            Err(AccountError::Failure(AuthFailure::EmailTaken)) => {
                // The answer must not tell a stranger the address has an account: the same
                // answer as a new sign-up, and the owner learns of the attempt by mail.
                drop(tx);
                self.mail_existing_owner(tenant, client, &account.email)
                    .await?;
                return Ok(Role::Viewer);
            }
            Err(err) => return Err(err),
        };
        self.inner.limits.may_mail(&user.email);
        self.queue_verification_mail(&mut tx, &user, &client.origin)
            .await?;
        tx.commit().await?;
        self.inner.mailer.wake();
        tracing::info!(user = %user.id, %tenant, %role, "account created");
        Ok(role)
    }

    /// Tells the owner of an address that someone tried to sign up with it, and how to get
    /// back in (at most as often as any other mail to that address).
    async fn mail_existing_owner(
        &self,
        tenant: TenantId,
        client: &ClientContext,
        email: &str,
    ) -> Result<(), AccountError> {
        let Some(user) = repo::find_user_by_email(&self.inner.pool, tenant, email).await? else {
            return Ok(());
        };
        if !self.inner.limits.may_mail(&user.email) {
            return Ok(());
        }
        let site = &self.inner.config.site_name;
        let body = format!(
            "Hello {name},\n\n\
             someone tried to create a {site} account with this address, which already has one.\n\
             If it was you, log in at {origin}/login, or choose a new password at\n\
             {origin}/forgot-password. If it was not you, ignore this mail: nothing changed.\n",
            name = user.display_name,
            origin = client.origin,
        );
        let mut tx = self.inner.pool.begin().await?;
        self.queue_mail(
            &mut tx,
            &user,
            &format!("You already have a {site} account"),
            &body,
        )
        .await?;
        tx.commit().await?;
        self.inner.mailer.wake();
        tracing::info!(user = %user.id, "sign-up with a registered address; the owner was mailed");
        Ok(())
    }

    async fn queue_verification_mail(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        user: &UserRecord,
        origin: &str,
    ) -> Result<(), AccountError> {
        let token = self
            .new_email_token(tx, user, EmailTokenPurpose::VerifyEmail)
            .await?;
        let site = &self.inner.config.site_name;
        let body = format!(
            "Hello {name},\n\n\
             confirm your email address for {site} by opening this link:\n\n\
             {origin}/verify-email?token={token}\n\n\
             The link works once, within {minutes} minutes. If you did not sign up, ignore this mail.\n",
            name = user.display_name,
            minutes = self.inner.config.email_link_ttl.as_secs() / 60,
        );
        self.queue_mail(
            tx,
            user,
            &format!("Confirm your email address for {site}"),
            &body,
        )
        .await
    }

    async fn new_email_token(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        user: &UserRecord,
        purpose: EmailTokenPurpose,
    ) -> Result<String, AccountError> {
        let token = tokens::random_token();
        repo::insert_email_token(
            &mut **tx,
            user.tenant,
            user.id,
            purpose,
            &tokens::token_hash(&token),
            now() + self.inner.config.email_link_ttl,
        )
        .await?;
        Ok(token)
    }

    async fn queue_mail(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        user: &UserRecord,
        subject: &str,
        body: &str,
    ) -> Result<(), AccountError> {
        let id = mail::enqueue(&mut **tx, user.tenant, &user.email, subject, body).await?;
        if self.holds_mail() {
            if self.inner.config.log_held_mail {
                // Embedded default: the log and /admin/outbox are how a newcomer gets the link.
                tracing::info!(mail = %id, to = %user.email, subject, "no SMTP server configured; mail kept in the outbox:\n{body}");
            } else {
                tracing::info!(mail = %id, subject, "no SMTP server configured; mail kept in the outbox (read it at /admin/outbox)");
            }
        }
        Ok(())
    }

    /// Confirms the address behind a mailed link. The link works once.
    pub async fn verify_email(&self, tenant: TenantId, token: &str) -> Result<(), AccountError> {
        let mut tx = self.inner.pool.begin().await?;
        let user_id =
            use_mailed_link(&mut tx, tenant, EmailTokenPurpose::VerifyEmail, token).await?;
        repo::mark_email_verified(&mut *tx, tenant, user_id).await?;
        tx.commit().await?;
        tracing::info!(user = %user_id, "email address confirmed");
        Ok(())
    }

    // --- Sessions ------------------------------------------------------------------------

    /// Checks the password and starts a login. Unknown emails and wrong passwords get the
    /// same answer in about the same time.
    pub async fn log_in(
        &self,
        tenant: TenantId,
        client: &ClientContext,
        email: &str,
        password: &str,
    ) -> Result<IssuedSession, AccountError> {
        let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        self.rate_limit(Attempt::LogIn, client.ip, None)?;
        let limits = &self.inner.limits;
        let account = format!("{tenant}/{email}");
        limits
            .login_backoff(&account, client.ip)
            .map_err(|retry_after| {
                tracing::warn!(ip = %client.ip, "login delayed after failed attempts");
                AccountError::RateLimited { retry_after }
            })?;
        let user = repo::find_user_by_email(&self.inner.pool, tenant, &email).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let password_ok = password.len() <= ferrotape_model::account::MAX_PASSWORD_BYTES
            && password::verify(password.to_owned(), stored).await;
        let user = match user {
            Some(user) if password_ok => user,
            _ => {
                limits.login_failed(&account, client.ip);
                return Err(AuthFailure::InvalidCredentials.into());
            }
        };
        limits.login_succeeded(&account, client.ip);
        if user.disabled_at.is_some() {
            return Err(AuthFailure::AccountDisabled.into());
        }
        if user.email_verified_at.is_none() {
            if self.inner.limits.may_mail(&user.email) {
                let mut tx = self.inner.pool.begin().await?;
                self.queue_verification_mail(&mut tx, &user, &client.origin)
                    .await?;
                tx.commit().await?;
                self.inner.mailer.wake();
            }
            return Err(AuthFailure::EmailNotVerified.into());
        }
        let session = self
            .issue_session(&self.inner.pool, &user, Uuid::new_v4())
            .await?;
        tracing::info!(user = %user.id, session = %session.claims.sid, "logged in");
        Ok(session)
    }

    async fn issue_session<'e>(
        &self,
        db: impl sqlx::PgExecutor<'e>,
        user: &UserRecord,
        family: Uuid,
    ) -> Result<IssuedSession, AccountError> {
        let refresh_token = tokens::random_token();
        repo::insert_refresh_token(
            db,
            user.tenant,
            user.id,
            family,
            &tokens::token_hash(&refresh_token),
            now() + self.inner.config.refresh_ttl,
        )
        .await?;
        let claims = self.claims_for(user, family);
        Ok(IssuedSession {
            access_token: self.inner.keys.sign(&claims),
            claims,
            refresh_token,
            access_ttl: self.inner.config.access_ttl,
            refresh_ttl: self.inner.config.refresh_ttl,
        })
    }

    fn claims_for(&self, user: &UserRecord, family: Uuid) -> AccessClaims {
        let issued = now();
        AccessClaims {
            sub: user.id,
            tid: user.tenant.0,
            sid: family,
            role: user.role,
            email: user.email.clone(),
            name: user.display_name.clone(),
            iat: issued.unix_timestamp(),
            exp: (issued + self.inner.config.access_ttl).unix_timestamp(),
        }
    }

    /// The claims of a valid access token issued for this tenant, checked against the login
    /// it belongs to: a logged-out or revoked login, a disabled user or a changed role end the
    /// token at once, not when it expires. (One indexed query per authenticated request; a
    /// changed role answers `None`, so the caller's refresh issues claims with the new role.)
    pub async fn authenticate(
        &self,
        tenant: TenantId,
        access_token: &str,
    ) -> Result<Option<AccessClaims>, AccountError> {
        let Some(claims) = self
            .inner
            .keys
            .verify(access_token)
            .filter(|claims| claims.tenant() == tenant)
        else {
            return Ok(None);
        };
        let state = repo::login_state(&self.inner.pool, tenant, claims.sub, claims.sid).await?;
        Ok(state
            .filter(|state| state.live && state.role == claims.role)
            .map(|_| claims))
    }

    /// Exchanges a refresh token for a new pair (rotation): the successor is stored in the
    /// transaction that retires the token. Within the grace window a rotated token serves one
    /// racing request of the same browser; used again after it, the whole login is revoked.
    pub async fn refresh(
        &self,
        tenant: TenantId,
        refresh_token: &str,
    ) -> Result<RefreshOutcome, AccountError> {
        if !tokens::looks_like_token(refresh_token) {
            return Err(AccountError::Unauthenticated);
        }
        let mut tx = self.inner.pool.begin().await?;
        let Some(token) =
            repo::lock_refresh_token(&mut tx, tenant, &tokens::token_hash(refresh_token)).await?
        else {
            return Err(AccountError::Unauthenticated);
        };
        if token.revoked_at.is_some() || token.expires_at <= now() {
            return Err(AccountError::Unauthenticated);
        }
        let user = repo::find_user(&mut *tx, tenant, token.user_id).await?;
        if user.disabled_at.is_some() {
            repo::revoke_refresh_family(&mut *tx, tenant, token.family_id).await?;
            tx.commit().await?;
            return Err(AccountError::Unauthenticated);
        }
        if let Some(rotated_at) = token.rotated_at {
            if now() - rotated_at < ROTATION_GRACE {
                let served = repo::use_rotation_grace(&mut tx, token.id).await?;
                tx.commit().await?;
                return Ok(if served {
                    RefreshOutcome::RecentlyRotated(self.claims_for(&user, token.family_id))
                } else {
                    RefreshOutcome::RaceLost
                });
            }
            let revoked = repo::revoke_refresh_family(&mut *tx, tenant, token.family_id).await?;
            tx.commit().await?;
            tracing::warn!(user = %user.id, session = %token.family_id, revoked, "a rotated refresh token was used again; the login is revoked");
            return Err(AccountError::Unauthenticated);
        }
        repo::mark_refresh_token_rotated(&mut tx, token.id).await?;
        let session = self.issue_session(&mut *tx, &user, token.family_id).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated(session))
    }

    /// Ends the login the refresh token belongs to (all its rotations).
    pub async fn log_out(&self, tenant: TenantId, refresh_token: &str) -> Result<(), AccountError> {
        if !tokens::looks_like_token(refresh_token) {
            return Ok(());
        }
        let mut tx = self.inner.pool.begin().await?;
        if let Some(token) =
            repo::lock_refresh_token(&mut tx, tenant, &tokens::token_hash(refresh_token)).await?
        {
            repo::revoke_refresh_family(&mut *tx, tenant, token.family_id).await?;
            tracing::info!(user = %token.user_id, session = %token.family_id, "logged out");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every login of the user, on every device.
    pub async fn log_out_everywhere(
        &self,
        tenant: TenantId,
        user_id: Uuid,
    ) -> Result<u64, AccountError> {
        let revoked = repo::revoke_user_refresh_tokens(&self.inner.pool, tenant, user_id).await?;
        tracing::info!(user = %user_id, revoked, "logged out everywhere");
        Ok(revoked)
    }

    // --- Password reset ------------------------------------------------------------------

    /// Mails a reset link if the address has an account. The answer is the same either way.
    pub async fn request_password_reset(
        &self,
        tenant: TenantId,
        client: &ClientContext,
        email: &str,
    ) -> Result<(), AccountError> {
        let email = normalize_email(email).map_err(AuthFailure::from)?;
        self.rate_limit(Attempt::PasswordReset, client.ip, Some(&email))?;
        let Some(user) = repo::find_user_by_email(&self.inner.pool, tenant, &email).await? else {
            return Ok(());
        };
        if user.disabled_at.is_some() || !self.inner.limits.may_mail(&email) {
            return Ok(());
        }
        let mut tx = self.inner.pool.begin().await?;
        let token = self
            .new_email_token(&mut tx, &user, EmailTokenPurpose::ResetPassword)
            .await?;
        let site = &self.inner.config.site_name;
        let body = format!(
            "Hello {name},\n\n\
             someone (hopefully you) asked to reset the password of your {site} account.\n\
             Choose a new password here:\n\n\
             {origin}/reset-password?token={token}\n\n\
             The link works once, within {minutes} minutes. If you did not ask, ignore this mail:\n\
             your password stays as it is.\n",
            name = user.display_name,
            origin = client.origin,
            minutes = self.inner.config.email_link_ttl.as_secs() / 60,
        );
        self.queue_mail(
            &mut tx,
            &user,
            &format!("Reset your {site} password"),
            &body,
        )
        .await?;
        tx.commit().await?;
        self.inner.mailer.wake();
        Ok(())
    }

    /// Sets a new password with a mailed link. The link is spent only when the new password
    /// is accepted; every login of the account is ended (a reset usually means "someone else
    /// may know my password").
    pub async fn reset_password(
        &self,
        tenant: TenantId,
        client: &ClientContext,
        token: &str,
        new_password: &str,
    ) -> Result<(), AccountError> {
        self.rate_limit(Attempt::PasswordReset, client.ip, None)?;
        let mut tx = self.inner.pool.begin().await?;
        let user_id =
            use_mailed_link(&mut tx, tenant, EmailTokenPurpose::ResetPassword, token).await?;
        let user = repo::find_user(&mut *tx, tenant, user_id).await?;
        // On a rule violation the transaction rolls back and the link stays usable.
        check_password(new_password, &user.email).map_err(AuthFailure::from)?;
        let hash = password::hash(new_password.to_owned()).await;
        repo::set_password_hash(&mut *tx, tenant, user_id, &hash).await?;
        repo::mark_email_verified(&mut *tx, tenant, user_id).await?;
        repo::expire_email_tokens(&mut *tx, tenant, user_id, EmailTokenPurpose::ResetPassword)
            .await?;
        repo::revoke_user_refresh_tokens(&mut *tx, tenant, user_id).await?;
        tx.commit().await?;
        tracing::info!(user = %user_id, "password reset; every login ended");
        Ok(())
    }

    // --- Authorization and administration ------------------------------------------------

    /// The current user, re-read from the database, if they hold at least `role`. Privileged
    /// actions call this, so a disabled user or a lowered role takes effect at once, not when
    /// the access token expires.
    pub async fn require_role(
        &self,
        tenant: TenantId,
        claims: Option<&AccessClaims>,
        role: Role,
    ) -> Result<UserRecord, AccountError> {
        let claims = claims
            .filter(|c| c.tenant() == tenant)
            .ok_or(AccountError::Unauthenticated)?;
        let user = match repo::find_user(&self.inner.pool, tenant, claims.sub).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(AccountError::Unauthenticated),
            Err(err) => return Err(err.into()),
        };
        if user.disabled_at.is_some() {
            return Err(AccountError::Unauthenticated);
        }
        if !user.role.allows(role) {
            return Err(AccountError::Forbidden(format!(
                "this needs the {role} role; ask an admin of this site"
            )));
        }
        Ok(user)
    }

    /// Creates a confirmed account directly (`ferrotape admin create-user`, tests).
    pub async fn create_user(
        &self,
        tenant: TenantId,
        email: &str,
        display_name: &str,
        password: &str,
        role: Role,
    ) -> Result<UserRecord, AccountError> {
        let account = NewAccount::check(email, display_name, password).await?;
        let mut tx = self.inner.pool.begin().await?;
        let user = account.insert(&mut tx, tenant, role, true).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// An admin changes a user's role. The last enabled admin keeps theirs.
    pub async fn change_role(
        &self,
        tenant: TenantId,
        user_id: Uuid,
        role: Role,
    ) -> Result<(), AccountError> {
        let mut tx = self.inner.pool.begin().await?;
        repo::lock_and_check_first_user(&mut tx, tenant).await?;
        let user = repo::find_user(&mut *tx, tenant, user_id).await?;
        if user.role == Role::Admin
            && role != Role::Admin
            && user.disabled_at.is_none()
            && repo::count_active_admins(&mut *tx, tenant).await? <= 1
        {
            return Err(AccountError::Forbidden(
                "the last admin cannot be demoted: make someone else admin first".into(),
            ));
        }
        repo::set_role(&mut *tx, tenant, user_id, role).await?;
        tx.commit().await?;
        tracing::info!(user = %user_id, %role, "role changed");
        Ok(())
    }

    /// An admin disables (or re-enables) a user. Disabling ends every login at once.
    pub async fn set_disabled(
        &self,
        tenant: TenantId,
        actor: Uuid,
        user_id: Uuid,
        disabled: bool,
    ) -> Result<(), AccountError> {
        if disabled && actor == user_id {
            return Err(AccountError::Forbidden(
                "you cannot disable your own account".into(),
            ));
        }
        let mut tx = self.inner.pool.begin().await?;
        repo::lock_and_check_first_user(&mut tx, tenant).await?;
        let user = repo::find_user(&mut *tx, tenant, user_id).await?;
        if disabled
            && user.role == Role::Admin
            && user.disabled_at.is_none()
            && repo::count_active_admins(&mut *tx, tenant).await? <= 1
        {
            return Err(AccountError::Forbidden(
                "the last admin cannot be disabled".into(),
            ));
        }
        repo::set_disabled(&mut *tx, tenant, user_id, disabled).await?;
        if disabled {
            repo::revoke_user_refresh_tokens(&mut *tx, tenant, user_id).await?;
        }
        tx.commit().await?;
        tracing::info!(user = %user_id, disabled, "user access changed");
        Ok(())
    }
}

/// Spends a mailed link's token inside `tx` and returns its user; anything that is not an
/// unused, unexpired token of this tenant and purpose is `TokenInvalid`.
async fn use_mailed_link(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: TenantId,
    purpose: EmailTokenPurpose,
    token: &str,
) -> Result<Uuid, AccountError> {
    if !tokens::looks_like_token(token) {
        return Err(AuthFailure::TokenInvalid.into());
    }
    repo::consume_email_token(tx, tenant, purpose, &tokens::token_hash(token))
        .await?
        .ok_or(AccountError::Failure(AuthFailure::TokenInvalid))
}

/// Sign-up input that passed the rules, with the password already hashed.
struct NewAccount {
    email: String,
    display_name: String,
    password_hash: String,
}

impl NewAccount {
    async fn check(
        email: &str,
        display_name: &str,
        password: &str,
    ) -> Result<NewAccount, AccountError> {
        let email = normalize_email(email).map_err(AuthFailure::from)?;
        let display_name = check_display_name(display_name)?;
        check_password(password, &email).map_err(AuthFailure::from)?;
        Ok(NewAccount {
            password_hash: password::hash(password.to_owned()).await,
            email,
            display_name,
        })
    }

    /// A taken email is `EmailTaken`, a message users can act on.
    async fn insert(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        tenant: TenantId,
        role: Role,
        email_verified: bool,
    ) -> Result<UserRecord, AccountError> {
        repo::create_user(
            tx,
            tenant,
            &NewUser {
                email: &self.email,
                display_name: &self.display_name,
                password_hash: &self.password_hash,
                role,
                email_verified,
            },
        )
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => AccountError::Failure(AuthFailure::EmailTaken),
            other => other.into(),
        })
    }
}
