//! `uploads.cleanup`: removes uploads abandoned for more than a day — open, and without a chunk,
//! presign, status or complete request for that long — with their video row, chunk records and
//! stored chunks, then schedules its next run. One run per hour slot across the whole fleet:
//! the slot is the job's unique key.
//!
//! It deletes storage only for uploads its own statement removed (`uploads::abort_idle`), and
//! that statement skips an upload a `complete` holds: a `complete` racing the cleanup keeps its
//! chunks and source.

use std::sync::Arc;
use std::time::Duration;

use ferrotape_store::PgPool;
use ferrotape_store::media::MediaStore;
use ferrotape_store::uploads;
use time::OffsetDateTime;

use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::hourly;

pub const CLEANUP_JOB: &str = "uploads.cleanup";

/// An upload nobody touched for this long is abandoned.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Uploads removed per statement batch.
const BATCH: i64 = 100;

pub struct AbandonedUploads {
    pub media: Arc<dyn MediaStore>,
}

impl JobHandler for AbandonedUploads {
    fn kind(&self) -> &'static str {
        CLEANUP_JOB
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let media = self.media.clone();
        Box::pin(async move {
            let removed = remove_abandoned(&ctx.pool, &*media, ABANDONED_AFTER).await?;
            if removed > 0 {
                tracing::info!(removed, "removed abandoned uploads");
            }
            schedule(&ctx.pool, OffsetDateTime::now_utc() + hourly::EVERY).await
        })
    }
}

/// Removes open uploads idle for longer than `idle`; returns how many.
pub async fn remove_abandoned(
    pool: &PgPool,
    media: &dyn MediaStore,
    idle: Duration,
) -> Result<usize, String> {
    let idle_since = OffsetDateTime::now_utc() - idle;
    let mut removed = 0;
    loop {
        // Rows first: a chunk arriving meanwhile is refused instead of stored for nobody.
        let batch = uploads::abort_idle(pool, idle_since, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        for upload in &batch {
            uploads::discard_stored(media, upload).await;
        }
        removed += batch.len();
        if (batch.len() as i64) < BATCH {
            return Ok(removed);
        }
    }
}

/// Enqueues the cleanup for the hour slot containing `at` (see `hourly`).
pub async fn schedule(pool: &PgPool, at: OffsetDateTime) -> Result<(), String> {
    hourly::schedule(pool, CLEANUP_JOB, at).await
}
