//! Jobs that run once an hour across the whole fleet (the upload cleanup, retention): each run
//! is a job whose unique key names its hour slot, so however many workers schedule it, one run
//! per slot is queued. Workers schedule the current slot on start; each run schedules the next.

use std::time::Duration;

use ferrotape_model::TenantId;
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, NewJob};
use serde_json::json;
use time::OffsetDateTime;

pub const EVERY: Duration = Duration::from_secs(3600);

/// Enqueues `kind` for the hour slot containing `at` (a no-op if that slot's run is already
/// waiting); a slot in the future runs when it begins.
pub async fn schedule(pool: &PgPool, kind: &str, at: OffsetDateTime) -> Result<(), String> {
    let slot = at.unix_timestamp() / EVERY.as_secs() as i64;
    let key = format!("slot-{slot}");
    let run_at = (at > OffsetDateTime::now_utc()).then_some(at);
    jobs::enqueue(
        pool,
        TenantId::DEFAULT,
        &NewJob {
            priority: 4,
            max_attempts: 3,
            run_at,
            unique_key: Some(&key),
            ..NewJob::new(kind, json!({}))
        },
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}
