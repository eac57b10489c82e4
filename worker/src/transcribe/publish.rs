//! A track revision's files, and the master playlist that names every ready track.
//!
//! Each revision is written under a folder of its own, `{tenant}/{video}/subs/{track}/r{n}/`:
//! `captions.vtt` (the whole track, for the player's `<track>` and downloads) and the HLS
//! rendition (`index.m3u8` and its WebVTT segments). A revision's files never change, so a
//! player holding the old playlist keeps working until it reloads the master. The waveform
//! the subtitle editor draws is the video's, `{tenant}/{video}/subs/waveform.json`.

use std::path::Path;

use ferrotape_model::TenantId;
use ferrotape_model::language::track_label;
use ferrotape_model::subtitles::{
    Cue, DEFAULT_SEGMENT_MS, MPEGTS_FOR_ZERO_START, SubtitleRendition, master_with_subtitles,
    segment_vtt, write_vtt,
};
use ferrotape_store::PgPool;
use ferrotape_store::media::MediaStore;
use ferrotape_store::subtitles::{self as tracks, PublishedFiles};
use ferrotape_store::uploads::video_prefix;
use uuid::Uuid;

use super::audio::PEAKS_PER_SECOND;

/// Stores a track's new revision (the one after `revision`) and the video's waveform.
#[allow(clippy::too_many_arguments)]
pub async fn publish_track(
    media: &dyn MediaStore,
    scratch: &Path,
    tenant: TenantId,
    video: Uuid,
    track: Uuid,
    revision: i32,
    cues: &[Cue],
    duration_ms: u64,
    peaks: Option<&[u8]>,
) -> Result<PublishedFiles, String> {
    let prefix = tracks::revision_prefix(tenant, video, track, revision + 1);
    let folder = scratch.join("subs");
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|e| format!("no scratch space: {e}"))?;
    let segmented = segment_vtt(
        cues,
        duration_ms.max(1),
        DEFAULT_SEGMENT_MS,
        MPEGTS_FOR_ZERO_START,
        |n| format!("seg-{n:05}.vtt"),
    )
    .map_err(|e| format!("cannot segment the captions: {e}"))?;
    let mut files: Vec<(String, String)> = vec![
        ("captions.vtt".to_owned(), write_vtt(cues)),
        ("index.m3u8".to_owned(), segmented.playlist),
    ];
    files.extend(segmented.segments.into_iter().map(|s| (s.uri, s.text)));
    for (name, body) in &files {
        store_text(media, &folder, &format!("{prefix}/{name}"), body).await?;
    }
    if let Some(peaks) = peaks {
        let waveform = serde_json::json!({ "rate": PEAKS_PER_SECOND, "peaks": peaks });
        store_text(
            media,
            &folder,
            &tracks::waveform_key(tenant, video),
            &waveform.to_string(),
        )
        .await?;
    }
    Ok(PublishedFiles {
        vtt_key: format!("{prefix}/captions.vtt"),
        playlist_key: format!("{prefix}/index.m3u8"),
        prefix,
    })
}

async fn store_text(
    media: &dyn MediaStore,
    folder: &Path,
    key: &str,
    body: &str,
) -> Result<(), String> {
    let file = folder.join("out");
    tokio::fs::write(&file, body)
        .await
        .map_err(|e| format!("no scratch space: {e}"))?;
    media
        .put_file(key, &file)
        .await
        .map_err(|e| format!("cannot store {key}: {e}"))
}

/// Rewrites the video's master playlist so it names exactly its ready tracks.
pub async fn update_master(
    pool: &PgPool,
    media: &dyn MediaStore,
    scratch: &Path,
    tenant: TenantId,
    video: Uuid,
) -> Result<(), String> {
    let master_key: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT master_key FROM videos WHERE tenant_id = $1 AND id = $2 AND state = 'ready'",
    )
    .bind(tenant.0)
    .bind(video)
    .fetch_optional(pool)
    .await
    .map_err(|e| format!("cannot read the video: {e}"))?;
    let Some((Some(master_key),)) = master_key else {
        return Ok(());
    };
    let ready = tracks::ready_tracks(pool, tenant, video)
        .await
        .map_err(|e| e.to_string())?;
    let size = media
        .object_size(&master_key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the master playlist is missing")?;
    let text = media
        .read_range(&master_key, 0, size)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&text);
    let up =
        relative_root(&master_key, tenant, video).ok_or("the master playlist lies elsewhere")?;
    let renditions: Vec<SubtitleRendition> = ready
        .iter()
        .enumerate()
        .filter_map(|(i, track)| {
            let below = track
                .playlist_key
                .strip_prefix(&format!("{}/", video_prefix(tenant, video)))?;
            Some(SubtitleRendition {
                name: track_label(&track.language, &track.origin),
                language: track.language.clone(),
                uri: format!("{up}{below}"),
                default: false,
                // Players pick the first track matching the viewer's language by themselves.
                autoselect: i == 0 || ready[i - 1].language != track.language,
            })
        })
        .collect();
    let updated = master_with_subtitles(&text, &renditions).map_err(|e| e.to_string())?;
    store_text(media, scratch, &master_key, &updated).await
}

/// `../../` from a master playlist's folder up to the video's own (`{tenant}/{video}/v3/hls/`
/// → `../../`).
fn relative_root(master_key: &str, tenant: TenantId, video: Uuid) -> Option<String> {
    let below = master_key.strip_prefix(&format!("{}/", video_prefix(tenant, video)))?;
    Some("../".repeat(below.matches('/').count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_reaches_the_video_folder_relatively() {
        let (tenant, video) = (TenantId(Uuid::nil()), Uuid::nil());
        let prefix = video_prefix(tenant, video);
        assert_eq!(
            relative_root(&format!("{prefix}/v3/hls/master.m3u8"), tenant, video).as_deref(),
            Some("../../")
        );
        assert_eq!(
            relative_root(&format!("{prefix}/hls/master.m3u8"), tenant, video).as_deref(),
            Some("../")
        );
        assert_eq!(
            relative_root("elsewhere/hls/master.m3u8", tenant, video),
            None
        );
    }
}
