//! The `demo.video` job: a short clip for a demo talk (`ferrotape seed-demo` queues one per
//! talk without a video). A title card drawn by ffmpeg's lavfi over a plain background, with
//! a sentence or two spoken by espeak-ng when it is installed (so the subtitles work has
//! speech to transcribe), a quiet tone otherwise. 640x360, 8 to 15 s: cheap on two cores. The
//! clip then takes the upload path (`ingest`): probed, stored, transcoded.
//!
//! Idempotent: a video that is no longer `uploading` already got its clip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ferrotape_store::imports::{self, DEMO_VIDEO_JOB};
use ferrotape_store::media::MediaStore;
use uuid::Uuid;

use crate::config::MediaTools;
use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::ingest::{self, Ingested};

/// The speech synthesiser, looked up on PATH.
const ESPEAK: &str = "espeak-ng";

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
const MIN_SECS: f64 = 8.0;
const MAX_SECS: f64 = 15.0;
/// Generating a 15 s 360p clip takes a few seconds; this is far beyond a healthy run.
const GENERATE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct DemoVideo {
    pub media: Arc<dyn MediaStore>,
    pub tools: MediaTools,
}

impl JobHandler for DemoVideo {
    fn kind(&self) -> &'static str {
        DEMO_VIDEO_JOB
    }

    /// One at a time: the demo must not crowd out anything an editor waits for.
    fn concurrency(&self) -> usize {
        1
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let media = self.media.clone();
        let tools = self.tools.clone();
        Box::pin(async move {
            let payload = &ctx.job.payload;
            let video: Uuid = payload["video_id"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .ok_or("the job has no video_id")?;
            let title = payload["title"].as_str().unwrap_or("Ferrotape demo");
            let speech = payload["speech"].as_str().unwrap_or(title);
            let tenant = ctx.job.tenant;
            let state = imports::video_state(&ctx.pool, tenant, video)
                .await
                .map_err(|e| e.to_string())?;
            if state.as_deref() != Some("uploading") {
                tracing::info!(%video, ?state, "the demo clip was made already");
                return Ok(());
            }
            let scratch = tempfile::Builder::new()
                .prefix("ferrotape-demo-")
                .tempdir()
                .map_err(|e| format!("no scratch space: {e}"))?;
            let clip = generate(&tools, scratch.path(), title, speech).await?;
            let size = tokio::fs::metadata(&clip)
                .await
                .map(|m| m.len())
                .unwrap_or(1);
            imports::record_source_file(&ctx.pool, tenant, video, "demo-clip.mp4", size)
                .await
                .map_err(|e| e.to_string())?;
            match ingest::ingest(&ctx.pool, &*media, &tools, tenant, video, &clip, |_| Ok(()))
                .await?
            {
                Ingested::Queued { job, .. } => {
                    tracing::info!(%video, job, "demo clip generated; transcode queued");
                    Ok(())
                }
                // Our own clip: unplayable means the local ffmpeg is broken, worth a retry.
                Ingested::NotPlayable(reason) => Err(format!("the generated clip: {reason}")),
            }
        })
    }
}

/// Writes the clip into `dir` and returns its path.
pub async fn generate(
    tools: &MediaTools,
    dir: &Path,
    title: &str,
    speech: &str,
) -> Result<PathBuf, String> {
    let voice = dir.join("speech.wav");
    let spoken = speak(speech, &voice).await;
    let secs = match &spoken {
        Ok(()) => crate::probe::probe(&tools.ffprobe, &voice)
            .await
            .map(|p| p.duration_secs + 1.5)
            .unwrap_or(MIN_SECS),
        Err(why) => {
            tracing::info!(%why, "no speech for the demo clip; a tone instead");
            MIN_SECS
        }
    }
    .clamp(MIN_SECS, MAX_SECS);
    let title_file = dir.join("title.txt");
    tokio::fs::write(&title_file, wrap(title, 30))
        .await
        .map_err(|e| format!("no scratch space: {e}"))?;
    let out = dir.join("clip.mp4");
    let audio = spoken.is_ok().then_some(voice.as_path());
    // A title card needs drawtext (libfreetype) and a font; without them, a test pattern.
    let card = run_ffmpeg(tools, &clip_args(secs, audio, Some(&title_file), &out)).await;
    if let Err(why) = card {
        tracing::info!(%why, "no title card for the demo clip; a test pattern instead");
        run_ffmpeg(tools, &clip_args(secs, audio, None, &out)).await?;
    }
    Ok(out)
}

