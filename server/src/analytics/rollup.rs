//! Keeps the dashboards' rollups current: every few seconds, the talk-days that new events
//! changed are recomputed (`store::analytics_rollups`). Runs in every server; replicas share
//! the work through `SKIP LOCKED`.

use std::time::Duration;

use ferrotape_store::PgPool;
use ferrotape_store::analytics_rollups;
use tokio::sync::watch;

const EVERY: Duration = Duration::from_secs(5);

pub async fn run(pool: PgPool, stop: watch::Receiver<bool>) {
    crate::periodic::every(EVERY, stop, || refresh(&pool)).await;
}

/// Recomputes stale talk-days until none is left.
async fn refresh(pool: &PgPool) {
    loop {
        match analytics_rollups::refresh(pool, 100).await {
            Ok(0) => break,
            Ok(_) => continue,
            Err(err) => {
                tracing::warn!(%err, "cannot refresh the analytics rollups");
                break;
            }
        }
    }
}
