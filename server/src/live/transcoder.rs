//! The live transcoder: for every push the publish webhook allows, one ffmpeg reads the stream
//! back from the ingest (`rtmp://…/{app}/{key}`, which plays to loopback only) and writes a
//! ladder of fMP4 HLS renditions with 1 s segments and keyframes on the same instants in every
//! rung, from one decode, with the encoder the VOD pipeline detected (GPU when there is one).
//! `passthrough` copies the source instead, for machines that cannot encode in real time.
//!
//! Each push of a session is a run in a folder of its own:
//! `<root>/<stream>/<session>/r{n}/{rendition}/…` (and `r{n}/master.m3u8`). `live::playlists`
//! serves the session's renditions across runs (`model::live_hls::compose`), so a publisher
//! that reconnects within the window continues the same playlists. The session's ladder is
//! chosen by the first run from the probed source and kept in `session.json`: later runs
//! encode to the same renditions, so the master stays valid.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotape_model::ladder::{Rung, SourceVideo, ladder};
use ferrotape_worker::encoder::{EncoderCache, RateControl, VideoEncoder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Segment length of live renditions (and their keyframe interval).
pub const LIVE_SEGMENT_SECS: u32 = 1;
/// At most this many renditions are encoded live (the highest the source allows).
pub const MAX_LIVE_RUNGS: usize = 3;
/// How long ffmpeg waits on a silent ingest before it gives up (the push is gone).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How pushes are turned into HLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LiveMode {
    /// A ladder of up to three renditions, encoded.
    Ladder,
    /// The source as it is (no encoding): its keyframe interval sets the segment length.
    Passthrough,
}

#[derive(Debug, Clone)]
pub struct TranscoderSettings {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Where pushes are read back from: `rtmp://127.0.0.1:1935/live` (the key is appended).
    pub pull_base: String,
    /// `<data dir>/live/hls`.
    pub root: PathBuf,
    pub mode: LiveMode,
    /// Seconds of the stream the playlists keep (how far back viewers can seek).
    pub dvr_secs: u32,
}

/// The session's renditions, as its first run chose them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionPlan {
    /// Encoded rungs; empty with `passthrough` or without video.
    pub rungs: Vec<Rung>,
    pub passthrough: bool,
    pub has_video: bool,
    pub has_audio: bool,
}

impl SessionPlan {
    /// The rendition folder names, in `var_stream_map` order.
    pub fn renditions(&self) -> Vec<String> {
        if self.passthrough {
            vec!["source".into()]
        } else if !self.has_video {
            vec!["audio".into()]
        } else {
            self.rungs.iter().map(|r| r.name.clone()).collect()
        }
    }
}

/// The probed push.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbedPush {
    pub video: Option<SourceVideo>,
    pub has_audio: bool,
}

/// Plans a session for `probe`: the highest [`MAX_LIVE_RUNGS`] rungs of the VOD ladder (never
/// upscaled), or the source as it is.
pub fn plan(probe: ProbedPush, mode: LiveMode) -> SessionPlan {
    let rungs = match (mode, probe.video) {
        (LiveMode::Ladder, Some(video)) => {
            let mut rungs = ladder(&video);
            let skip = rungs.len().saturating_sub(MAX_LIVE_RUNGS);
            rungs.drain(..skip);
            rungs
        }
        _ => Vec::new(),
    };
    SessionPlan {
        rungs,
        passthrough: mode == LiveMode::Passthrough,
        has_video: probe.video.is_some(),
        has_audio: probe.has_audio,
    }
}

/// The run's copy of the push as it came (`live::recordings` joins a session's runs into the
/// recording that becomes a draft talk).
pub const RECORDING_FILE: &str = "recording.ts";

