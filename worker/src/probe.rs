//! A typed ffprobe: what a source contains (streams, duration, display size, frame rate), and
//! whether it is something we can turn into a stream.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// ffprobe reads headers only; a minute is far beyond any healthy file.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// The containers accepted as sources, each by the first name of its ffmpeg demuxer (the one
/// `-f` takes). Everything else is refused, above all the demuxers that open further files or
/// URLs named inside the upload: playlists (`hls`), manifests (`dash`, `webm_dash_manifest`),
/// concat lists, image sequences (`image2`, `*_pipe`) and subtitle or text formats.
pub const SOURCE_DEMUXERS: [&str; 15] = [
    "mov", "matroska", "avi", "mpegts", "mpeg", "flv", "asf", "mxf", "ogg", "wav", "mp3", "aac",
    "flac", "aiff", "dv",
];

/// Input options that keep ffprobe or ffmpeg on the one local file named after them: only the
/// `file` protocol, and only the `demuxers` given. ffmpeg hands both lists down to every nested
/// open (a demuxer opening a segment, AVI handing an embedded subtitle file to another
/// demuxer), so a reference inside the file can name neither a URL nor another format.
pub fn confined_input_args(demuxers: &str) -> Vec<String> {
    vec![
        "-protocol_whitelist".into(),
        "file".into(),
        "-format_whitelist".into(),
        demuxers.into(),
    ]
}

/// A local path as an ffmpeg input or output that can never be read as a URL or protocol
/// prefix (`concat:`, `subfile,,…`), whatever characters it holds.
pub fn file_url(path: &Path) -> String {
    format!("file:{}", path.display())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub format_name: String,
    /// The demuxer to pin with `-f` when reading the source: one of [`SOURCE_DEMUXERS`].
    pub demuxer: &'static str,
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
        .args(["-v", "error"])
        .args(confined_input_args(&SOURCE_DEMUXERS.join(",")))
        .args(["-print_format", "json", "-show_format", "-show_streams"])
        .arg(file_url(file))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
        .await
        .map_err(|_| ProbeError::Timeout)?
        .map_err(ProbeError::Spawn)?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        if let Some(refused) = refused_demuxer(&said) {
            return Err(ProbeError::NotPlayable(refused_format_message(refused)));
        }
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

/// The demuxer ffprobe detected but the format allow-list refused (`[hls @ 0x…] Format not on
/// whitelist …`).
fn refused_demuxer(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .find(|line| line.contains("Format not on whitelist"))
        .and_then(|line| line.strip_prefix('['))
        .and_then(|rest| rest.split_once(" @"))
        .map(|(name, _)| name)
}

fn refused_format_message(demuxer: &str) -> String {
    let what = match demuxer.split(',').next().unwrap_or(demuxer) {
        "hls" => "an HLS playlist".to_owned(),
        "dash" | "webm_dash_manifest" => "a DASH manifest".to_owned(),
        "concat" => "a concat list".to_owned(),
        name if name.starts_with("image2") || name.ends_with("_pipe") => {
            "an image or image sequence".to_owned()
        }
        name => format!("in the {name} format"),
    };
    format!(
        "this file is {what}, not a video file: playlists, manifests, lists of other files, \
         images and subtitle files are not accepted; upload the recording itself"
    )
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
    let demuxer = format_name.split(',').next().unwrap_or_default();
    let Some(demuxer) = SOURCE_DEMUXERS.into_iter().find(|known| *known == demuxer) else {
        return Err(ProbeError::NotPlayable(refused_format_message(
            &format_name,
        )));
    };
    // AVI's GAB2 subtitle tracks are whole files handed to another demuxer; the confined probe
    // cannot open them and leaves their codec unknown. Nothing else yields an unnamed subtitle.
    if output.streams.iter().any(|s| {
        s.codec_type.as_deref() == Some("subtitle")
            && s.codec_name
                .as_deref()
                .is_none_or(|c| c.is_empty() || c == "none")
    }) {
        return Err(ProbeError::NotPlayable(
            "this file embeds a subtitle file of its own, which is not accepted: remove that \
             track and upload again"
                .to_owned(),
        ));
    }
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
    let still_image = matches!(
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
        demuxer,
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
        assert!(parse(image).unwrap_err().to_string().contains("an image"));
        let cover =
            br#"{"streams":[{"codec_type":"video","codec_name":"mjpeg","width":10,"height":10}],
            "format":{"format_name":"avi","duration":"1.0"}}"#;
        assert!(
            parse(cover)
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

    #[test]
    fn only_allowed_containers_are_sources_and_pin_their_demuxer() {
        let mkv = br#"{"streams":[{"codec_type":"audio","codec_name":"opus"}],
            "format":{"format_name":"matroska,webm","duration":"3.0"}}"#;
        assert_eq!(parse(mkv).unwrap().demuxer, "matroska");
        for (format, says) in [
            ("hls", "HLS playlist"),
            ("dash", "DASH manifest"),
            ("concat", "concat list"),
            ("image2", "image"),
            ("srt", "srt format"),
        ] {
            let json = format!(
                r#"{{"streams":[{{"codec_type":"audio","codec_name":"aac"}}],
                "format":{{"format_name":"{format}","duration":"3.0"}}}}"#
            );
            let err = parse(json.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(says), "{format}: {err}");
        }
    }

    #[test]
    fn an_embedded_subtitle_file_is_refused() {
        let json =
            br#"{"streams":[{"codec_type":"video","codec_name":"rawvideo","width":16,"height":16},
            {"codec_type":"subtitle"}],"format":{"format_name":"avi","duration":"2.0"}}"#;
        assert!(
            parse(json)
                .unwrap_err()
                .to_string()
                .contains("subtitle file")
        );
        let named = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":16,"height":16},
            {"codec_type":"subtitle","codec_name":"subrip"}],"format":{"format_name":"matroska,webm","duration":"2.0"}}"#;
        assert!(parse(named).is_ok());
    }

    #[test]
    fn the_refused_demuxer_is_read_from_ffprobe_errors() {
        let said =
            "[hls @ 0x55dca3df2280] Format not on whitelist 'mov,avi'\nx: Invalid argument\n";
        assert_eq!(refused_demuxer(said), Some("hls"));
        assert_eq!(refused_demuxer("x.mp4: Invalid data found"), None);
    }
}
