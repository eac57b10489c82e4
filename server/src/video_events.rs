//! Video changes as the server sees them: a database trigger NOTIFYs
//! `ferrotape_video_events` on every studio-visible change, and this listener re-broadcasts them
//! in-process to the studio's event streams (`api::studio`).

use std::sync::Arc;

use ferrotape_store::PgPool;
use ferrotape_store::videos::{VIDEO_EVENTS_CHANNEL, VideoEvent};
use tokio::sync::{broadcast, watch};

pub struct VideoEvents {
    sender: broadcast::Sender<VideoEvent>,
}

impl VideoEvents {
    pub fn new() -> Arc<VideoEvents> {
        Arc::new(VideoEvents {
            sender: broadcast::channel(1024).0,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<VideoEvent> {
        self.sender.subscribe()
    }

    /// Listens until `shutdown` turns true, reconnecting after errors.
    pub async fn run(self: Arc<Self>, pool: PgPool, shutdown: watch::Receiver<bool>) {
        crate::pg_listen::listen(&pool, &[VIDEO_EVENTS_CHANNEL], shutdown, |_, payload| {
            match serde_json::from_str(payload) {
                Ok(event) => {
                    let _ = self.sender.send(event);
                }
                Err(err) => tracing::warn!(%err, "malformed video event"),
            }
        })
        .await;
    }
}
