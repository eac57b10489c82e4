//! Job state changes as the server sees them: workers NOTIFY `ferrotape_job_events`, this
//! listener counts them for /metrics and re-broadcasts them in-process (for progress streams).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferrotape_store::PgPool;
use ferrotape_store::jobs::JOB_EVENTS_CHANNEL;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub struct JobEvents {
    /// Events seen per new state, since this server started.
    counts: Mutex<BTreeMap<String, u64>>,
    sender: broadcast::Sender<Value>,
}

impl JobEvents {
    pub fn new() -> Arc<JobEvents> {
        Arc::new(JobEvents {
            counts: Mutex::default(),
            sender: broadcast::channel(1024).0,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.sender.subscribe()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().expect("not poisoned").clone()
    }

    fn record(&self, event: Value) {
        let Some(state) = event["state"].as_str() else {
            return;
        };
        // A completion event carries a batch of ids; the others one id.
        let jobs = event["ids"].as_array().map_or(1, |ids| ids.len() as u64);
        *self
            .counts
            .lock()
            .expect("not poisoned")
            .entry(state.to_owned())
            .or_default() += jobs;
        let _ = self.sender.send(event);
    }

    /// Listens until `shutdown` turns true, reconnecting after errors.
    pub async fn run(self: Arc<Self>, pool: PgPool, shutdown: watch::Receiver<bool>) {
        crate::pg_listen::listen(&pool, &[JOB_EVENTS_CHANNEL], shutdown, |_, payload| {
            match serde_json::from_str(payload) {
                Ok(event) => self.record(event),
                Err(err) => tracing::warn!(%err, "malformed job event"),
            }
        })
        .await;
    }
}
