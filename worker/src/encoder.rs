//! H.264 encoder detection for the transcode pipeline.
//!
//! ffmpeg lists every encoder it was *built* with (`ffmpeg -encoders`), whether or not the
//! machine has the hardware behind it: Debian's ffmpeg lists `h264_nvenc`, `h264_qsv` and
//! `h264_vaapi` on a box without any GPU, and they fail only when opened. So detection is two
//! steps:
//!
//! 1. [`parse_encoder_list`] + [`candidates`]: the encoders this ffmpeg build has, in
//!    [`VideoEncoder::PREFERENCE`] order (hardware first, `libx264` last);
//! 2. [`select`] / [`detect`]: each candidate in turn encodes 10 frames of a synthetic source
//!    with *exactly* the arguments a real transcode uses ([`VideoEncoder::input_args`],
//!    [`VideoEncoder::upload_filter`], [`VideoEncoder::output_args`]); the first that succeeds
//!    wins, and why each better one failed is kept for the log.
//!
//! [`EncoderCache`] runs that once per worker process and handles an encoder that passes the
//! probe but fails on a real job (driver crash, session limit): [`EncoderCache::fallback_after`]
//! marks it broken and validates the next candidate.
//!
//! Every encoder-specific argument lives in the [`SPECS`] table below and nowhere else.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

/// An H.264 encoder the pipeline knows how to drive.
///
/// The declaration order must match the rows of [`SPECS`] (a unit test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoEncoder {
    /// NVIDIA NVENC (`h264_nvenc`).
    Nvenc,
    /// Intel Quick Sync Video (`h264_qsv`).
    Qsv,
    /// VA-API, Intel or AMD on Linux (`h264_vaapi`).
    Vaapi,
    /// AMD AMF (`h264_amf`).
    Amf,
    /// Software x264 (`libx264`): slow but always works.
    Libx264,
}

/// The rate control of one ladder rung.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateControl {
    /// Target average bitrate, kbit/s.
    pub video_kbps: u32,
    /// Peak bitrate, kbit/s (VBV maximum rate).
    pub maxrate_kbps: u32,
    /// VBV buffer size, kbit.
    pub bufsize_kbps: u32,
    /// Fixed GOP length in frames: every `gop_frames`-th frame is an IDR frame and nothing
    /// else is, so segments of all rungs cut at the same frames.
    pub gop_frames: u32,
}

// ---------------------------------------------------------------------------------------------
// The encoder table: the ONE place with encoder-specific ffmpeg arguments.
// ---------------------------------------------------------------------------------------------

/// The value of a per-stream option in [`Spec::options`].
#[derive(Debug, Clone, Copy)]
enum Val {
    Lit(&'static str),
    /// The rung's GOP length ([`RateControl::gop_frames`]).
    Gop,
}

/// Everything ffmpeg needs to know to use one encoder.
#[derive(Debug)]
struct Spec {
    encoder: VideoEncoder,
    ffmpeg_name: &'static str,
    hardware: bool,
    /// Global arguments placed before `-i` (hardware device initialisation).
    input_args: &'static [&'static str],
    /// Filter appended to the end of each rung's video filter chain.
    upload_filter: Option<&'static str>,
    /// Per-output-stream options, each written as `-{name}:v:{N} {value}`, besides the common
    /// rate control (`-b`, `-maxrate`, `-bufsize`, `-g`) that [`VideoEncoder::output_args`]
    /// adds for every encoder.
    options: &'static [(&'static str, Val)],
}

use Val::{Gop, Lit};

