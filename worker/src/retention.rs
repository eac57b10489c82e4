//! `retention`: the hourly job that deletes finished jobs, spent tokens, sent mail, old
//! platform events and analytics partitions past their retention periods (and makes the
//! analytics partitions of the days ahead, and forgets the viewer-hash salts of days past),
//! then schedules its next run. One run per hour slot across the
//! fleet (the slot is the job's unique key), like `cleanup`.

use std::time::Duration;

use ferrotape_store::{PgPool, retention};
use time::OffsetDateTime;

use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::hourly;

pub const RETENTION_JOB: &str = "retention";
/// Rows deleted per statement.
const BATCH: i64 = 1000;

/// How long each kind of finished row is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub finished_jobs: Duration,
    pub spent_tokens: Duration,
    pub sent_mail: Duration,
    /// Raw analytics events (dropped by daily partition).
    pub analytics_events: Duration,
    pub platform_events: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        RetentionPolicy {
            finished_jobs: Duration::from_secs(14 * DAY),
            spent_tokens: Duration::from_secs(7 * DAY),
            sent_mail: Duration::from_secs(30 * DAY),
            analytics_events: Duration::from_secs(90 * DAY),
            platform_events: Duration::from_secs(365 * DAY),
        }
    }
}

/// Rows one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub jobs: u64,
    pub refresh_tokens: u64,
    pub email_tokens: u64,
    pub mail: u64,
    pub platform_events: u64,
    pub analytics_partitions: u64,
    pub salts: u64,
}

pub struct Retention {
    pub policy: RetentionPolicy,
}

impl JobHandler for Retention {
    fn kind(&self) -> &'static str {
        RETENTION_JOB
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let policy = self.policy;
        Box::pin(async move {
            let deleted = delete_expired(&ctx.pool, policy, OffsetDateTime::now_utc()).await?;
            if deleted != Deleted::default() {
                tracing::info!(?deleted, "retention deleted finished rows");
            }
            schedule(&ctx.pool, OffsetDateTime::now_utc() + hourly::EVERY).await
        })
    }
}

/// Deletes every row past its retention period as of `now`, in batches.
pub async fn delete_expired(
    pool: &PgPool,
    policy: RetentionPolicy,
    now: OffsetDateTime,
) -> Result<Deleted, String> {
    async fn drain<F, Fut>(mut step: F) -> Result<u64, String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<u64, ferrotape_store::StoreError>>,
    {
        let mut total = 0;
        loop {
            let n = step().await.map_err(|e| e.to_string())?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
        }
    }
    let jobs_before = now - policy.finished_jobs;
    let tokens_before = now - policy.spent_tokens;
    let mail_before = now - policy.sent_mail;
    let today = now.date();
    // Partitions for the days events may still arrive for, and a week ahead.
    ferrotape_store::analytics::ensure_partitions(
        pool,
        today - time::Duration::days(2),
        today + time::Duration::days(7),
    )
    .await
    .map_err(|e| e.to_string())?;
    let events_before = (now - policy.analytics_events).date();
    let analytics_partitions =
        ferrotape_store::analytics::drop_partitions_before(pool, events_before)
            .await
            .map_err(|e| e.to_string())? as u64;
    // A day's salt is needed while its late events can arrive (a day, see the beacon rules).
    let salts =
        ferrotape_store::analytics::forget_salts_before(pool, today - time::Duration::days(2))
            .await
            .map_err(|e| e.to_string())?;
    let platform_before = now - policy.platform_events;
    Ok(Deleted {
        jobs: drain(|| retention::delete_finished_jobs(pool, jobs_before, BATCH)).await?,
        refresh_tokens: drain(|| {
            retention::delete_spent_refresh_tokens(pool, tokens_before, BATCH)
        })
        .await?,
        email_tokens: drain(|| retention::delete_spent_email_tokens(pool, tokens_before, BATCH))
            .await?,
        mail: drain(|| retention::delete_sent_mail(pool, mail_before, BATCH)).await?,
        platform_events: drain(|| retention::delete_platform_events(pool, platform_before, BATCH))
            .await?,
        analytics_partitions,
        salts,
    })
}

/// Enqueues the retention pass for the hour slot containing `at` (see `hourly`).
pub async fn schedule(pool: &PgPool, at: OffsetDateTime) -> Result<(), String> {
    hourly::schedule(pool, RETENTION_JOB, at).await
}
