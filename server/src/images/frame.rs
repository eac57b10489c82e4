//! A full-resolution frame of a transcoded video at a moment, for a poster chosen from the
//! video (the sprite sheets' tiles are only 160 px wide).
//!
//! From the master playlist's largest rendition, the segment holding the moment and its
//! initialisation segment are read through `MediaStore` byte ranges (local files and S3 alike)
//! into a scratch directory, joined into one fragmented MP4, and ffmpeg decodes the frame
//! there as PNG (lossless: it is resized and encoded once, by `decode`). These are our own
//! outputs, yet ffmpeg runs with the same confinement as on uploads (the one local file, the
//! `mov` demuxer pinned), a time limit, and at most two grabs at once per server.

use std::path::Path;
use std::time::Duration;

use ferrotape_model::hls_read;
use ferrotape_store::media::{MediaError, MediaStore, check_key};
use ferrotape_store::studio_talks::VideoOutputs;
use ferrotape_worker::ffmpeg;
use ferrotape_worker::probe::{confined_input_args, file_url};
use tokio::sync::Semaphore;

/// Frame grabs at once (each reads a segment and runs one ffmpeg).
static GRABBING: Semaphore = Semaphore::const_new(2);
/// Decoding at most one segment (6 s) takes well under this.
const FFMPEG_TIMEOUT: Duration = Duration::from_secs(30);
/// Playlists we write are a few kilobytes; anything longer is not ours.
const MAX_PLAYLIST_BYTES: u64 = 4 * 1024 * 1024;
/// A 6 s segment of 4K at a high bitrate stays well below this.
const MAX_SEGMENT_BYTES: u64 = 128 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the moment lies outside the video ({duration_ms} ms long)")]
    OutsideVideo { duration_ms: u64 },
    /// The outputs are missing or not what the transcode writes.
    #[error("{0}")]
    Outputs(String),
    #[error(transparent)]
    Storage(#[from] MediaError),
    #[error("ffmpeg could not take the frame: {0}")]
    Ffmpeg(String),
}

/// The frame of `video` at `at_ms`, as PNG bytes at the rendition's full resolution.
pub async fn grab(
    media: &dyn MediaStore,
    ffmpeg_path: &Path,
    video: &VideoOutputs,
    at_ms: u64,
) -> Result<Vec<u8>, FrameError> {
    if at_ms >= video.duration_ms {
        return Err(FrameError::OutsideVideo {
            duration_ms: video.duration_ms,
        });
    }
    let _permit = GRABBING.acquire().await.expect("never closed");
    let master = read_text(media, &video.master_key).await?;
    let variant = hls_read::largest_variant(&master)
        .ok_or_else(|| FrameError::Outputs("the video has no picture rendition".into()))?;
    let playlist_key = beside(&video.master_key, &variant)?;
    let playlist = read_text(media, &playlist_key).await?;
    let segment = hls_read::segment_at(&playlist, at_ms)
        .ok_or_else(|| FrameError::Outputs("the rendition's playlist lists no segment".into()))?;

    let scratch = tempfile::tempdir().map_err(|source| MediaError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let joined = scratch.path().join("segment.mp4");
    let mut bytes = Vec::new();
    if let Some(init) = &segment.init {
        bytes.extend_from_slice(&read_object(media, &beside(&playlist_key, init)?).await?);
    }
    bytes.extend_from_slice(&read_object(media, &beside(&playlist_key, &segment.uri)?).await?);
    tokio::fs::write(&joined, &bytes)
        .await
        .map_err(|source| MediaError::Io {
            path: joined.clone(),
            source,
        })?;
    drop(bytes);

    let offset_secs = (at_ms - segment.start_ms) as f64 / 1000.0;
    let png = scratch.path().join("frame.png");
    run_ffmpeg(ffmpeg_path, &joined, Some(offset_secs), &png).await?;
    if !png.exists() {
        // The moment lies after the segment's last frame (the probe's duration ran a little
        // past the packets): take that last frame.
        run_ffmpeg(ffmpeg_path, &joined, None, &png).await?;
    }
    tokio::fs::read(&png)
        .await
        .map_err(|_| FrameError::Ffmpeg("it wrote no frame".into()))
}

/// Decodes from `offset_secs` (output-side seek: relative to the segment's first frame, and
/// exact) and writes one frame; without an offset, every frame over the same file, so the
/// last one remains.
async fn run_ffmpeg(
    ffmpeg_path: &Path,
    input: &Path,
    offset_secs: Option<f64>,
    output: &Path,
) -> Result<(), FrameError> {
    let mut command = ffmpeg::command(ffmpeg_path);
    command.args(confined_input_args("mov"));
    command.args(["-f", "mov", "-i"]).arg(file_url(input));
    match offset_secs {
        Some(offset) => {
            command.args(["-ss", &format!("{offset:.3}"), "-frames:v", "1"]);
        }
        None => {
            command.args(["-update", "1"]);
        }
    }
    command
        .args(["-an", "-sn", "-c:v", "png", "-f", "image2", "-y"])
        .arg(file_url(output));
    match tokio::time::timeout(FFMPEG_TIMEOUT, ffmpeg::run(command, |_| async {})).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(FrameError::Ffmpeg(message)),
        // Dropping the run killed ffmpeg.
        Err(_) => Err(FrameError::Ffmpeg(format!(
            "it took longer than {} s",
            FFMPEG_TIMEOUT.as_secs()
        ))),
    }
}

/// The key of `uri` (relative, already checked by `hls_read`) next to the object `key`.
fn beside(key: &str, uri: &str) -> Result<String, FrameError> {
    let folder = key.rsplit_once('/').map_or("", |(folder, _)| folder);
    let joined = if folder.is_empty() {
        uri.to_owned()
    } else {
        format!("{folder}/{uri}")
    };
    check_key(&joined)
        .map_err(|_| FrameError::Outputs("a playlist names an unsafe path".into()))?;
    Ok(joined)
}

async fn read_text(media: &dyn MediaStore, key: &str) -> Result<String, FrameError> {
    let size = media
        .object_size(key)
        .await?
        .ok_or_else(|| FrameError::Outputs(format!("the playlist {key} is missing")))?;
    if size > MAX_PLAYLIST_BYTES {
        return Err(FrameError::Outputs(format!(
            "the playlist {key} is too long"
        )));
    }
    let bytes = media.read_range(key, 0, size).await?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| FrameError::Outputs(format!("the playlist {key} is not text")))
}

async fn read_object(media: &dyn MediaStore, key: &str) -> Result<axum::body::Bytes, FrameError> {
    let size = media
        .object_size(key)
        .await?
        .ok_or_else(|| FrameError::Outputs(format!("the segment {key} is missing")))?;
    if size > MAX_SEGMENT_BYTES {
        return Err(FrameError::Outputs(format!(
            "the segment {key} is too large"
        )));
    }
    Ok(media.read_range(key, 0, size).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_resolve_beside_their_playlist() {
        assert_eq!(
            beside("t/v/v1/hls/master.m3u8", "720p/index.m3u8").unwrap(),
            "t/v/v1/hls/720p/index.m3u8"
        );
        assert_eq!(
            beside("t/v/v1/hls/720p/index.m3u8", "seg_3.m4s").unwrap(),
            "t/v/v1/hls/720p/seg_3.m4s"
        );
    }
}