/// Notes on the choices (all of them aim at HLS/DASH-friendly output: high profile, 8-bit
/// 4:2:0, a fixed closed GOP of `gop_frames` with IDR frames only at GOP boundaries, no
/// scene-cut keyframes, no B-frames used as references):
///
/// - **NVENC**: `p4`/`hq` is NVIDIA's balanced preset (needs driver ≥ 456, NVENC SDK 10;
///   older drivers fail the probe and are skipped). `-rc vbr` honours `-maxrate`/`-bufsize`.
///   NVENC's IDR period is its GOP length, so every GOP is closed; `no-scenecut` keeps
///   look-ahead (if a preset enables it) from adding I-frames, `forced-idr` makes keyframes
///   forced by the pipeline (`-force_key_frames`) IDR; `b_ref_mode disabled` avoids B-pyramids.
/// - **QSV**: a full-hardware path as in FFmpeg's QSV documentation: a QSV device is created
///   (`-init_hw_device qsv=hw`, on Linux on top of VA-API and the first render node) and made
///   the filter device; the rung's CPU-side chain ends with
///   `format=nv12,hwupload=extra_hw_frames=64,format=qsv`, which uploads into QSV surfaces
///   (the extra frames are the pool the encoder needs for its look-ahead and async depth).
///   `-b` < `-maxrate` selects VBR, `look_ahead 0` keeps it plain VBR, `adaptive_i 0` disables
///   scene-change I-frames, `idr_interval 0` makes every I-frame an IDR, `+cgop` closes GOPs.
/// - **VAAPI**: `-vaapi_device /dev/dri/renderD128` (first render node) creates the device and
///   makes it the filter device; `format=nv12,hwupload` uploads into VA surfaces. `rc_mode VBR`
///   with `-maxrate`; VAAPI has no scene-cut detection, `idr_interval 0` + `+cgop` close GOPs,
///   and its default `b_depth 1` means no B-pyramid.
/// - **AMF**: `usage transcoding`, `quality balanced`, `rc vbr_peak` (peak = `-maxrate`);
///   AMF's IDR period is `-g`; `bf_ref 0` stops B-frames being used as references.
///   (Only in Windows builds and Linux builds with AMD's AMF runtime; not in Debian's ffmpeg.)
/// - **libx264**: `veryfast` keeps software encoding of a whole ladder affordable;
///   `sc_threshold 0` / `scenecut=0` disable scene-cut keyframes; `keyint_min` = GOP (x264 caps
///   it at GOP/2+1, which with scene cuts off changes nothing); `open-gop=0` is the default
///   but is stated so that nobody's `-flags` override can turn open GOPs on.
///
/// The software-input encoders (NVENC, AMF, libx264) get `-pix_fmt yuv420p` so that 10-bit or
/// 4:2:2/4:4:4 sources are converted instead of breaking the high profile; QSV and VAAPI get
/// `format=nv12` in their upload filter for the same reason.
const SPECS: [Spec; 5] = [
    Spec {
        encoder: VideoEncoder::Nvenc,
        ffmpeg_name: "h264_nvenc",
        hardware: true,
        input_args: &[],
        upload_filter: None,
        options: &[
            ("pix_fmt", Lit("yuv420p")),
            ("preset", Lit("p4")),
            ("tune", Lit("hq")),
            ("profile", Lit("high")),
            ("rc", Lit("vbr")),
            ("no-scenecut", Lit("1")),
            ("forced-idr", Lit("1")),
            ("b_ref_mode", Lit("disabled")),
        ],
    },
    Spec {
        encoder: VideoEncoder::Qsv,
        ffmpeg_name: "h264_qsv",
        hardware: true,
        input_args: &["-init_hw_device", "qsv=hw", "-filter_hw_device", "hw"],
        upload_filter: Some("format=nv12,hwupload=extra_hw_frames=64,format=qsv"),
        options: &[
            ("preset", Lit("medium")),
            ("profile", Lit("high")),
            ("look_ahead", Lit("0")),
            ("adaptive_i", Lit("0")),
            ("idr_interval", Lit("0")),
            ("flags", Lit("+cgop")),
        ],
    },
    Spec {
        encoder: VideoEncoder::Vaapi,
        ffmpeg_name: "h264_vaapi",
        hardware: true,
        input_args: &["-vaapi_device", "/dev/dri/renderD128"],
        upload_filter: Some("format=nv12,hwupload"),
        options: &[
            ("profile", Lit("high")),
            ("rc_mode", Lit("VBR")),
            ("idr_interval", Lit("0")),
            ("flags", Lit("+cgop")),
        ],
    },
    Spec {
        encoder: VideoEncoder::Amf,
        ffmpeg_name: "h264_amf",
        hardware: true,
        input_args: &[],
        upload_filter: None,
        options: &[
            ("pix_fmt", Lit("yuv420p")),
            ("usage", Lit("transcoding")),
            ("quality", Lit("balanced")),
            ("profile", Lit("high")),
            ("rc", Lit("vbr_peak")),
            ("bf_ref", Lit("0")),
        ],
    },
    Spec {
        encoder: VideoEncoder::Libx264,
        ffmpeg_name: "libx264",
        hardware: false,
        input_args: &[],
        upload_filter: None,
        options: &[
            ("pix_fmt", Lit("yuv420p")),
            ("preset", Lit("veryfast")),
            ("profile", Lit("high")),
            ("keyint_min", Gop),
            ("sc_threshold", Lit("0")),
            ("x264-params", Lit("scenecut=0:open-gop=0")),
        ],
    },
];

impl VideoEncoder {
    /// Best first. `libx264` is last: it is the fallback that works everywhere.
    pub const PREFERENCE: [VideoEncoder; 5] = [
        VideoEncoder::Nvenc,
        VideoEncoder::Qsv,
        VideoEncoder::Vaapi,
        VideoEncoder::Amf,
        VideoEncoder::Libx264,
    ];

    fn spec(self) -> &'static Spec {
        let spec = &SPECS[self as usize];
        debug_assert_eq!(spec.encoder, self, "SPECS rows follow the enum order");
        spec
    }

    /// The encoder's name for `-c:v`: `h264_nvenc`, `h264_qsv`, `h264_vaapi`, `h264_amf`,
    /// `libx264`.
    pub fn ffmpeg_name(self) -> &'static str {
        self.spec().ffmpeg_name
    }

    pub fn is_hardware(self) -> bool {
        self.spec().hardware
    }

    /// Global arguments to place before `-i` (hardware device initialisation): VAAPI
    /// `-vaapi_device /dev/dri/renderD128`, QSV `-init_hw_device qsv=hw -filter_hw_device hw`;
    /// none for NVENC, AMF and libx264.
    pub fn input_args(self) -> Vec<String> {
        self.spec()
            .input_args
            .iter()
            .map(|&arg| arg.to_owned())
            .collect()
    }

    /// The filter to append at the end of each rung's video filter chain (after scaling, on
    /// the CPU side): VAAPI `format=nv12,hwupload`, QSV
    /// `format=nv12,hwupload=extra_hw_frames=64,format=qsv`; `None` for the encoders that take
    /// system-memory frames (NVENC, AMF, libx264).
    pub fn upload_filter(self) -> Option<&'static str> {
        self.spec().upload_filter
    }

    /// Encoder arguments for output video stream `stream` (every option carries the `:v:N`
    /// stream specifier) with the rung's rate control: the codec, the encoder's options from
    /// the table, then `-b`, `-maxrate`, `-bufsize` (kbit/s, written as `…k`) and `-g`.
    pub fn output_args(self, stream: usize, rate: RateControl) -> Vec<String> {
        let spec = self.spec();
        let per_stream = |name: &str| format!("-{name}:v:{stream}");
        let mut args = vec![per_stream("c"), spec.ffmpeg_name.to_owned()];
        for &(name, value) in spec.options {
            args.push(per_stream(name));
            args.push(match value {
                Lit(text) => text.to_owned(),
                Gop => rate.gop_frames.to_string(),
            });
        }
        args.extend([
            per_stream("b"),
            format!("{}k", rate.video_kbps),
            per_stream("maxrate"),
            format!("{}k", rate.maxrate_kbps),
            per_stream("bufsize"),
            format!("{}k", rate.bufsize_kbps),
            per_stream("g"),
            rate.gop_frames.to_string(),
        ]);
        args
    }
}

