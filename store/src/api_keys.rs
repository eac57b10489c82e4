//! API keys: stored as the SHA-256 of their secret, found by that hash (one indexed lookup; no
//! secret is ever compared in Rust), listed and revoked by their owner.

use ferrotape_model::api::{ApiKey, ApiScope, MAX_API_KEYS_PER_USER};
use ferrotape_model::talk::FieldError;
use ferrotape_model::{Role, TenantId};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

/// `last_used_at` is written at most this often per key.
const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

struct KeyRow {
    id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
}

impl From<KeyRow> for ApiKey {
    fn from(row: KeyRow) -> ApiKey {
        ApiKey {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            scopes: scopes(&row.scopes),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

fn scopes(stored: &[String]) -> Vec<ApiScope> {
    stored.iter().filter_map(|s| ApiScope::parse(s)).collect()
}

/// Stores a new key of `user` (name and scopes already normalised).
pub async fn create(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    name: &str,
    key_scopes: &[ApiScope],
    prefix: &str,
    key_hash: &[u8; 32],
) -> Result<ApiKey, StoreError> {
    let mut tx = pool.begin().await?;
    // Serialises one user's key creations, so the count below cannot be raced past.
    sqlx::query!(
        "SELECT id FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant.0,
        user
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let active = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM api_keys
           WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL"#,
        tenant.0,
        user
    )
    .fetch_one(&mut *tx)
    .await?;
    if active >= MAX_API_KEYS_PER_USER {
        return Err(StoreError::Invalid(FieldError::new(
            "name",
            format!("you have {active} keys: revoke one you no longer use first"),
        )));
    }
    let stored: Vec<String> = key_scopes.iter().map(|s| s.as_str().to_owned()).collect();
    let row = sqlx::query_as!(
        KeyRow,
        "INSERT INTO api_keys (tenant_id, user_id, name, prefix, key_hash, scopes)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, name, prefix, scopes, created_at, last_used_at, revoked_at",
        tenant.0,
        user,
        name,
        prefix,
        key_hash.as_slice(),
        &stored,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// The user's keys that are not revoked, newest first.
pub async fn list(pool: &PgPool, tenant: TenantId, user: Uuid) -> Result<Vec<ApiKey>, StoreError> {
    Ok(sqlx::query_as!(
        KeyRow,
        "SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at FROM api_keys
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL
         ORDER BY created_at DESC, id DESC",
        tenant.0,
        user,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Into::into)
    .collect())
}

/// Revokes one of the user's keys: from now on it authenticates nothing. `NotFound` for a key
/// that is not theirs or already revoked.
pub async fn revoke(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    id: Uuid,
) -> Result<(), StoreError> {
    let revoked = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now()
         WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND revoked_at IS NULL",
        tenant.0,
        user,
        id,
    )
    .execute(pool)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Who a valid key speaks for: its user as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub key_id: Uuid,
    pub scopes: Vec<ApiScope>,
    pub user_id: Uuid,
    pub role: Role,
    pub email: String,
    pub display_name: String,
    pub disabled: bool,
}

/// The key with this hash in `tenant`, if it is not revoked, with its user; records its use
/// (at most once a minute).
pub async fn authenticate(
    pool: &PgPool,
    tenant: TenantId,
    key_hash: &[u8; 32],
) -> Result<Option<KeyHolder>, StoreError> {
    let Some(row) = sqlx::query!(
        r#"SELECT k.id, k.scopes, k.last_used_at, u.id AS user_id, u.role::text AS "role!",
                  u.email, u.display_name, u.disabled_at
           FROM api_keys k JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id
           WHERE k.key_hash = $1 AND k.tenant_id = $2 AND k.revoked_at IS NULL"#,
        key_hash.as_slice(),
        tenant.0,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc();
    if row
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
    {
        sqlx::query!(
            "UPDATE api_keys SET last_used_at = now()
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            row.id
        )
        .execute(pool)
        .await?;
    }
    Ok(Some(KeyHolder {
        key_id: row.id,
        scopes: scopes(&row.scopes),
        user_id: row.user_id,
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        email: row.email,
        display_name: row.display_name,
        disabled: row.disabled_at.is_some(),
    }))
}
