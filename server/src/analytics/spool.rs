//! Accepted events the database could not take before shutdown, kept on local disk (COPY text,
//! one file per write, written to a temporary name, synced, then renamed) until the next start
//! writes them. Writing a file twice is harmless: events are stored once by their ids.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Spool {
    pub fn new(dir: PathBuf) -> Spool {
        Spool { dir }
    }

    /// The spool under a data dir.
    pub fn in_data_dir(data_dir: &Path) -> Spool {
        Spool::new(data_dir.join("analytics-spool"))
    }

    pub async fn write(&self, text: &str) -> std::io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let name = format!(
            "events-{stamp}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let partial = self.dir.join(format!("{name}.partial"));
        let done = self.dir.join(format!("{name}.copy"));
        let mut file = tokio::fs::File::create(&partial).await?;
        file.write_all(text.as_bytes()).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&partial, &done).await?;
        if let Ok(dir) = tokio::fs::File::open(&self.dir).await {
            let _ = dir.sync_all().await;
        }
        Ok(done)
    }

    /// The spooled files, oldest first, with their text. Partial files (a crash while
    /// spooling) are skipped: their events were never acknowledged as written.
    pub async fn pending(&self) -> Vec<(PathBuf, String)> {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return Vec::new();
        };
        let mut paths = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "copy") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            match tokio::fs::read_to_string(&path).await {
                Ok(text) => files.push((path, text)),
                Err(err) => {
                    tracing::error!(%err, path = %path.display(), "cannot read spooled analytics events")
                }
            }
        }
        files
    }

    pub async fn remove(&self, path: &Path) {
        if let Err(err) = tokio::fs::remove_file(path).await {
            tracing::warn!(%err, path = %path.display(), "cannot remove a replayed spool file");
        }
    }
}
