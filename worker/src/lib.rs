//! Ferrotape's job runner.
//!
//! The same [`run`] loop serves two hosts: the `ferrotape` server runs it in-process in the
//! embedded mode, and `ferrotape-worker` binaries run it on other machines against a shared
//! Postgres. Job kinds (transcode, transcribe, import, live-to-VOD) register here as the queue
//! lands; until then the loop only announces itself and waits for shutdown.

use tokio::sync::watch;

/// Identifies this worker in logs and, later, in the `jobs.attempted_by` column.
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

/// Runs until `shutdown` flips to true.
pub async fn run(_pool: sqlx::PgPool, mut shutdown: watch::Receiver<bool>) {
    let identity = WorkerIdentity::current();
    tracing::info!(worker = %identity, "worker started; no job kinds are registered yet");
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    tracing::info!(worker = %identity, "worker stopped");
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
