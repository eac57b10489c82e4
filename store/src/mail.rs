//! The mail outbox: every mail is written here in the transaction that causes it, then
//! delivered by the mailer (or held for /admin/outbox when no SMTP server is configured).

use ferrotape_model::TenantId;
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone)]
pub struct MailRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
}

/// Delivery gives up on a mail after this many failed attempts.
pub const MAX_ATTEMPTS: i32 = 8;

pub async fn enqueue<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<Uuid, StoreError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO mail_outbox (tenant_id, recipient, subject, body)
         VALUES ($1, $2, $3, $4) RETURNING id",
        tenant.0,
        recipient,
        subject,
        body,
    )
    .fetch_one(db)
    .await?)
}

/// Undelivered mails (of every tenant) younger than a day, oldest first, locked for the rest
/// of the transaction; mails another deliverer holds are skipped.
pub async fn lock_pending(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> Result<Vec<MailRecord>, StoreError> {
    Ok(sqlx::query_as!(
        MailRecord,
        "SELECT id, tenant_id, recipient, subject, body, created_at, attempts, last_error, sent_at
         FROM mail_outbox
         WHERE sent_at IS NULL AND attempts < $1 AND created_at > now() - interval '1 day'
         ORDER BY created_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
        MAX_ATTEMPTS,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Delivered: the body (which holds single-use links) is erased.
pub async fn mark_sent<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE mail_outbox SET sent_at = now(), body = '', attempts = attempts + 1, last_error = NULL
         WHERE id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_failed<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE mail_outbox SET attempts = attempts + 1, last_error = left($2, 2000) WHERE id = $1",
        id,
        error,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The tenant's newest mails, for /admin/outbox.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    limit: i64,
) -> Result<Vec<MailRecord>, StoreError> {
    Ok(sqlx::query_as!(
        MailRecord,
        "SELECT id, tenant_id, recipient, subject, body, created_at, attempts, last_error, sent_at
         FROM mail_outbox WHERE tenant_id = $1
         ORDER BY created_at DESC, id LIMIT $2",
        tenant.0,
        limit.clamp(1, 500),
    )
    .fetch_all(pool)
    .await?)
}
