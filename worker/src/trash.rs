//! `talks.purge`: the hourly job that empties the trash — talks deleted more than
//! [`TRASH_DAYS`](ferrotape_model::talk::TRASH_DAYS) days ago go, with their videos and every
//! stored file of theirs — and removes videos a talk replaced (an hour after the new one became
//! ready, so players that loaded the old playlist can finish). One run per hour slot across the
//! fleet, like `cleanup` and `retention`.
//!
//! Rows go first, in their own transactions; storage after. A crash in between leaves files
//! nobody points at (harmless), never a row pointing at deleted files.

use std::sync::Arc;
use std::time::Duration;

use ferrotape_model::TenantId;
use ferrotape_store::PgPool;
use ferrotape_store::media::MediaStore;
use ferrotape_store::studio_talks;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::hourly;

pub const PURGE_JOB: &str = "talks.purge";
/// A replaced video stays this long after its successor is ready.
pub const REPLACED_GRACE: Duration = Duration::from_secs(3600);
const BATCH: i64 = 100;

pub struct PurgeTrash {
    pub media: Arc<dyn MediaStore>,
}

impl JobHandler for PurgeTrash {
    fn kind(&self) -> &'static str {
        PURGE_JOB
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let media = self.media.clone();
        Box::pin(async move {
            let now = OffsetDateTime::now_utc();
            let trash_cutoff = now - time::Duration::days(ferrotape_model::talk::TRASH_DAYS);
            let replaced_cutoff = now - REPLACED_GRACE;
            let purged = purge(&ctx.pool, &*media, trash_cutoff, replaced_cutoff).await?;
            if purged != Purged::default() {
                tracing::info!(?purged, "purged the trash and replaced videos");
            }
            schedule(&ctx.pool, OffsetDateTime::now_utc() + hourly::EVERY).await
        })
    }
}

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub talks: usize,
    pub videos: usize,
}

/// Purges talks trashed before `trash_cutoff` and videos replaced by one ready before
/// `replaced_cutoff`, rows then storage.
pub async fn purge(
    pool: &PgPool,
    media: &dyn MediaStore,
    trash_cutoff: OffsetDateTime,
    replaced_cutoff: OffsetDateTime,
) -> Result<Purged, String> {
    let mut purged = Purged::default();
    loop {
        let batch = studio_talks::purge_trashed(pool, trash_cutoff, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        for talk in &batch {
            // The talk's own files (its chosen poster) live under its id.
            delete_prefix(media, talk.tenant, talk.talk).await;
            for video in &talk.videos {
                delete_prefix(media, talk.tenant, *video).await;
            }
            purged.videos += talk.videos.len();
        }
        purged.talks += batch.len();
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    loop {
        let batch = studio_talks::remove_replaced_videos(pool, replaced_cutoff, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        for video in &batch {
            delete_prefix(media, video.tenant, video.video).await;
        }
        purged.videos += batch.len();
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    Ok(purged)
}

/// Deletes everything under `{tenant}/{id}`; a failure is logged (the files are orphans, not a
/// broken row).
async fn delete_prefix(media: &dyn MediaStore, tenant: TenantId, id: Uuid) {
    let prefix = format!("{}/{id}", tenant.0);
    if let Err(err) = media.delete_prefix(&prefix).await {
        tracing::warn!(%err, prefix, "could not delete purged media");
    }
}

/// Enqueues the purge for the hour slot containing `at`.
pub async fn schedule(pool: &PgPool, at: OffsetDateTime) -> Result<(), String> {
    hourly::schedule(pool, PURGE_JOB, at).await
}
