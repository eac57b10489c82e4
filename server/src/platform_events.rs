//! New platform events as the server sees them: the insert trigger on `platform_events` NOTIFYs
//! `ferrotape_platform_events`, and this listener re-broadcasts the announcements in-process to
//! the admins' event streams (`api::admin_events`), which read each row for their tenant.

use std::sync::Arc;

use ferrotape_store::PgPool;
use ferrotape_store::platform_events::{Announced, PLATFORM_EVENTS_CHANNEL};
use tokio::sync::{broadcast, watch};

pub struct PlatformEvents {
    sender: broadcast::Sender<Announced>,
}

impl PlatformEvents {
    pub fn new() -> Arc<PlatformEvents> {
        Arc::new(PlatformEvents {
            sender: broadcast::channel(1024).0,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Announced> {
        self.sender.subscribe()
    }

    /// Listens until `shutdown` turns true, reconnecting after errors.
    pub async fn run(self: Arc<Self>, pool: PgPool, shutdown: watch::Receiver<bool>) {
        crate::pg_listen::listen(&pool, &[PLATFORM_EVENTS_CHANNEL], shutdown, |_, payload| {
            match serde_json::from_str(payload) {
                Ok(event) => {
                    let _ = self.sender.send(event);
                }
                Err(err) => tracing::warn!(%err, "malformed platform event announcement"),
            }
        })
        .await;
    }
}
