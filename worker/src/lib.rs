//! Ferrotape's job runner.
//!
//! The same [`run`] serves two hosts: the `ferrotape` server runs it in-process in the embedded
//! mode, and `ferrotape-worker` binaries run it on other machines against a shared Postgres.
//!
//! - `handler`: the `JobHandler` trait and the `Registry` of kinds.
//! - `cleanup`: the periodic removal of abandoned uploads.
//! - `retention`: the periodic deletion of finished jobs, spent tokens and sent mail.
//! - `talks.purge`: the periodic emptying of the trash and removal of replaced videos.
//! - `runtime`: claim loops, heartbeats, batched completion, maintenance, shutdown.
//! - `retry`: back-off with jitter.
//! - `config`: settings (`WorkerArgs` for clap, `WorkerConfig`).
//! - `diagnostic`: built-in `diagnostic.*` kinds for checking a fleet.
//! - `transcode`: the HLS ladder job; `progressive`: publishing its playlists while ffmpeg
//!   writes them; `encoder`: encoder detection; `probe`: typed ffprobe (and the input
//!   confinement every ffmpeg run uses); `ffmpeg`: running ffmpeg via sidecar.
//! - `transcribe`: Whisper captions of a ready video (its own resource class and slots).
//! - `ingest`: a file a job obtained enters the upload path (probe, store, transcode job);
//!   `demo_video`: the demo talks' generated clips; `import`: URL imports (yt-dlp behind a
//!   proxy that checks every destination).

pub mod cleanup;
pub mod config;
pub mod demo_video;
pub mod diagnostic;
pub mod encoder;
pub mod ffmpeg;
pub mod handler;
pub mod hourly;
pub mod import;
pub mod ingest;
pub mod probe;
pub mod progressive;
pub mod retention;
pub mod retry;
pub mod runtime;
pub mod transcode;
pub mod transcribe;
pub mod trash;

use std::sync::Arc;

use ferrotape_store::media::MediaStore;
use tokio::sync::watch;

pub use config::{MediaTools, WorkerArgs, WorkerConfig};
pub use handler::{JobContext, JobFuture, JobHandler, JobResult, Registry};

/// Identifies this worker in logs and in the `jobs.attempted_by` column.
#[derive(Debug, Clone)]
pub struct WorkerIdentity {
    pub hostname: String,
    pub pid: u32,
}

impl WorkerIdentity {
    pub fn current() -> WorkerIdentity {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown-host".to_owned());
        WorkerIdentity {
            hostname,
            pid: std::process::id(),
        }
    }
}

impl std::fmt::Display for WorkerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.hostname, self.pid)
    }
}

/// The job kinds this build of Ferrotape runs.
pub fn registry(config: &WorkerConfig, media: Arc<dyn MediaStore>) -> Registry {
    diagnostic::register(Registry::new())
        .register(transcode::Transcode {
            media: media.clone(),
            tools: config.tools.clone(),
            encoders: Arc::new(encoder::EncoderCache::new(config.tools.ffmpeg.clone())),
            concurrency: config.gpu_slots.max(1),
            read_rate: None,
        })
        .register(demo_video::DemoVideo {
            media: media.clone(),
            tools: config.tools.clone(),
        })
        .register(import::Import {
            media: media.clone(),
            tools: config.tools.clone(),
            settings: config.import.clone(),
        })
        .register(cleanup::AbandonedUploads {
            media: media.clone(),
        })
        .register(transcribe::Transcribe::new(
            media.clone(),
            config.tools.clone(),
            config.transcribe.clone(),
        ))
        .register(trash::PurgeTrash { media })
        .register(retention::Retention {
            policy: config.retention,
        })
}

/// Runs every job kind until `shutdown` flips to true.
pub async fn run(
    pool: sqlx::PgPool,
    media: Arc<dyn MediaStore>,
    config: WorkerConfig,
    shutdown: watch::Receiver<bool>,
) {
    let registry = registry(&config, media);
    // The periodic cleanup keeps itself going; the first worker to start sets it off.
    if let Err(err) = cleanup::schedule(&pool, time::OffsetDateTime::now_utc()).await {
        tracing::warn!(%err, "cannot schedule the abandoned-upload cleanup");
    }
    if let Err(err) = retention::schedule(&pool, time::OffsetDateTime::now_utc()).await {
        tracing::warn!(%err, "cannot schedule the retention job");
    }
    if let Err(err) = trash::schedule(&pool, time::OffsetDateTime::now_utc()).await {
        tracing::warn!(%err, "cannot schedule the trash purge");
    }
    runtime::run_registry(pool, registry, config, shutdown).await;
}

/// Installs the SIGINT (Ctrl-C) and SIGTERM handlers *now* and returns a future that resolves
/// when either arrives. Registering eagerly matters: a signal that lands between start-up and
/// the first poll of a lazily registered handler would kill the process with the default action.
/// Must be called inside the tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("install the SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutdown requested");
    }
}
