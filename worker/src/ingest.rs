//! Hands a file a job obtained (a generated demo clip, a download) to the path every upload
//! takes after its last chunk: probed with the confined ffprobe (`probe.rs`), stored as the
//! video's source, the video moved to `processing` and its transcode queued in one
//! transaction. An unplayable file fails the video with ffprobe's reason and is not stored.

use std::path::Path;

use ferrotape_model::TenantId;
use ferrotape_store::PgPool;
use ferrotape_store::media::MediaStore;
use ferrotape_store::uploads::{self, ProbedSource, TRANSCODE_JOB};
use uuid::Uuid;

use crate::config::MediaTools;
use crate::probe::{self, Probe, ProbeError};

/// What became of an ingested file.
#[derive(Debug)]
pub enum Ingested {
    /// Stored; the transcode job is queued.
    Queued { job: i64, probe: Box<Probe> },
    /// Not playable: the video failed with this reason and nothing was stored.
    NotPlayable(String),
}

/// The file extension a source read by `demuxer` is stored under.
pub fn extension_for(demuxer: &str) -> &'static str {
    match demuxer {
        "matroska" => "mkv",
        "avi" => "avi",
        "mpegts" => "ts",
        "mpeg" => "mpg",
        "flv" => "flv",
        "asf" => "wmv",
        "mxf" => "mxf",
        "ogg" => "ogg",
        "wav" => "wav",
        "mp3" => "mp3",
        "aac" => "aac",
        "flac" => "flac",
        "aiff" => "aiff",
        "dv" => "dv",
        _ => "mp4",
    }
}

/// Probes `file`, and stores it as the source of `video` and queues its transcode when it is
/// playable. `file` may be moved. `check` may refuse a playable file (too long, say): the
/// video then fails with its reason as an unplayable one does.
pub async fn ingest(
    pool: &PgPool,
    media: &dyn MediaStore,
    tools: &MediaTools,
    tenant: TenantId,
    video: Uuid,
    file: &Path,
    check: impl FnOnce(&Probe) -> Result<(), String>,
) -> Result<Ingested, String> {
    let probed = match probe::probe(&tools.ffprobe, file).await {
        Ok(probed) => probed,
        Err(ProbeError::NotPlayable(reason)) => {
            fail(pool, tenant, video, &reason).await?;
            return Ok(Ingested::NotPlayable(reason));
        }
        Err(other) => return Err(other.to_string()),
    };
    if let Err(reason) = check(&probed) {
        fail(pool, tenant, video, &reason).await?;
        return Ok(Ingested::NotPlayable(reason));
    }
    let source_key = uploads::source_key(tenant, video, extension_for(probed.demuxer));
    media
        .put_file(&source_key, file)
        .await
        .map_err(|e| format!("cannot store the source: {e}"))?;
    let source = ProbedSource {
        source_key,
        duration_ms: (probed.duration_secs * 1000.0).round() as i64,
        width: probed.video.as_ref().map(|v| v.width as i32),
        height: probed.video.as_ref().map(|v| v.height as i32),
        probe: probed.raw.clone(),
    };
    let job = uploads::finish_import(pool, tenant, video, &source)
        .await
        .map_err(|e| format!("cannot queue the transcode: {e}"))?;
    if let Err(err) = ferrotape_store::jobs::notify_enqueued(pool, &[TRANSCODE_JOB]).await {
        tracing::warn!(%err, "cannot wake workers; they will find the transcode by polling");
    }
    Ok(Ingested::Queued {
        job,
        probe: Box::new(probed),
    })
}

/// Fails a video still waiting for its source, with `reason` (shown in the studio).
pub async fn fail(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
    reason: &str,
) -> Result<(), String> {
    uploads::fail_import(pool, tenant, video, reason)
        .await
        .map_err(|e| format!("cannot record the failure: {e}"))
}