/// Speech from espeak-ng into `wav`.
async fn speak(text: &str, wav: &Path) -> Result<(), String> {
    let mut command = tokio::process::Command::new(ESPEAK);
    command
        .args(["-v", "en-us", "-s", "160", "-w"])
        .arg(wav)
        .arg("--")
        .arg(text)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    crate::ffmpeg::die_with_worker(&mut command);
    let output = command.output();
    let output = tokio::time::timeout(GENERATE_TIMEOUT, output)
        .await
        .map_err(|_| "espeak-ng took too long".to_owned())?
        .map_err(|e| format!("cannot run {ESPEAK}: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
    }
    Ok(())
}

/// ffmpeg's arguments for a `secs`-long clip: the title card (or testsrc2) and the speech (or a
/// tone), H.264 + AAC in MP4.
fn clip_args(secs: f64, speech: Option<&Path>, title: Option<&Path>, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["-y".into(), "-v".into(), "error".into()];
    let size = format!("{WIDTH}x{HEIGHT}");
    let background = match title {
        Some(_) => format!("color=c=0x1b2330:s={size}:r=25:d={secs:.2}"),
        None => format!("testsrc2=s={size}:r=25:d={secs:.2}"),
    };
    args.extend(["-f".into(), "lavfi".into(), "-i".into(), background]);
    match speech {
        Some(wav) => args.extend(["-i".into(), crate::probe::file_url(wav)]),
        None => args.extend([
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=frequency=330:sample_rate=48000:duration={secs:.2}"),
        ]),
    }
    let video = match title {
        // The path is ours (a scratch directory); `expansion=none` prints the text as it is.
        Some(file) => format!(
            "[0:v]drawtext=textfile='{}':expansion=none:fontcolor=white:fontsize=30:\
             line_spacing=10:x=(w-text_w)/2:y=(h-text_h)/2,\
             drawtext=text='Ferrotape demo':expansion=none:fontcolor=0x8fa3bf:fontsize=18:\
             x=(w-text_w)/2:y=h-48[v]",
            file.display()
        ),
        None => "[0:v]null[v]".to_owned(),
    };
    args.extend([
        "-filter_complex".into(),
        format!("{video};[1:a]apad,aformat=sample_rates=48000:channel_layouts=mono[a]"),
    ]);
    args.extend(
        [
            "-map",
            "[v]",
            "-map",
            "[a]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "stillimage",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-movflags",
            "+faststart",
            "-t",
        ]
        .map(String::from),
    );
    args.push(format!("{secs:.2}"));
    args.push(crate::probe::file_url(out));
    args
}

async fn run_ffmpeg(tools: &MediaTools, args: &[String]) -> Result<(), String> {
    let mut command = tokio::process::Command::new(&tools.ffmpeg);
    command
        .arg("-nostdin")
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    crate::ffmpeg::die_with_worker(&mut command);
    let output = command.output();
    let output = tokio::time::timeout(GENERATE_TIMEOUT, output)
        .await
        .map_err(|_| "ffmpeg took too long".to_owned())?
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(said.lines().last().unwrap_or("ffmpeg failed").to_owned());
    }
    Ok(())
}

/// `text` in lines of at most about `width` characters, broken between words.
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_wrap_between_words() {
        assert_eq!(
            wrap("One decode, many renditions: transcoding at scale", 30),
            "One decode, many renditions:\ntranscoding at scale"
        );
        assert_eq!(wrap("short", 30), "short");
    }
}
