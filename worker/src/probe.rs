//! A typed ffprobe: what a source contains (streams, duration, display size, frame rate), and
//! whether it is something we can turn into a stream.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// ffprobe reads headers only; a minute is far beyond any healthy file.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub format_name: String,
    pub duration_secs: f64,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
    /// ffprobe's JSON, stored with the video.
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoStream {
    pub codec: String,
    /// Display size: rotation metadata already applied (a phone's portrait video is taller).
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioStream {
    pub codec: String,
    pub channels: u32,
    pub sample_rate: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot run ffprobe ({0}); install ffmpeg")]
    Spawn(std::io::Error),
    #[error("ffprobe took longer than {} s", PROBE_TIMEOUT.as_secs())]
    Timeout,
    /// Not media ffmpeg understands; the message says what ffprobe saw.
    #[error("{0}")]
    NotPlayable(String),
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    channels: Option<u32>,
    sample_rate: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    side_data_list: Vec<Value>,
    #[serde(default)]
    tags: Value,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

/// Probes `file` and checks it is playable media: a video or audio stream and a duration.
pub async fn probe(ffprobe: &Path, file: &Path) -> Result<Probe, ProbeError> {
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
        .await
        .map_err(|_| ProbeError::Timeout)?
        .map_err(ProbeError::Spawn)?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let detail = said
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map(|line| {
                // ffprobe prefixes the path, which means nothing to the uploader.
                line.rsplit_once(": ").map_or(line, |(_, what)| what).trim()
            })
            .unwrap_or("unknown format");
        return Err(ProbeError::NotPlayable(format!(
            "this file is not a video or audio file ffmpeg can read ({detail})"
        )));
    }
    parse(&output.stdout)
}

/// Interprets ffprobe's JSON (separate from running it, for tests).
pub fn parse(json: &[u8]) -> Result<Probe, ProbeError> {
    let raw: Value = serde_json::from_slice(json)
        .map_err(|e| ProbeError::NotPlayable(format!("ffprobe answered nonsense: {e}")))?;
    let output: Output = serde_json::from_value(raw.clone())
        .map_err(|e| ProbeError::NotPlayable(format!("ffprobe answered nonsense: {e}")))?;
    let format = output.format.ok_or_else(|| {
        ProbeError::NotPlayable("this file has no recognisable container".to_owned())
    })?;
    let format_name = format.format_name.unwrap_or_default();
    let video = output
        .streams
        .iter()
        .find(|s| {
            s.codec_type.as_deref() == Some("video")
                && s.disposition.attached_pic == 0
                && s.width.unwrap_or(0) > 0
                && s.height.unwrap_or(0) > 0
        })
        .map(video_stream);
    let audio = output
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .map(|s| AudioStream {
            codec: s.codec_name.clone().unwrap_or_default(),
            channels: s.channels.unwrap_or(0),
            sample_rate: s
                .sample_rate
                .as_deref()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
        });
    let duration_secs = seconds(format.duration.as_deref())
        .or_else(|| {
            output
                .streams
                .iter()
                .filter_map(|s| seconds(s.duration.as_deref()))
                .reduce(f64::max)
        })
        .unwrap_or(0.0);
    let still_image = format_name.contains("image2")
        || format_name.ends_with("_pipe")
        || matches!(
            video.as_ref().map(|v| v.codec.as_str()),
            Some("png" | "mjpeg" | "bmp" | "gif" | "webp" | "tiff")
        ) && audio.is_none();
    if still_image {
        return Err(ProbeError::NotPlayable(
            "this is a still image, not a video".to_owned(),
        ));
    }
    if video.is_none() && audio.is_none() {
        return Err(ProbeError::NotPlayable(
            "this file has neither a video nor an audio track".to_owned(),
        ));
    }
    if duration_secs <= 0.0 || !duration_secs.is_finite() {
        return Err(ProbeError::NotPlayable(
            "this file has no duration: it may be truncated or still being recorded".to_owned(),
        ));
    }
    Ok(Probe {
        format_name,
        duration_secs,
        video,
        audio,
        raw,
    })
}

fn video_stream(stream: &RawStream) -> VideoStream {
    let (mut width, mut height) = (stream.width.unwrap_or(0), stream.height.unwrap_or(0));
    if rotation(stream).rem_euclid(180) == 90 {
        std::mem::swap(&mut width, &mut height);
    }
    let fps = [
        stream.avg_frame_rate.as_deref(),
        stream.r_frame_rate.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(ratio)
    .find(|fps| (1.0..=1000.0).contains(fps))
    .unwrap_or(30.0);
    VideoStream {
        codec: stream.codec_name.clone().unwrap_or_default(),
        width,
        height,
        fps,
    }
}

/// Rotation in degrees from the display matrix side data (ffmpeg ≥ 5) or the old `rotate` tag.
fn rotation(stream: &RawStream) -> i64 {
    stream
        .side_data_list
        .iter()
        .find_map(|side| side.get("rotation").and_then(Value::as_i64))
        .or_else(|| {
            stream
                .tags
                .get("rotate")
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok())
        })
        .unwrap_or(0)
}

fn ratio(text: &str) -> Option<f64> {
    let (num, den) = text.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (den > 0.0).then(|| num / den)
}

fn seconds(text: Option<&str>) -> Option<f64> {
    text?
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portrait_phone_video_reports_its_display_size() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
            "avg_frame_rate":"30000/1001","side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]},
            {"codec_type":"audio","codec_name":"aac","channels":2,"sample_rate":"48000"}],
            "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"12.5"}}"#;
        let probe = parse(json).unwrap();
        let video = probe.video.unwrap();
        assert_eq!((video.width, video.height), (1080, 1920));
        assert!((video.fps - 29.97).abs() < 0.01);
        assert_eq!(probe.audio.unwrap().sample_rate, 48000);
        assert_eq!(probe.duration_secs, 12.5);
    }

    #[test]
    fn cover_art_is_not_a_video_track() {
        let json = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3","channels":2,"sample_rate":"44100"},
            {"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,"disposition":{"attached_pic":1}}],
            "format":{"format_name":"mp3","duration":"180.0"}}"#;
        let probe = parse(json).unwrap();
        assert!(probe.video.is_none());
        assert!(probe.audio.is_some());
    }

    #[test]
    fn images_and_empty_containers_are_not_playable() {
        let image =
            br#"{"streams":[{"codec_type":"video","codec_name":"png","width":10,"height":10}],
            "format":{"format_name":"png_pipe"}}"#;
        assert!(
            parse(image)
                .unwrap_err()
                .to_string()
                .contains("still image")
        );
        let empty = br#"{"streams":[],"format":{"format_name":"mov,mp4","duration":"1.0"}}"#;
        assert!(parse(empty).unwrap_err().to_string().contains("neither"));
        let no_duration = br#"{"streams":[{"codec_type":"audio","codec_name":"aac"}],"format":{"format_name":"aac"}}"#;
        assert!(
            parse(no_duration)
                .unwrap_err()
                .to_string()
                .contains("no duration")
        );
    }
}
