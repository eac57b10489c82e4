//! Deleting what has served its purpose: finished jobs, spent tokens and sent mail past their
//! retention periods (the worker's `retention` job calls these). Each call deletes at most
//! `batch` rows through an index, so a long backlog is worked off in short statements that
//! never hold many locks at once.

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::StoreError;

/// Completed, cancelled and discarded jobs finished before `before`.
pub async fn delete_finished_jobs(
    pool: &PgPool,
    before: OffsetDateTime,
    batch: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs WHERE finalized_at IS NOT NULL AND finalized_at < $1 LIMIT $2)",
        before,
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Refresh tokens that expired, or were revoked, before `before`. A rotated token is kept
/// until it expires: presenting it again is how a stolen token is detected.
pub async fn delete_spent_refresh_tokens(
    pool: &PgPool,
    before: OffsetDateTime,
    batch: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM refresh_tokens WHERE id IN (
             (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)
             UNION
             (SELECT id FROM refresh_tokens WHERE revoked_at < $1 LIMIT $2))",
        before,
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Mailed links used, or expired, before `before`.
pub async fn delete_spent_email_tokens(
    pool: &PgPool,
    before: OffsetDateTime,
    batch: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM email_tokens WHERE id IN (
             (SELECT id FROM email_tokens WHERE expires_at < $1 LIMIT $2)
             UNION
             (SELECT id FROM email_tokens WHERE used_at < $1 LIMIT $2))",
        before,
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Mail delivered before `before`.
pub async fn delete_sent_mail(
    pool: &PgPool,
    before: OffsetDateTime,
    batch: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM mail_outbox WHERE id IN (
             SELECT id FROM mail_outbox WHERE sent_at IS NOT NULL AND sent_at < $1 LIMIT $2)",
        before,
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Platform events that occurred before `before`. `platform_events` refuses deletes (its
/// append-only trigger) unless the transaction says it is this purge.
pub async fn delete_platform_events(
    pool: &PgPool,
    before: OffsetDateTime,
    batch: i64,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL ferrotape.purge = 'on'")
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(
        "DELETE FROM platform_events WHERE id IN (
             SELECT id FROM platform_events WHERE occurred_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