/// ffmpeg's arguments for one run: read `input`, write `run_dir/{rendition}/` and, when
/// `record`, the push as it came into `run_dir/recording.ts`.
pub fn ffmpeg_args(
    plan: &SessionPlan,
    encoder: VideoEncoder,
    input: &str,
    run_dir: &Path,
    dvr_secs: u32,
    record: bool,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        // Only the ingest's protocol: nothing a stream says can make ffmpeg open anything else.
        "-protocol_whitelist",
        "rtmp,tcp",
        "-rw_timeout",
    ]
    .map(String::from)
    .into();
    args.push(READ_TIMEOUT.as_micros().to_string());
    args.extend(["-fflags".into(), "nobuffer".into()]);
    let encoding = !plan.passthrough && plan.has_video;
    if encoding {
        args.extend(encoder.input_args());
    }
    args.extend(["-f".into(), "flv".into(), "-i".into(), input.to_owned()]);
    if record {
        // A second output from the same read (no second connection to the ingest, no
        // decode), placed first: ffmpeg (5.1) drops the first GOP of a stream copy that
        // follows an encoded output. Written as it comes (no 10 s interleaving queue, a flush
        // per packet), so a run that is killed loses at most its last moment.
        args.extend(
            [
                "-map",
                "0:v:0?",
                "-map",
                "0:a:0?",
                "-c",
                "copy",
                "-max_interleave_delta",
                "500000",
                "-flush_packets",
                "1",
                "-f",
                "mpegts",
            ]
            .map(String::from),
        );
        args.push(run_dir.join(RECORDING_FILE).display().to_string());
    }
    let mut stream_map = Vec::new();
    if plan.passthrough {
        args.extend(["-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy"].map(String::from));
        stream_map.push(match (plan.has_video, plan.has_audio) {
            (true, true) => "v:0,a:0,name:source".to_owned(),
            (true, false) => "v:0,name:source".to_owned(),
            _ => "a:0,name:source".to_owned(),
        });
    } else if !plan.has_video {
        args.extend(["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", "2"].map(String::from));
        stream_map.push("a:0,name:audio".to_owned());
    } else {
        let n = plan.rungs.len();
        let mut graph = format!("[0:v]split={n}");
        for i in 0..n {
            graph.push_str(&format!("[s{i}]"));
        }
        for (i, rung) in plan.rungs.iter().enumerate() {
            // A reconnect may bring another picture size: it is fitted into the session's.
            graph.push_str(&format!(
                ";[s{i}]scale={w}:{h}:force_original_aspect_ratio=decrease,\
                 pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps}",
                w = rung.width,
                h = rung.height,
                fps = rung.fps,
            ));
            if let Some(upload) = encoder.upload_filter() {
                graph.push(',');
                graph.push_str(upload);
            }
            graph.push_str(&format!("[o{i}]"));
        }
        args.extend(["-filter_complex".into(), graph]);
        for (i, rung) in plan.rungs.iter().enumerate() {
            stream_map.push(rung_args(&mut args, encoder, i, rung, plan.has_audio));
        }
    }
    args.extend(
        [
            "-f",
            "hls",
            "-hls_time",
            &LIVE_SEGMENT_SECS.to_string(),
            "-hls_list_size",
            &(dvr_secs / LIVE_SEGMENT_SECS + 10).to_string(),
            "-hls_delete_threshold",
            "10",
            "-hls_segment_type",
            "fmp4",
            // Segments appear under their name only once complete; old ones past the window go.
            "-hls_flags",
            "independent_segments+temp_file+program_date_time+omit_endlist+delete_segments",
            "-hls_fmp4_init_filename",
            "init.mp4",
            "-master_pl_name",
            "master.m3u8",
            "-hls_segment_filename",
        ]
        .map(String::from),
    );
    args.push(run_dir.join("%v/seg_%d.m4s").display().to_string());
    args.push("-var_stream_map".into());
    args.push(stream_map.join(" "));
    args.push(run_dir.join("%v/index.m3u8").display().to_string());
    args
}

/// One encoded rung: its rate control, keyframes every segment on the same instants as every
/// other rung, and the source's audio; returns its `var_stream_map` entry.
fn rung_args(
    args: &mut Vec<String>,
    encoder: VideoEncoder,
    i: usize,
    rung: &Rung,
    has_audio: bool,
) -> String {
    args.extend(["-map".into(), format!("[o{i}]")]);
    let gop = (rung.fps * f64::from(LIVE_SEGMENT_SECS)).round().max(1.0) as u32;
    args.extend(encoder.output_args(
        i,
        RateControl {
            video_kbps: rung.video_kbps,
            maxrate_kbps: rung.maxrate_kbps,
            bufsize_kbps: rung.bufsize_kbps,
            gop_frames: gop,
        },
    ));
    // The fps filter already makes the frame rate constant. ffmpeg's default for these
    // muxers would also fill the time before the first frame — a push joined mid-stream
    // starts seconds in — with copies of it: seconds of frozen picture in every run.
    args.extend([format!("-fps_mode:v:{i}"), "passthrough".into()]);
    if encoder == VideoEncoder::Libx264 {
        // No look-ahead and no frame reordering delay: the frames leave as they come.
        args.extend([format!("-tune:v:{i}"), "zerolatency".into()]);
    }
    ferrotape_worker::transcode::rung_keyframes_and_audio(
        args,
        i,
        rung,
        has_audio,
        LIVE_SEGMENT_SECS,
    )
}

