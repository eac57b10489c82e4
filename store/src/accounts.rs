//! Users, refresh-token sessions, single-use email tokens and the token-signing key.
//! Every function takes the tenant and scopes its query to it; a row of another tenant is
//! simply not found.

use ferrotape_model::{Role, TenantId};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub tenant: TenantId,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub email_verified_at: Option<OffsetDateTime>,
    pub disabled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl UserRecord {
    /// What admins see of the user.
    pub fn summary(&self) -> ferrotape_model::admin::UserSummary {
        ferrotape_model::admin::UserSummary {
            id: self.id,
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            email_verified: self.email_verified_at.is_some(),
            disabled: self.disabled_at.is_some(),
            created_at: self.created_at,
        }
    }

    /// What the UI shows of the user.
    pub fn session_user(&self) -> ferrotape_model::SessionUser {
        ferrotape_model::SessionUser {
            id: self.id,
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
        }
    }
}

struct UserRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    display_name: String,
    password_hash: String,
    role: String,
    email_verified_at: Option<OffsetDateTime>,
    disabled_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
}

impl From<UserRow> for UserRecord {
    fn from(row: UserRow) -> Self {
        UserRecord {
            id: row.id,
            tenant: TenantId(row.tenant_id),
            email: row.email,
            display_name: row.display_name,
            password_hash: row.password_hash,
            // The enum type has exactly model::Role's names.
            role: Role::parse(&row.role).unwrap_or(Role::Viewer),
            email_verified_at: row.email_verified_at,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub email_verified: bool,
}

/// Creates a user. A duplicate email in the tenant is `Conflict`.
pub async fn create_user(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    user: &NewUser<'_>,
) -> Result<UserRecord, StoreError> {
    let row = sqlx::query_as!(
        UserRow,
        r#"INSERT INTO users (tenant_id, email, display_name, password_hash, role, email_verified_at)
           VALUES ($1, $2, $3, $4, ($5::text)::user_role, CASE WHEN $6 THEN now() END)
           RETURNING id, tenant_id, email, display_name, password_hash, role::text AS "role!",
                     email_verified_at, disabled_at, created_at"#,
        tenant.0,
        user.email,
        user.display_name,
        user.password_hash,
        user.role.as_str(),
        user.email_verified,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, "an account with this email address"))?;
    Ok(row.into())
}

/// Serialises sign-ups of one tenant for the rest of the transaction, then tells whether it
/// has no user yet (the first user of a fresh install becomes its admin).
pub async fn lock_and_check_first_user(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
) -> Result<bool, StoreError> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('ferrotape.first-user.' || $1::text, 0))",
        tenant.0.to_string(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar!(
        r#"SELECT NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1) AS "first!""#,
        tenant.0,
    )
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn find_user_by_email<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    email: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id, tenant_id, email, display_name, password_hash, role::text AS "role!",
                  email_verified_at, disabled_at, created_at
           FROM users WHERE tenant_id = $1 AND email = $2"#,
        tenant.0,
        email,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

pub async fn find_user<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
) -> Result<UserRecord, StoreError> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id, tenant_id, email, display_name, password_hash, role::text AS "role!",
                  email_verified_at, disabled_at, created_at
           FROM users WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        id,
    )
    .fetch_optional(db)
    .await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// The tenant's users, oldest first (admins page through with `offset`).
pub async fn list_users(
    pool: &PgPool,
    tenant: TenantId,
    limit: i64,
    offset: i64,
) -> Result<Vec<UserRecord>, StoreError> {
    let rows = sqlx::query_as!(
        UserRow,
        r#"SELECT id, tenant_id, email, display_name, password_hash, role::text AS "role!",
                  email_verified_at, disabled_at, created_at
           FROM users WHERE tenant_id = $1
           ORDER BY created_at, id LIMIT $2 OFFSET $3"#,
        tenant.0,
        limit.clamp(1, 500),
        offset.max(0),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// How many enabled admins the tenant has (the last one cannot be demoted or disabled).
pub async fn count_active_admins<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM users
           WHERE tenant_id = $1 AND role = 'admin' AND disabled_at IS NULL"#,
        tenant.0,
    )
    .fetch_one(db)
    .await?)
}

pub async fn set_role<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
    role: Role,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET role = ($3::text)::user_role WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
        role.as_str(),
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

pub async fn set_disabled<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
    disabled: bool,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) END
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
        disabled,
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

pub async fn set_password_hash<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
    password_hash: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
        password_hash,
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

pub async fn mark_email_verified<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

// --- Refresh tokens ------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

pub async fn insert_refresh_token<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        tenant.0,
        user_id,
        family_id,
        token_hash,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The token with this hash in this tenant, locked for the rest of the transaction so two
