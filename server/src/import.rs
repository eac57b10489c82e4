//! `ferrotape import-video --talk SLUG FILE`: attaches a video file on this machine to a talk.
//!
//! The file goes through the same path as a browser upload after its last chunk: stored as the
//! video's source, probed, and handed to the transcode queue. A server (or `ferrotape-worker`)
//! picks the job up; the talk plays once it is ready.

use std::path::Path;

use ferrotape_model::TenantId;
use ferrotape_model::upload::{clean_file_name, extension_of};
use ferrotape_store::media::MediaStore;
use ferrotape_store::uploads;
use ferrotape_store::{PgPool, StoreError, talks};
use ferrotape_worker::config::MediaTools;
use ferrotape_worker::probe::{self, ProbeError};
use uuid::Uuid;

/// What an import did, printed by the CLI.
#[derive(Debug)]
pub struct Imported {
    pub video: Uuid,
    pub job: i64,
    pub duration_ms: i64,
}

pub async fn import_video(
    pool: &PgPool,
    media: &dyn MediaStore,
    tools: &MediaTools,
    tenant: TenantId,
    talk_slug: &str,
    file: &Path,
) -> Result<Imported, String> {
    let talk = talks::id_by_slug(pool, tenant, talk_slug)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => format!("no talk has the slug `{talk_slug}` in this tenant"),
            other => other.to_string(),
        })?;
    let metadata =
        std::fs::metadata(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a file", file.display()));
    }
    let raw_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file_name = clean_file_name(&raw_name);
    let extension = extension_of(&file_name).ok_or_else(|| {
        format!(
            "{} needs a file extension (.mp4, .mov, .mkv, …)",
            file.display()
        )
    })?;
    // Probe before storing anything: an unplayable file leaves no trace.
    let probe = probe::probe(&tools.ffprobe, file)
        .await
        .map_err(|e| match e {
            ProbeError::NotPlayable(reason) => {
                format!("{} is not a playable video: {reason}", file.display())
            }
            other => other.to_string(),
        })?;
    let video = uploads::begin_import(pool, tenant, talk, &file_name, metadata.len())
        .await
        .map_err(|e| e.to_string())?;
    let source_key = uploads::source_key(tenant, video, &extension);
    // put_file may move its file: hand it a copy, never the caller's original.
    let stored = async {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let copy = scratch.path().join(format!("source.{extension}"));
        tokio::fs::copy(file, &copy)
            .await
            .map_err(|e| format!("cannot copy {}: {e}", file.display()))?;
        media
            .put_file(&source_key, &copy)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(err) = stored.await {
        let reason = format!("the source could not be stored: {err}");
        let _ = uploads::fail_import(pool, tenant, video, &reason).await;
        return Err(reason);
    }
    let source = crate::api::uploads::probed_source(source_key, probe);
    let job = uploads::finish_import(pool, tenant, video, &source)
        .await
        .map_err(|e| e.to_string())?;
    crate::api::uploads::wake_workers(pool).await;
    Ok(Imported {
        video,
        job,
        duration_ms: source.duration_ms,
    })
}