/// The session folder of a stream's session.
pub fn session_dir(root: &Path, stream: Uuid, session: Uuid) -> PathBuf {
    root.join(stream.to_string()).join(session.to_string())
}

/// The runs of a session folder, by number.
pub fn run_numbers(session_dir: &Path) -> Vec<u32> {
    let mut numbers: Vec<u32> = std::fs::read_dir(session_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.strip_prefix('r')?.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers
}

const PLAN_FILE: &str = "session.json";

pub fn read_plan(session_dir: &Path) -> Option<SessionPlan> {
    let text = std::fs::read(session_dir.join(PLAN_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// A run going on: its stream and session, and how to end it.
struct RunHandle {
    stream: Uuid,
    session: Uuid,
    task: tokio::task::AbortHandle,
    /// Asks the run to end gracefully (ffmpeg gets SIGTERM and closes its files).
    finish: Arc<tokio::sync::Notify>,
}

/// How long a run asked to finish may take before it is killed: its read of a push that is
/// gone times out first, then ffmpeg writes what it holds and closes its files.
const FINISH_GRACE: Duration = Duration::from_secs(READ_TIMEOUT.as_secs() + 5);

/// The transcoders of this server's live pushes.
pub struct LiveTranscoders {
    settings: TranscoderSettings,
    encoders: EncoderCache,
    /// The runs still going: at most one reading each stream's push, and older ones closing.
    running: Mutex<Vec<RunHandle>>,
}

impl LiveTranscoders {
    pub fn new(settings: TranscoderSettings) -> Arc<LiveTranscoders> {
        Arc::new(LiveTranscoders {
            encoders: EncoderCache::new(settings.ffmpeg.clone()),
            settings,
            running: Mutex::new(Vec::new()),
        })
    }

    pub fn settings(&self) -> &TranscoderSettings {
        &self.settings
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Vec<RunHandle>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|run| !run.task.is_finished());
        running
    }

    /// Starts transcoding the push of `key` into `session` of `stream` (a push the publish
    /// webhook has just allowed), recording it when `record`. A run of the stream still
    /// going (its push was cut) is asked to finish.
    pub fn start(self: &Arc<Self>, stream: Uuid, session: Uuid, key: &str, record: bool) {
        self.finish(stream);
        let input = format!("{}/{key}", self.settings.pull_base.trim_end_matches('/'));
        let this = self.clone();
        let finish = Arc::new(tokio::sync::Notify::new());
        let finishing = finish.clone();
        let task = tokio::spawn(async move {
            if let Err(err) = this.run(stream, session, &input, record, finishing).await {
                tracing::error!(%stream, %session, err, "the live transcoder stopped");
            }
        });
        self.running().push(RunHandle {
            stream,
            session,
            task: task.abort_handle(),
            finish,
        });
    }

    /// The push of `stream` ended: its runs write what they have and stop.
    pub fn finish(&self, stream: Uuid) {
        for run in self.running().iter().filter(|run| run.stream == stream) {
            run.finish.notify_one();
        }
    }

    /// Whether a run of `session` of `stream` is still writing.
    pub fn is_running(&self, stream: Uuid, session: Uuid) -> bool {
        self.running()
            .iter()
            .any(|run| run.stream == stream && run.session == session)
    }

    /// Stops every run (the server is stopping; their ffmpeg die with their tasks).
    pub fn stop_all(&self) {
        for run in self.running().drain(..) {
            run.task.abort();
        }
    }

    async fn run(
        &self,
        stream: Uuid,
        session: Uuid,
        input: &str,
        record: bool,
        finish: Arc<tokio::sync::Notify>,
    ) -> Result<(), String> {
        let dir = session_dir(&self.settings.root, stream, session);
        let number = run_numbers(&dir).last().map_or(0, |n| n + 1);
        let plan = match read_plan(&dir) {
            Some(plan) => plan,
            None => {
                let probed = probe_when_published(&self.settings.ffprobe, input).await?;
                let plan = plan(probed, self.settings.mode);
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let json = serde_json::to_vec(&plan).map_err(|e| e.to_string())?;
                tokio::fs::write(dir.join(PLAN_FILE), json)
                    .await
                    .map_err(|e| format!("cannot write the session's plan: {e}"))?;
                plan
            }
        };
        let run_dir = dir.join(format!("r{number}"));
        for rendition in plan.renditions() {
            tokio::fs::create_dir_all(run_dir.join(&rendition))
                .await
                .map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;
        }
        let encoder = if plan.passthrough || !plan.has_video {
            VideoEncoder::Libx264
        } else {
            self.encoders.preferred().await.map_err(|e| e.to_string())?
        };
        let args = ffmpeg_args(
            &plan,
            encoder,
            input,
            &run_dir,
            self.settings.dvr_secs,
            record,
        );
        tracing::info!(%stream, %session, run = number, renditions = ?plan.renditions(), %encoder, record, "live transcoder started");
        tracing::debug!(?args, "live transcoder arguments");
        let mut command = tokio::process::Command::new(&self.settings.ffmpeg);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        ferrotape_worker::ffmpeg::die_with_worker(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start ffmpeg: {e}"))?;
        let last_line = last_line_of(child.stderr.take());
        let status = tokio::select! {
            status = child.wait() => status,
            () = finish.notified() => {
                // One SIGTERM: ffmpeg stops at its next packet, or when its read of a push
                // that is gone times out, and writes out what it holds (a second signal would
                // abort those writes too).
                if let Some(pid) = child.id() {
                    let pid = nix::unistd::Pid::from_raw(pid as i32);
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                }
                match tokio::time::timeout(FINISH_GRACE, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = child.kill().await;
                        child.wait().await
                    }
                }
            }
        }
        .map_err(|e| e.to_string())?;
        let last = last_line.await.unwrap_or_default();
        // A push that ends is an end of file, the read timing out, or our SIGTERM.
        tracing::info!(%stream, %session, run = number, %status, last, "live transcoder run ended");
        Ok(())
    }
}

/// The last non-empty line ffmpeg writes to `stderr` (its reason when it stops).
fn last_line_of(stderr: Option<tokio::process::ChildStderr>) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut last = String::new();
        if let Some(stderr) = stderr {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.trim().is_empty() {
                    last = line;
                }
            }
        }
        last
    })
}