/// requests cannot rotate it at once.
pub async fn lock_refresh_token(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    token_hash: &[u8],
) -> Result<Option<RefreshTokenRecord>, StoreError> {
    Ok(sqlx::query_as!(
        RefreshTokenRecord,
        "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at
         FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2
         FOR UPDATE",
        tenant.0,
        token_hash,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn mark_refresh_token_rotated(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1",
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Spends the one racing request a rotated token may serve within the grace window; false
/// when another request already spent it.
pub async fn use_rotation_grace(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query!(
        "UPDATE refresh_tokens SET grace_used_at = now() WHERE id = $1 AND grace_used_at IS NULL",
        id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// What an access token's claims are checked against on every request: the user's current
/// role, and whether the login (token family) is still live and the user enabled. `None`
/// when the user is gone.
#[derive(Debug, Clone, Copy)]
pub struct LoginState {
    pub role: Role,
    pub live: bool,
}

pub async fn login_state<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    user_id: Uuid,
    family_id: Uuid,
) -> Result<Option<LoginState>, StoreError> {
    let row = sqlx::query!(
        r#"SELECT u.role::text AS "role!",
                  (u.disabled_at IS NULL AND EXISTS (
                      SELECT 1 FROM refresh_tokens t
                      WHERE t.family_id = $3 AND t.revoked_at IS NULL
                        AND t.tenant_id = u.tenant_id AND t.user_id = u.id
                        AND t.expires_at > now())) AS "live!"
           FROM users u WHERE u.tenant_id = $1 AND u.id = $2"#,
        tenant.0,
        user_id,
        family_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| LoginState {
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        live: row.live,
    }))
}

/// Revokes every token of a login (logout, or a stolen token replayed after rotation).
pub async fn revoke_refresh_family<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    family_id: Uuid,
) -> Result<u64, StoreError> {
    Ok(sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
        tenant.0,
        family_id,
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Revokes every session of a user ("log out everywhere", password reset, disabling).
pub async fn revoke_user_refresh_tokens<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    user_id: Uuid,
) -> Result<u64, StoreError> {
    Ok(sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        tenant.0,
        user_id,
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Active sessions of a user (not revoked, not rotated, not expired).
pub async fn count_active_sessions<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    user_id: Uuid,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM refresh_tokens
           WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL
             AND rotated_at IS NULL AND expires_at > now()"#,
        tenant.0,
        user_id,
    )
    .fetch_one(db)
    .await?)
}

// --- Email tokens --------------------------------------------------------------------------

/// What a mailed link is for; the SQL enum `email_token_purpose` has the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl EmailTokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailTokenPurpose::VerifyEmail => "verify_email",
            EmailTokenPurpose::ResetPassword => "reset_password",
        }
    }
}

pub async fn insert_email_token<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    user_id: Uuid,
    purpose: EmailTokenPurpose,
    token_hash: &[u8],
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO email_tokens (tenant_id, user_id, purpose, token_hash, expires_at)
         VALUES ($1, $2, ($3::text)::email_token_purpose, $4, $5)",
        tenant.0,
        user_id,
        purpose.as_str(),
        token_hash,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Uses the token if it exists in this tenant for this purpose, is unused and unexpired, and
/// returns its user. One statement, so a token can never be used twice.
pub async fn consume_email_token(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    purpose: EmailTokenPurpose,
    token_hash: &[u8],
) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "UPDATE email_tokens SET used_at = now()
         WHERE tenant_id = $1 AND purpose = ($2::text)::email_token_purpose AND token_hash = $3
           AND used_at IS NULL AND expires_at > now()
         RETURNING user_id",
        tenant.0,
        purpose.as_str(),
        token_hash,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Makes every other outstanding link of this purpose useless (after a reset succeeds).
pub async fn expire_email_tokens<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    user_id: Uuid,
    purpose: EmailTokenPurpose,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE email_tokens SET used_at = now()
         WHERE tenant_id = $1 AND user_id = $2 AND purpose = ($3::text)::email_token_purpose
           AND used_at IS NULL",
        tenant.0,
        user_id,
        purpose.as_str(),
    )
    .execute(db)
    .await?;
    Ok(())
}

// --- Signing key ---------------------------------------------------------------------------

/// The installation's access-token key: `candidate` is stored if none exists yet, and the
/// stored key is returned either way, so every replica ends up with the same one.
pub async fn signing_key(pool: &PgPool, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
    sqlx::query!(
        "INSERT INTO signing_keys (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        candidate,
    )
    .execute(pool)
    .await?;
    Ok(
        sqlx::query_scalar!("SELECT secret FROM signing_keys WHERE id = 1")
            .fetch_one(pool)
            .await?,
    )
}