impl fmt::Display for VideoEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ffmpeg_name())
    }
}

// ---------------------------------------------------------------------------------------------
// Detection.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("ffmpeg not runnable ({}): {source}", ffmpeg.display())]
    Spawn {
        ffmpeg: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{} -encoders` failed: {reason}", ffmpeg.display())]
    EncoderList { ffmpeg: PathBuf, reason: String },
    #[error("no usable H.264 encoder: {0}")]
    NoneUsable(String),
}

/// The outcome of [`select`]: the encoder to use and why each better candidate was rejected
/// (in preference order), for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub encoder: VideoEncoder,
    pub rejected: Vec<(VideoEncoder, String)>,
}

/// How long one validation encode may take before it is killed and the candidate rejected.
pub const VALIDATE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `ffmpeg -encoders` may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(20);
/// The synthetic source of a validation encode.
const PROBE_SOURCE: &str = "testsrc2=size=320x240:rate=30";
const PROBE_FRAMES: &str = "10";
/// A plausible low rung, so the probe exercises the same rate-control path as real jobs.
const PROBE_RATE: RateControl = RateControl {
    video_kbps: 400,
    maxrate_kbps: 428,
    bufsize_kbps: 600,
    gop_frames: 60,
};

/// Parses `ffmpeg -hide_banner -encoders` output into the set of encoder names.
///
/// Entries look like ` V....D libx264  libx264 H.264 / AVC …`: a capability column, the name,
/// the description. The legend above the ` ------` line is skipped; if that line is missing
/// (an unexpected format), legend lines are still recognised by their `=` in the name column.
pub fn parse_encoder_list(output: &str) -> HashSet<String> {
    let first_entry = output
        .lines()
        .position(|line| line.trim() == "------")
        .map_or(0, |separator| separator + 1);
    output
        .lines()
        .skip(first_entry)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let flags = fields.next()?;
            let name = fields.next()?;
            let is_flags = flags.len() == 6 && flags.chars().all(|c| "VASFXBD.".contains(c));
            (is_flags && name != "=").then(|| name.to_owned())
        })
        .collect()
}

/// The encoders of [`VideoEncoder::PREFERENCE`] that ffmpeg lists, best first. `libx264` is
/// always last, and is not a candidate if this ffmpeg was built without it.
pub fn candidates(available: &HashSet<String>) -> Vec<VideoEncoder> {
    VideoEncoder::PREFERENCE
        .into_iter()
        .filter(|encoder| available.contains(encoder.ffmpeg_name()))
        .collect()
}

/// Picks the first of `candidates` for which `validate` succeeds, recording why each earlier
/// one failed. If none passes: [`EncoderError::NoneUsable`] with every reason.
pub async fn select<F, Fut>(
    candidates: &[VideoEncoder],
    validate: F,
) -> Result<Selection, EncoderError>
where
    F: FnMut(VideoEncoder) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let (chosen, rejected) = try_in_order(candidates, validate).await;
    match chosen {
        Some(encoder) => Ok(Selection { encoder, rejected }),
        None => Err(EncoderError::NoneUsable(describe_failures(&rejected))),
    }
}

/// [`select`] without giving up the rejections on failure.
async fn try_in_order<F, Fut>(
    candidates: &[VideoEncoder],
    mut validate: F,
) -> (Option<VideoEncoder>, Vec<(VideoEncoder, String)>)
where
    F: FnMut(VideoEncoder) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut rejected = Vec::new();
    for &encoder in candidates {
        match validate(encoder).await {
            Ok(()) => return (Some(encoder), rejected),
            Err(reason) => rejected.push((encoder, reason)),
        }
    }
    (None, rejected)
}

fn describe_failures(failures: &[(VideoEncoder, String)]) -> String {
    if failures.is_empty() {
        let known: Vec<_> = VideoEncoder::PREFERENCE
            .iter()
            .map(|encoder| encoder.ffmpeg_name())
            .collect();
        return format!("ffmpeg lists none of {}", known.join(", "));
    }
    failures
        .iter()
        .map(|(encoder, reason)| format!("{encoder}: {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs `{ffmpeg} -hide_banner -encoders` and parses the list.
pub async fn list_encoders(ffmpeg: &Path) -> Result<HashSet<String>, EncoderError> {
    let mut command = Command::new(ffmpeg);
    command.args(["-hide_banner", "-nostdin", "-encoders"]);
    let list_error = |reason: String| EncoderError::EncoderList {
        ffmpeg: ffmpeg.to_owned(),
        reason,
    };
    let output = match run_with_timeout(command, LIST_TIMEOUT).await {
        Ok(output) => output,
        Err(RunError::Spawn(source)) => {
            return Err(EncoderError::Spawn {
                ffmpeg: ffmpeg.to_owned(),
                source,
            });
        }
        Err(other) => return Err(list_error(other.to_string())),
    };
    if !output.status.success() {
        return Err(list_error(format!(
            "{}: {}",
            output.status,
            stderr_summary(&output.stderr)
        )));
    }
    Ok(parse_encoder_list(&String::from_utf8_lossy(&output.stdout)))
}

/// The ffmpeg arguments of a validation encode: 10 frames of `testsrc2` through the encoder's
/// device setup, upload filter and output arguments (as output stream 0 of a filter graph, the
/// way the ladder uses them) into the null muxer. [`crate::ffmpeg::command`] adds the banner
/// and log settings.
fn validation_args(encoder: VideoEncoder) -> Vec<String> {
    let mut args = encoder.input_args();
    let chain = encoder.upload_filter().unwrap_or("null");
    args.extend(
        [
            "-f",
            "lavfi",
            "-i",
            PROBE_SOURCE,
            "-filter_complex",
            &format!("[0:v]{chain}[v0]"),
            "-map",
            "[v0]",
            "-frames:v",
            PROBE_FRAMES,
        ]
        .map(String::from),
    );
    args.extend(encoder.output_args(0, PROBE_RATE));
    args.extend(["-f", "null", "-"].map(String::from));
    args
}

/// Encodes 10 test frames with `encoder`; `Err` holds a one-line reason (ffmpeg's last error
/// line). Killed and rejected after [`VALIDATE_TIMEOUT`].
pub async fn validate(ffmpeg: &Path, encoder: VideoEncoder) -> Result<(), String> {
    let mut command = crate::ffmpeg::command(ffmpeg);
    command.args(validation_args(encoder));
    match tokio::time::timeout(VALIDATE_TIMEOUT, crate::ffmpeg::run(command, |_| async {})).await {
        Ok(result) => result,
        // Dropping the run killed ffmpeg.
        Err(_elapsed) => Err(RunError::TimedOut(VALIDATE_TIMEOUT).to_string()),
    }
}

/// Real detection: lists ffmpeg's encoders, then validates the candidates in preference order.
/// Logs the choice (`info`) and each rejection (`warn`).
pub async fn detect(ffmpeg: &Path) -> Result<Selection, EncoderError> {
    let available = list_encoders(ffmpeg).await?;
    let candidates = candidates(&available);
    let (chosen, rejected) = try_in_order(&candidates, |encoder| validate(ffmpeg, encoder)).await;
    log_outcome(chosen, &rejected);
    match chosen {
        Some(encoder) => Ok(Selection { encoder, rejected }),
        None => Err(EncoderError::NoneUsable(describe_failures(&rejected))),
    }
}

fn log_outcome(chosen: Option<VideoEncoder>, rejected: &[(VideoEncoder, String)]) {
    for (encoder, reason) in rejected {
        tracing::warn!(%encoder, %reason, "H.264 encoder unusable");
    }
    match chosen {
        Some(encoder) => {
            tracing::info!(%encoder, hardware = encoder.is_hardware(), "H.264 encoder selected")
        }
        None => tracing::error!("no usable H.264 encoder"),
    }
}

// ---------------------------------------------------------------------------------------------
// Running ffmpeg with a deadline.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("could not start: {0}")]
    Spawn(std::io::Error),
    #[error("waiting for it failed: {0}")]
    Wait(std::io::Error),
    #[error("timed out after {} s (killed)", .0.as_secs())]
    TimedOut(Duration),
}

/// Runs `command` to completion, collecting stdout and stderr. On timeout the child is killed
/// (SIGKILL, through `kill_on_drop` when the output future is dropped) and tokio reaps it in the
/// background.
async fn run_with_timeout(mut command: Command, limit: Duration) -> Result<Output, RunError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(RunError::Spawn)?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(result) => result.map_err(RunError::Wait),
        Err(_elapsed) => Err(RunError::TimedOut(limit)),
    }
}

/// The last few non-empty lines of ffmpeg's stderr, on one line, at most ~400 characters.
fn stderr_summary(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        return "no error output".to_owned();
    }
    let joined = lines[lines.len().saturating_sub(3)..].join(" | ");
    const MAX: usize = 400;
    if joined.len() <= MAX {
        return joined;
    }
    let mut start = joined.len() - MAX;
    while !joined.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &joined[start..])
}

// ---------------------------------------------------------------------------------------------
// Per-process cache.
// ---------------------------------------------------------------------------------------------

/// Detects the encoder once per worker process and keeps track of encoders that broke.
///
/// - [`preferred`](Self::preferred) runs detection on first use (later callers wait for it) and
///   then answers from memory. A failure to *run* ffmpeg is not cached (the next call tries
///   again); a candidate that fails validation stays rejected for the life of the process.
/// - [`fallback_after`](Self::fallback_after) is for an encoder that passed validation but
///   failed on a real job: it is marked broken for this process and the next candidate in
///   preference order that is not broken is validated and becomes the preferred encoder for
///   every later job. When `libx264` itself is reported broken nothing is left and the result
///   is [`EncoderError::NoneUsable`] (from then on `preferred` returns that error too, at once:
///   a worker whose libx264 fails cannot transcode until it is restarted).
/// - Reporting an encoder that is no longer the preferred one (a job that started before an
///   earlier fallback) marks it broken and returns the current encoder without new probes.
pub struct EncoderCache {
    backend: Backend,
    state: tokio::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// The encoders ffmpeg lists, in preference order; `None` until listed successfully.
    candidates: Option<Vec<VideoEncoder>>,
    /// The validated encoder in use, if any.
    current: Option<VideoEncoder>,
    /// Encoders rejected by validation or reported broken, with the reason.
    broken: HashMap<VideoEncoder, String>,
}

/// Where the cache gets encoder lists and validation results from.
enum Backend {
    Ffmpeg(PathBuf),
    #[cfg(test)]
    Fake {
        available: HashSet<String>,
        validate: Box<dyn Fn(VideoEncoder) -> Result<(), String> + Send + Sync>,
    },
}

impl Backend {
    async fn list(&self) -> Result<HashSet<String>, EncoderError> {
        match self {
            Backend::Ffmpeg(ffmpeg) => list_encoders(ffmpeg).await,
            #[cfg(test)]
            Backend::Fake { available, .. } => Ok(available.clone()),
        }
    }

    async fn validate(&self, encoder: VideoEncoder) -> Result<(), String> {
        match self {
            Backend::Ffmpeg(ffmpeg) => validate(ffmpeg, encoder).await,
            #[cfg(test)]
            Backend::Fake { validate, .. } => validate(encoder),
        }
    }
}

impl EncoderCache {
    pub fn new(ffmpeg: PathBuf) -> Self {
        EncoderCache::with_backend(Backend::Ffmpeg(ffmpeg))
    }

    fn with_backend(backend: Backend) -> Self {
        EncoderCache {
            backend,
            state: tokio::sync::Mutex::new(CacheState::default()),
        }
    }

    /// The encoder to use for new jobs (detected on first call).
    pub async fn preferred(&self) -> Result<VideoEncoder, EncoderError> {
        let mut state = self.state.lock().await;
        self.resolve(&mut state).await
    }

    /// Marks `failed` broken for this process and returns the next validated candidate.
    pub async fn fallback_after(&self, failed: VideoEncoder) -> Result<VideoEncoder, EncoderError> {
        let mut state = self.state.lock().await;
        tracing::warn!(encoder = %failed, "H.264 encoder failed during a job; not using it again in this process");
        state
            .broken
            .entry(failed)
            .or_insert_with(|| "failed during a job".to_owned());
        if state.current == Some(failed) {
            state.current = None;
        }
        self.resolve(&mut state).await
    }

    async fn resolve(&self, state: &mut CacheState) -> Result<VideoEncoder, EncoderError> {
        if let Some(encoder) = state.current {
            return Ok(encoder);
        }
        let candidates = match &state.candidates {
            Some(candidates) => candidates.clone(),
            None => {
                let listed = candidates(&self.backend.list().await?);
                state.candidates = Some(listed.clone());
                listed
            }
        };
        let untried: Vec<VideoEncoder> = candidates
            .iter()
            .copied()
            .filter(|encoder| !state.broken.contains_key(encoder))
            .collect();
        let (chosen, rejected) =
            try_in_order(&untried, |encoder| self.backend.validate(encoder)).await;
        if !untried.is_empty() {
            log_outcome(chosen, &rejected);
        }
        state.broken.extend(rejected);
        match chosen {
            Some(encoder) => {
                state.current = Some(encoder);
                Ok(encoder)
            }
            None => {
                let failures: Vec<(VideoEncoder, String)> = candidates
                    .iter()
                    .filter_map(|encoder| {
                        let reason = state.broken.get(encoder)?;
                        Some((*encoder, reason.clone()))
                    })
                    .collect();
                Err(EncoderError::NoneUsable(describe_failures(&failures)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use VideoEncoder::*;

    /// Trimmed from `ffmpeg -hide_banner -encoders` of Debian 12's ffmpeg 5.1.
    const FFMPEG_5_1_ENCODERS: &str = "\
Encoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 .F.... = Frame-level multithreading
 ..S... = Slice-level multithreading
 ...X.. = Codec is experimental
 ....B. = Supports draw_horiz_band
 .....D = Supports direct rendering method 1
 ------
 V....D a64multi             Multicolor charset for Commodore 64 (codec a64_multi)
 V.S... h263p                H.263+ / H.263-1998 / H.263 version 2
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264rgb           libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 RGB (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V..... h264_omx             OpenMAX IL H.264 video encoder (codec h264)
 V..... h264_qsv             H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (Intel Quick Sync Video acceleration) (codec h264)
 V..... h264_v4l2m2m         V4L2 mem2mem H.264 encoder wrapper (codec h264)
 V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)
 V....D hevc_nvenc           NVIDIA NVENC hevc encoder (codec hevc)
 VF.... huffyuv              Huffyuv / HuffYUV
 A..... aac                  AAC (Advanced Audio Coding)
 A....D ac3                  ATSC A/52A (AC-3)
 A..... libopus              libopus Opus (codec opus)
 S..... mov_text             3GPP Timed Text subtitle
 S..... webvtt               WebVTT subtitle
";

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    const RUNG: RateControl = RateControl {
        video_kbps: 3000,
        maxrate_kbps: 3210,
        bufsize_kbps: 4500,
        gop_frames: 60,
    };

    #[test]
    fn the_table_rows_follow_the_enum_order() {
        for (index, spec) in SPECS.iter().enumerate() {
            assert_eq!(spec.encoder as usize, index, "{spec:?}");
        }
        assert_eq!(VideoEncoder::PREFERENCE.last(), Some(&Libx264));
    }

    #[test]
    fn parses_a_captured_encoder_listing() {
        let names = parse_encoder_list(FFMPEG_5_1_ENCODERS);
        for expected in [
            "libx264",
            "h264_nvenc",
            "h264_qsv",
            "h264_vaapi",
            "aac",
            "libopus",
            "webvtt",
            "a64multi",
        ] {
            assert!(
                names.contains(expected),
                "{expected} missing from {names:?}"
            );
        }
        assert_eq!(names.len(), 16, "{names:?}");
        // Nothing from the legend.
        assert!(!names.contains("="));
        assert!(!names.contains("Video"));
        assert!(!names.contains("------"));
        assert!(!names.contains("Encoders:"));
    }

    #[test]
    fn parses_a_listing_without_the_separator_and_garbage() {
        let names = parse_encoder_list(" V..... = Video\n V....D libx264  x264\nnot a line\n\n");
        assert_eq!(names, set(&["libx264"]));
        assert!(parse_encoder_list("").is_empty());
    }

    #[test]
    fn candidates_follow_the_preference_order() {
        let all = set(&[
            "libx264",
            "h264_amf",
            "h264_vaapi",
            "aac",
            "h264_qsv",
            "h264_nvenc",
        ]);
        assert_eq!(candidates(&all), vec![Nvenc, Qsv, Vaapi, Amf, Libx264]);

        let gpu_only = set(&["h264_vaapi", "h264_nvenc", "aac"]);
        assert_eq!(candidates(&gpu_only), vec![Nvenc, Vaapi]);

        assert_eq!(candidates(&set(&["libx264", "aac"])), vec![Libx264]);
        assert_eq!(candidates(&set(&["aac", "libx265"])), vec![]);

        let captured = parse_encoder_list(FFMPEG_5_1_ENCODERS);
        assert_eq!(candidates(&captured), vec![Nvenc, Qsv, Vaapi, Libx264]);
    }

    #[tokio::test]
    async fn select_skips_a_failing_encoder_and_records_why() {
        let mut tried = Vec::new();
        let selection = select(&[Nvenc, Qsv, Libx264], |encoder| {
            tried.push(encoder);
            async move {
                match encoder {
                    Nvenc => Err("Cannot load libcuda.so.1".to_owned()),
                    _ => Ok(()),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(
            selection,
            Selection {
                encoder: Qsv,
                rejected: vec![(Nvenc, "Cannot load libcuda.so.1".to_owned())],
            }
        );
        assert_eq!(tried, vec![Nvenc, Qsv], "stops at the first success");
    }

    #[tokio::test]
    async fn select_reports_every_reason_when_nothing_works() {
        let err = select(&[Nvenc, Vaapi, Libx264], |encoder| async move {
            Err(format!("{encoder} is broken"))
        })
        .await
        .unwrap_err();
        let EncoderError::NoneUsable(message) = &err else {
            panic!("{err:?}");
        };
        for expected in [
            "h264_nvenc: h264_nvenc is broken",
            "h264_vaapi: h264_vaapi is broken",
            "libx264: libx264 is broken",
        ] {
            assert!(message.contains(expected), "{message}");
        }
        assert!(err.to_string().starts_with("no usable H.264 encoder: "));

        let err = select(&[], |_| async { Ok(()) }).await.unwrap_err();
        assert!(err.to_string().contains("ffmpeg lists none of"), "{err}");
    }

    /// `-opt:v:N value` pairs, so a test can look options up.
    fn pairs(args: &[String]) -> Vec<(&str, &str)> {
        assert_eq!(args.len() % 2, 0, "options come in pairs: {args:?}");
        args.chunks(2)
            .map(|pair| (pair[0].as_str(), pair[1].as_str()))
            .collect()
    }

    #[test]
    fn output_args_carry_the_rate_control_and_the_stream_index() {
        for encoder in VideoEncoder::PREFERENCE {
            let args = encoder.output_args(2, RUNG);
            let pairs = pairs(&args);
            for (name, _) in &pairs {
                assert!(
                    name.starts_with('-') && name.ends_with(":v:2"),
                    "{encoder}: {name} lacks the stream specifier in {args:?}"
                );
            }
            for expected in [
                ("-c:v:2", encoder.ffmpeg_name()),
                ("-b:v:2", "3000k"),
                ("-maxrate:v:2", "3210k"),
                ("-bufsize:v:2", "4500k"),
                ("-g:v:2", "60"),
                ("-profile:v:2", "high"),
            ] {
                assert!(
                    pairs.contains(&expected),
                    "{encoder}: {expected:?} missing in {args:?}"
                );
            }
            let names: HashSet<_> = pairs.iter().map(|(name, _)| name).collect();
            assert_eq!(
                names.len(),
                pairs.len(),
                "{encoder}: an option is repeated: {args:?}"
            );
        }

        let other_stream = Libx264.output_args(0, RUNG);
        assert_eq!(other_stream[0], "-c:v:0");
    }

    #[test]
    fn output_args_per_encoder() {
        let x264 = Libx264.output_args(1, RUNG);
        assert_eq!(
            x264,
            [
                "-c:v:1",
                "libx264",
                "-pix_fmt:v:1",
                "yuv420p",
                "-preset:v:1",
                "veryfast",
                "-profile:v:1",
                "high",
                "-keyint_min:v:1",
                "60",
                "-sc_threshold:v:1",
                "0",
                "-x264-params:v:1",
                "scenecut=0:open-gop=0",
                "-b:v:1",
                "3000k",
                "-maxrate:v:1",
                "3210k",
                "-bufsize:v:1",
                "4500k",
                "-g:v:1",
                "60",
            ]
        );
        let gop_90 = RateControl {
            gop_frames: 90,
            ..RUNG
        };
        let x264 = Libx264.output_args(0, gop_90);
        assert!(pairs(&x264).contains(&("-keyint_min:v:0", "90")));
        assert!(pairs(&x264).contains(&("-g:v:0", "90")));

        let nvenc = Nvenc.output_args(0, RUNG);
        for expected in [
            ("-preset:v:0", "p4"),
            ("-tune:v:0", "hq"),
            ("-rc:v:0", "vbr"),
            ("-no-scenecut:v:0", "1"),
            ("-forced-idr:v:0", "1"),
            ("-b_ref_mode:v:0", "disabled"),
        ] {
            assert!(
                pairs(&nvenc).contains(&expected),
                "{expected:?} in {nvenc:?}"
            );
        }
        let qsv = Qsv.output_args(0, RUNG);
        for expected in [
            ("-look_ahead:v:0", "0"),
            ("-adaptive_i:v:0", "0"),
            ("-flags:v:0", "+cgop"),
        ] {
            assert!(pairs(&qsv).contains(&expected), "{expected:?} in {qsv:?}");
        }
        let vaapi = Vaapi.output_args(0, RUNG);
        assert!(
            pairs(&vaapi).contains(&("-rc_mode:v:0", "VBR")),
            "{vaapi:?}"
        );
        let amf = Amf.output_args(0, RUNG);
        for expected in [
            ("-quality:v:0", "balanced"),
            ("-rc:v:0", "vbr_peak"),
            ("-bf_ref:v:0", "0"),
        ] {
            assert!(pairs(&amf).contains(&expected), "{expected:?} in {amf:?}");
        }
    }

    #[test]
    fn device_setup_and_upload() {
        assert_eq!(Vaapi.input_args(), ["-vaapi_device", "/dev/dri/renderD128"]);
        assert_eq!(Vaapi.upload_filter(), Some("format=nv12,hwupload"));
        assert_eq!(
            Qsv.input_args(),
            ["-init_hw_device", "qsv=hw", "-filter_hw_device", "hw"]
        );
        assert_eq!(
            Qsv.upload_filter(),
            Some("format=nv12,hwupload=extra_hw_frames=64,format=qsv")
        );
        for encoder in [Nvenc, Amf, Libx264] {
            assert!(encoder.input_args().is_empty(), "{encoder}");
            assert_eq!(encoder.upload_filter(), None, "{encoder}");
        }
        for encoder in [Nvenc, Qsv, Vaapi, Amf] {
            assert!(encoder.is_hardware(), "{encoder}");
        }
        assert!(!Libx264.is_hardware());
        assert_eq!(
            VideoEncoder::PREFERENCE.map(VideoEncoder::ffmpeg_name),
            [
                "h264_nvenc",
                "h264_qsv",
                "h264_vaapi",
                "h264_amf",
                "libx264"
            ]
        );
        assert_eq!(Qsv.to_string(), "h264_qsv");
    }

    #[test]
    fn validation_runs_the_pipeline_arguments() {
        let args = validation_args(Vaapi);
        let device = args.iter().position(|arg| arg == "-vaapi_device").unwrap();
        let input = args.iter().position(|arg| arg == "-i").unwrap();
        assert!(device < input, "device setup goes before -i: {args:?}");
        assert_eq!(args[input + 1], "testsrc2=size=320x240:rate=30");
        assert!(
            args.contains(&"[0:v]format=nv12,hwupload[v0]".to_owned()),
            "{args:?}"
        );
        assert!(args.ends_with(&["-f".to_owned(), "null".to_owned(), "-".to_owned()]));
        let encoder_args = Vaapi.output_args(0, PROBE_RATE);
        assert!(
            args.windows(encoder_args.len()).any(|w| w == encoder_args),
            "{args:?}"
        );
        assert!(validation_args(Libx264).contains(&"[0:v]null[v0]".to_owned()));
    }

    #[test]
    fn stderr_summaries_are_short() {
        assert_eq!(stderr_summary(b""), "no error output");
        assert_eq!(stderr_summary(b"a\n\n b \nc\nd\n"), "b | c | d");
        let long = "é".repeat(1000);
        let summary = stderr_summary(long.as_bytes());
        assert!(summary.len() <= 404, "{}", summary.len());
    }

    #[tokio::test]
    async fn a_hung_process_is_killed_at_the_deadline() {
        let pid_file = std::env::temp_dir().join(format!(
            "ferrotape-encoder-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("echo $$ > '{}'; exec sleep 30", pid_file.display()));
        let started = Instant::now();
        let result = run_with_timeout(command, Duration::from_millis(500)).await;
        assert!(matches!(result, Err(RunError::TimedOut(_))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let pid = std::fs::read_to_string(&pid_file).expect("the child wrote its pid");
        let _ = std::fs::remove_file(&pid_file);
        let stat = format!("/proc/{}/stat", pid.trim());
        // Killed: gone, or a zombie until tokio's orphan reaper collects it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::read_to_string(&stat) {
                Err(_) => break,
                Ok(text)
                    if text
                        .rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z') =>
                {
                    break;
                }
                Ok(text) => {
                    assert!(Instant::now() < deadline, "still running: {text}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Needs ffmpeg on PATH (`make test` guarantees it); fails loudly without it.
    #[tokio::test]
    async fn detects_the_encoder_of_this_machine() {
        let ffmpeg = Path::new("ffmpeg");
        let started = Instant::now();
        let selection = match detect(ffmpeg).await {
            Ok(selection) => selection,
            Err(err @ EncoderError::Spawn { .. }) => {
                panic!("this test needs ffmpeg on PATH (make test provides it): {err}")
            }
            Err(err) => panic!("detection failed: {err}"),
        };
        let elapsed = started.elapsed();
        eprintln!("detection took {elapsed:?}: {selection:?}");

        let listed = candidates(&list_encoders(ffmpeg).await.unwrap());
        let position = listed.iter().position(|&e| e == selection.encoder).unwrap();
        let rejected: Vec<VideoEncoder> = selection.rejected.iter().map(|(e, _)| *e).collect();
        assert_eq!(
            rejected,
            listed[..position],
            "every better listed encoder was tried and rejected"
        );
        for (encoder, reason) in &selection.rejected {
            assert!(
                !reason.trim().is_empty(),
                "{encoder} rejected without a reason"
            );
        }

        // This machine (and CI) has no GPU: the hardware encoders that Debian's ffmpeg lists
        // must fail their probe and libx264 must win.
        let has_gpu = Path::new("/dev/dri").exists() || Path::new("/dev/nvidia0").exists();
        if !has_gpu {
            assert_eq!(selection.encoder, Libx264, "{selection:?}");
            assert!(rejected.iter().all(|e| e.is_hardware()), "{selection:?}");
            assert_eq!(rejected, listed[..listed.len() - 1]);
        }
        assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    }

    #[tokio::test]
    async fn detection_reports_a_missing_ffmpeg() {
        let missing = Path::new("/nonexistent/ffmpeg");
        let err = detect(missing).await.unwrap_err();
        assert!(matches!(err, EncoderError::Spawn { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("ffmpeg not runnable (/nonexistent/ffmpeg)"),
            "{err}"
        );

        let cache = EncoderCache::new(missing.to_owned());
        assert!(matches!(
            cache.preferred().await,
            Err(EncoderError::Spawn { .. })
        ));
        // Not cached: a second call tries again (and fails again the same way).
        assert!(matches!(
            cache.preferred().await,
            Err(EncoderError::Spawn { .. })
        ));
    }

    /// A cache over a fake ffmpeg that lists `listed` and on which the encoders in `working`
    /// pass validation; returns the log of validations.
    fn fake_cache(
        listed: &[&str],
        working: &[VideoEncoder],
    ) -> (EncoderCache, Arc<Mutex<Vec<VideoEncoder>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let working: Vec<VideoEncoder> = working.to_vec();
        let log = calls.clone();
        let cache = EncoderCache::with_backend(Backend::Fake {
            available: set(listed),
            validate: Box::new(move |encoder| {
                log.lock().unwrap().push(encoder);
                if working.contains(&encoder) {
                    Ok(())
                } else {
                    Err(format!("no {encoder} device"))
                }
            }),
        });
        (cache, calls)
    }

    fn take(calls: &Mutex<Vec<VideoEncoder>>) -> Vec<VideoEncoder> {
        std::mem::take(&mut *calls.lock().unwrap())
    }

    #[tokio::test]
    async fn the_cache_detects_once() {
        let (cache, calls) = fake_cache(
            &["h264_nvenc", "h264_qsv", "h264_vaapi", "libx264"],
            &[Qsv, Vaapi, Libx264],
        );
        assert_eq!(cache.preferred().await.unwrap(), Qsv);
        assert_eq!(take(&calls), vec![Nvenc, Qsv]);
        assert_eq!(cache.preferred().await.unwrap(), Qsv);
        assert_eq!(cache.preferred().await.unwrap(), Qsv);
        assert_eq!(take(&calls), vec![], "answered from the cache");
    }

    #[tokio::test]
    async fn the_cache_falls_back_down_to_libx264_and_then_gives_up() {
        let (cache, calls) = fake_cache(
            &["h264_nvenc", "h264_qsv", "h264_vaapi", "libx264"],
            &[Nvenc, Qsv, Vaapi, Libx264],
        );
        assert_eq!(cache.preferred().await.unwrap(), Nvenc);
        assert_eq!(take(&calls), vec![Nvenc]);

        // NVENC broke mid-job: QSV is validated and becomes the preferred encoder.
        assert_eq!(cache.fallback_after(Nvenc).await.unwrap(), Qsv);
        assert_eq!(take(&calls), vec![Qsv]);
        assert_eq!(cache.preferred().await.unwrap(), Qsv);
        // A late report from another job that was still on NVENC changes nothing.
        assert_eq!(cache.fallback_after(Nvenc).await.unwrap(), Qsv);
        assert_eq!(take(&calls), vec![]);

        assert_eq!(cache.fallback_after(Qsv).await.unwrap(), Vaapi);
        assert_eq!(cache.fallback_after(Vaapi).await.unwrap(), Libx264);
        assert_eq!(take(&calls), vec![Vaapi, Libx264]);

        // libx264 failing leaves nothing.
        let err = cache.fallback_after(Libx264).await.unwrap_err();
        let EncoderError::NoneUsable(message) = &err else {
            panic!("{err:?}");
        };
        for encoder in [Nvenc, Qsv, Vaapi, Libx264] {
            assert!(
                message.contains(&format!("{encoder}: failed during a job")),
                "{message}"
            );
        }
        // ... for good, without probing again.
        assert!(matches!(
            cache.preferred().await,
            Err(EncoderError::NoneUsable(_))
        ));
        assert!(matches!(
            cache.fallback_after(Libx264).await,
            Err(EncoderError::NoneUsable(_))
        ));
        assert_eq!(take(&calls), vec![]);
    }

    #[tokio::test]
    async fn the_cache_fallback_skips_encoders_that_never_validated() {
        let (cache, calls) =
            fake_cache(&["h264_nvenc", "h264_vaapi", "libx264"], &[Vaapi, Libx264]);
        assert_eq!(cache.preferred().await.unwrap(), Vaapi);
        assert_eq!(take(&calls), vec![Nvenc, Vaapi]);
        // NVENC already failed validation: it is not probed again.
        assert_eq!(cache.fallback_after(Vaapi).await.unwrap(), Libx264);
        assert_eq!(take(&calls), vec![Libx264]);
    }

    #[tokio::test]
    async fn the_cache_without_any_working_encoder() {
        let (cache, calls) = fake_cache(&["h264_nvenc"], &[]);
        let err = cache.preferred().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "no usable H.264 encoder: h264_nvenc: no h264_nvenc device"
        );
        assert_eq!(take(&calls), vec![Nvenc]);
        assert!(cache.preferred().await.is_err());
        assert_eq!(
            take(&calls),
            vec![],
            "a rejected candidate is not probed again"
        );
    }

    #[tokio::test]
    async fn the_cache_with_the_real_ffmpeg() {
        let cache = Arc::new(EncoderCache::new(PathBuf::from("ffmpeg")));
        // Shared between tasks, as the worker does.
        let task = tokio::spawn({
            let cache = cache.clone();
            async move { cache.preferred().await }
        });
        let first = match task.await.unwrap() {
            Ok(encoder) => encoder,
            Err(err @ EncoderError::Spawn { .. }) => {
                panic!("this test needs ffmpeg on PATH (make test provides it): {err}")
            }
            Err(err) => panic!("detection failed: {err}"),
        };
        assert_eq!(cache.preferred().await.unwrap(), first);
        if first == Libx264 {
            let err = cache.fallback_after(Libx264).await.unwrap_err();
            assert!(matches!(err, EncoderError::NoneUsable(_)), "{err:?}");
        } else {
            // A machine with a working GPU: reporting it broken falls back further.
            let next = cache.fallback_after(first).await.unwrap();
            assert_ne!(next, first);
        }
    }
}