/// [`probe`], tried again for a while: the webhook answers before the publisher sends its
/// first packet, and some ingests (MediaMTX) refuse reads of a path nobody publishes yet.
async fn probe_when_published(ffprobe: &Path, input: &str) -> Result<ProbedPush, String> {
    let started = std::time::Instant::now();
    loop {
        match probe(ffprobe, input).await {
            Ok(probed) => return Ok(probed),
            Err(err) if started.elapsed() > READ_TIMEOUT => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// What the push carries: its picture (display size, frame rate) and whether it has sound.
async fn probe(ffprobe: &Path, input: &str) -> Result<ProbedPush, String> {
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args([
            "-v",
            "error",
            "-protocol_whitelist",
            "rtmp,tcp",
            "-rw_timeout",
        ])
        .arg(READ_TIMEOUT.as_micros().to_string())
        .args(["-f", "flv", "-show_entries"])
        .arg("stream=codec_type,width,height,avg_frame_rate,r_frame_rate")
        .args(["-of", "json", input])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    ferrotape_worker::ffmpeg::die_with_worker(&mut command);
    let output = tokio::time::timeout(READ_TIMEOUT * 2, command.output())
        .await
        .map_err(|_| "the push could not be probed in time".to_owned())?
        .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the push could not be probed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse_probe(&output.stdout)
}

/// Reads ffprobe's JSON of a push.
pub fn parse_probe(json: &[u8]) -> Result<ProbedPush, String> {
    #[derive(Deserialize)]
    struct Out {
        #[serde(default)]
        streams: Vec<Stream>,
    }
    #[derive(Deserialize)]
    struct Stream {
        codec_type: Option<String>,
        width: Option<u32>,
        height: Option<u32>,
        avg_frame_rate: Option<String>,
        r_frame_rate: Option<String>,
    }
    let out: Out = serde_json::from_slice(json).map_err(|e| format!("unreadable probe: {e}"))?;
    let rate = |text: &Option<String>| -> Option<f64> {
        let (n, d) = text.as_deref()?.split_once('/')?;
        let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
        (d > 0.0 && n > 0.0)
            .then(|| n / d)
            .filter(|f| f.is_finite())
    };
    let video = out
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
        .and_then(|s| {
            Some(SourceVideo {
                width: s.width.filter(|w| *w > 0)?,
                height: s.height.filter(|h| *h > 0)?,
                fps: rate(&s.avg_frame_rate)
                    .or_else(|| rate(&s.r_frame_rate))
                    .unwrap_or(30.0),
            })
        });
    let has_audio = out
        .streams
        .iter()
        .any(|s| s.codec_type.as_deref() == Some("audio"));
    if video.is_none() && !has_audio {
        return Err("the push carries neither video nor audio".into());
    }
    Ok(ProbedPush { video, has_audio })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_720p() -> ProbedPush {
        ProbedPush {
            video: Some(SourceVideo {
                width: 1280,
                height: 720,
                fps: 30.0,
            }),
            has_audio: true,
        }
    }

    #[test]
    fn a_ladder_keeps_the_three_highest_rungs_and_never_upscales() {
        let plan = plan(
            ProbedPush {
                video: Some(SourceVideo {
                    width: 1920,
                    height: 1080,
                    fps: 30.0,
                }),
                has_audio: true,
            },
            LiveMode::Ladder,
        );
        assert_eq!(plan.renditions(), ["480p", "720p", "1080p"]);
        let small = super::plan(
            ProbedPush {
                video: Some(SourceVideo {
                    width: 320,
                    height: 180,
                    fps: 25.0,
                }),
                has_audio: false,
            },
            LiveMode::Ladder,
        );
        assert_eq!(small.rungs.len(), 1);
        assert_eq!((small.rungs[0].width, small.rungs[0].height), (320, 180));
    }

    #[test]
    fn ladder_arguments_share_keyframes_every_second_from_one_decode() {
        let plan = plan(probe_720p(), LiveMode::Ladder);
        let args = ffmpeg_args(
            &plan,
            VideoEncoder::Libx264,
            "rtmp://127.0.0.1:1935/live/live_k",
            Path::new("/d/r0"),
            120,
            false,
        );
        let text = args.join(" ");
        assert_eq!(args.iter().filter(|a| *a == "-i").count(), 1);
        assert!(text.contains("-protocol_whitelist rtmp,tcp"));
        assert!(text.contains("[0:v]split=3[s0][s1][s2]"), "{text}");
        assert_eq!(
            args.iter()
                .filter(|a| *a == "expr:gte(t,n_forced*1)")
                .count(),
            3
        );
        assert!(text.contains("-tune:v:2 zerolatency"));
        assert!(text.contains("-fps_mode:v:2 passthrough"));
        assert!(text.contains("-hls_time 1 -hls_list_size 130"));
        assert!(
            text.contains("v:0,a:0,name:360p v:1,a:1,name:480p v:2,a:2,name:720p"),
            "{text}"
        );
        assert!(text.ends_with("/d/r0/%v/index.m3u8"));
        assert!(!text.contains(RECORDING_FILE));
    }

    #[test]
    fn a_recorded_run_copies_the_push_into_a_second_output_of_the_same_read() {
        let plan = plan(probe_720p(), LiveMode::Ladder);
        let args = ffmpeg_args(
            &plan,
            VideoEncoder::Libx264,
            "rtmp://x/live/k",
            Path::new("/d/r0"),
            60,
            true,
        );
        let text = args.join(" ");
        assert_eq!(args.iter().filter(|a| *a == "-i").count(), 1);
        assert!(
            text.contains(
                "-i rtmp://x/live/k -map 0:v:0? -map 0:a:0? -c copy -max_interleave_delta 500000 \
                 -flush_packets 1 -f mpegts /d/r0/recording.ts -filter_complex"
            ),
            "{text}"
        );
        assert!(text.ends_with("/d/r0/%v/index.m3u8"));
    }

    #[test]
    fn passthrough_and_audio_only_pushes_copy_or_encode_the_sound_alone() {
        let plan_copy = plan(probe_720p(), LiveMode::Passthrough);
        let text = ffmpeg_args(
            &plan_copy,
            VideoEncoder::Libx264,
            "rtmp://x/live/k",
            Path::new("/r"),
            60,
            false,
        )
        .join(" ");
        assert!(text.contains("-c copy") && text.contains("v:0,a:0,name:source"));
        assert!(!text.contains("filter_complex"));

        let audio = plan(
            ProbedPush {
                video: None,
                has_audio: true,
            },
            LiveMode::Ladder,
        );
        assert_eq!(audio.renditions(), ["audio"]);
        let text = ffmpeg_args(
            &audio,
            VideoEncoder::Libx264,
            "rtmp://x/live/k",
            Path::new("/r"),
            60,
            false,
        )
        .join(" ");
        assert!(text.contains("a:0,name:audio") && !text.contains("filter_complex"));
    }

    #[test]
    fn probes_are_read_and_an_empty_push_is_refused() {
        let json = br#"{"streams":[{"codec_type":"video","width":640,"height":360,"avg_frame_rate":"0/0","r_frame_rate":"25/1"},{"codec_type":"audio"}]}"#;
        let probed = parse_probe(json).unwrap();
        assert_eq!(probed.video.unwrap().fps, 25.0);
        assert!(probed.has_audio);
        assert!(parse_probe(br#"{"streams":[]}"#).is_err());
        assert!(parse_probe(b"not json").is_err());
    }
}
