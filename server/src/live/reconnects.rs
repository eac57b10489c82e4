//! Ends the streams whose publisher did not come back within the reconnect window
//! (`store::live::expire_reconnects`), every few seconds. Runs in every server; replicas share
//! the work through `SKIP LOCKED`.

use std::time::Duration;

use ferrotape_store::PgPool;
use ferrotape_store::live;
use tokio::sync::watch;

const EVERY: Duration = Duration::from_secs(5);

/// Ends the streams that waited longer than `window_secs` (`FERROTAPE_LIVE_RECONNECT_SECS`).
pub async fn run(pool: PgPool, window_secs: i64, stop: watch::Receiver<bool>) {
    crate::periodic::every(EVERY, stop, || expire(&pool, window_secs)).await;
}

async fn expire(pool: &PgPool, window_secs: i64) {
    match live::expire_reconnects(pool, window_secs).await {
        Ok(ended) => {
            for stream in ended {
                tracing::info!(stream = %stream.stream, "live stream ended: its publisher did not come back");
            }
        }
        Err(err) => tracing::warn!(%err, "cannot end the streams past their reconnect window"),
    }
}
