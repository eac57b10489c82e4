//! The `transcode` job: one ffmpeg process decodes the source once and writes every ladder
//! rung as fMP4 HLS (keyframes every 2 s in every rung, so segments align), the poster at 25 %
//! and the seek-preview sprite sheets, through `split`. The worker then writes the master
//! playlist (with measured bandwidths) and the thumbnails track, stores everything, and marks
//! the video ready. Progress goes to `videos.progress` as ffmpeg reports it.
//!
//! ffmpeg runs as a `tokio::process` child rather than through ffmpeg-sidecar's blocking event
//! iterator: a cancelled or lease-lost job drops its future, and `kill_on_drop` then stops
//! ffmpeg at once instead of leaving a thread and an encoder running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_model::hls::{self, AudioOnlyVariant, Variant};
use ferrotape_model::jobs::ResourceClass;
use ferrotape_model::ladder::{self, KEYFRAME_INTERVAL_SECS, Rung, SEGMENT_SECS, SourceVideo};
use ferrotape_store::PgPool;
use ferrotape_store::media::MediaStore;
use ferrotape_store::uploads::{TRANSCODE_JOB, video_prefix};
use serde_json::json;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use uuid::Uuid;

use crate::config::MediaTools;
use crate::encoder::{EncoderCache, RateControl, VideoEncoder};
use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::probe::{self, Probe};

/// Audio of an audio-only source.
const AUDIO_ONLY_KBPS: u32 = 128;

pub struct Transcode {
    pub media: Arc<dyn MediaStore>,
    pub tools: MediaTools,
    pub encoders: Arc<EncoderCache>,
    /// Transcodes this worker runs at once (each also takes a GPU slot).
    pub concurrency: usize,
}

impl JobHandler for Transcode {
    fn kind(&self) -> &'static str {
        TRANSCODE_JOB
    }

    fn resource_class(&self) -> ResourceClass {
        ResourceClass::Gpu
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let media = self.media.clone();
        let tools = self.tools.clone();
        let encoders = self.encoders.clone();
        Box::pin(async move {
            let video: Uuid = ctx
                .job
                .payload
                .get("video_id")
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse().ok())
                .ok_or("the job has no video_id")?;
            let tenant = ctx.job.tenant;
            let last_attempt = ctx.job.attempt >= ctx.job.max_attempts;
            let result = transcode(&ctx.pool, &*media, &tools, &encoders, tenant, video).await;
            if let Err(message) = &result
                && last_attempt
            {
                mark_failed(&ctx.pool, tenant, video, message).await;
            }
            result
        })
    }
}

struct VideoRow {
    state: String,
    source_key: Option<String>,
    probe: Option<serde_json::Value>,
}

async fn transcode(
    pool: &PgPool,
    media: &dyn MediaStore,
    tools: &MediaTools,
    encoders: &EncoderCache,
    tenant: TenantId,
    video: Uuid,
) -> Result<(), String> {
    let row: Option<(String, Option<String>, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT state::text, source_key, probe FROM videos WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(video)
    .fetch_optional(pool)
    .await
    .map_err(|e| format!("cannot read the video: {e}"))?;
    let Some((state, source_key, probe_json)) = row else {
        tracing::info!(%video, "the video was deleted; nothing to transcode");
        return Ok(());
    };
    let row = VideoRow {
        state,
        source_key,
        probe: probe_json,
    };
    if row.state != "processing" {
        tracing::info!(%video, state = row.state, "the video is not waiting for a transcode");
        return Ok(());
    }
    let source_key = row.source_key.ok_or("the video has no source")?;
    let probe =
        probe::parse(&serde_json::to_vec(&row.probe.unwrap_or_default()).unwrap_or_default())
            .map_err(|e| format!("the stored probe is unusable: {e}"))?;

    let scratch = tempfile::Builder::new()
        .prefix("ferrotape-transcode-")
        .tempdir()
        .map_err(|e| format!("no scratch space: {e}"))?;
    let source = media
        .readable_path(&source_key, scratch.path())
        .await
        .map_err(|e| e.to_string())?;
    let out = scratch.path().join("out");
    let plan = Plan::new(&probe);

    let mut encoder = if plan.rungs.is_empty() {
        VideoEncoder::Libx264
    } else {
        encoders.preferred().await.map_err(|e| e.to_string())?
    };
    let started = Instant::now();
    loop {
        let _ = tokio::fs::remove_dir_all(&out).await;
        tokio::fs::create_dir_all(out.join("thumbs"))
            .await
            .map_err(|e| format!("no scratch space: {e}"))?;
        let args = plan.ffmpeg_args(encoder, &source, &out);
        match run_ffmpeg(
            &tools.ffmpeg,
            &args,
            probe.duration_secs,
            pool,
            tenant,
            video,
        )
        .await
        {
            Ok(()) => break,
            Err(message) if encoder.is_hardware() => {
                tracing::warn!(encoder = encoder.ffmpeg_name(), %message, "the GPU encode failed; falling back");
                encoder = encoders
                    .fallback_after(encoder)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(message) => return Err(message),
        }
    }
    tracing::info!(%video, encoder = encoder.ffmpeg_name(), secs = started.elapsed().as_secs_f64(), "encoded");

    let variants = plan
        .write_master_and_thumbnails(&out, probe.duration_secs)
        .await?;
    let prefix = video_prefix(tenant, video);
    // A retried attempt replaces whatever an earlier one stored.
    for part in ["hls", "thumbs"] {
        media
            .delete_prefix(&format!("{prefix}/{part}"))
            .await
            .map_err(|e| e.to_string())?;
    }
    store_tree(media, &out, &prefix).await?;
    let has_thumbs = !plan.rungs.is_empty();
    let master_key = format!("{prefix}/hls/master.m3u8");
    let updated = sqlx::query(
        "UPDATE videos SET state = 'ready', progress = 1, eta_at = NULL, master_key = $3,
                poster_key = $4, thumbnails_key = $5, renditions = $6, encoder = $7,
                processed_at = now()
         WHERE tenant_id = $1 AND id = $2 AND state = 'processing'",
    )
    .bind(tenant.0)
    .bind(video)
    .bind(&master_key)
    .bind(has_thumbs.then(|| format!("{prefix}/thumbs/poster.jpg")))
    .bind(has_thumbs.then(|| format!("{prefix}/thumbs/thumbs.vtt")))
    .bind(json!(variants))
    .bind(encoder.ffmpeg_name())
    .execute(pool)
    .await
    .map_err(|e| format!("cannot mark the video ready: {e}"))?;
    if updated.rows_affected() == 0 {
        tracing::info!(%video, "the video changed while transcoding; outputs kept, state untouched");
    }
    Ok(())
}

async fn mark_failed(pool: &PgPool, tenant: TenantId, video: Uuid, reason: &str) {
    let result = sqlx::query(
        "UPDATE videos SET state = 'failed', failure_reason = left($3, 4000), eta_at = NULL
         WHERE tenant_id = $1 AND id = $2 AND state = 'processing'",
    )
    .bind(tenant.0)
    .bind(video)
    .bind(format!("transcoding failed: {reason}"))
    .execute(pool)
    .await;
    if let Err(err) = result {
        tracing::error!(%err, %video, "cannot mark the video failed");
    }
}

/// What one transcode produces, decided from the probe.
struct Plan {
    rungs: Vec<Rung>,
    has_audio: bool,
    sprite: hls::SpritePlan,
    poster_at: f64,
}

impl Plan {
    fn new(probe: &Probe) -> Plan {
        let rungs = probe
            .video
            .as_ref()
            .map(|v| {
                ladder::ladder(&SourceVideo {
                    width: v.width,
                    height: v.height,
                    fps: v.fps,
                })
            })
            .unwrap_or_default();
        let (width, height) = probe
            .video
            .as_ref()
            .map_or((16, 9), |v| (v.width, v.height));
        Plan {
            rungs,
            has_audio: probe.audio.is_some(),
            sprite: hls::sprite_plan(probe.duration_secs, width, height),
            poster_at: probe.duration_secs * 0.25,
        }
    }

    fn ffmpeg_args(&self, encoder: VideoEncoder, source: &Path, out: &Path) -> Vec<String> {
        let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
            .map(String::from)
            .into();
        args.extend(["-progress", "pipe:1", "-nostats"].map(String::from));
        args.extend(encoder.input_args());
        args.push("-i".into());
        args.push(source.display().to_string());
        let hls_dir = out.join("hls");
        if self.rungs.is_empty() {
            // Audio only: one AAC rendition, no pictures.
            args.extend(["-map", "0:a:0", "-c:a", "aac", "-ac", "2"].map(String::from));
            args.push("-b:a".into());
            args.push(format!("{AUDIO_ONLY_KBPS}k"));
            args.extend(hls_output_args(&hls_dir, "a:0,name:audio"));
            return args;
        }
        let n = self.rungs.len();
        let mut graph = format!("[0:v]split={}", n + 2);
        for i in 0..n {
            graph.push_str(&format!("[v{i}]"));
        }
        graph.push_str("[vposter][vsprite]");
        for (i, rung) in self.rungs.iter().enumerate() {
            graph.push_str(&format!(
                // Drop frames before scaling them: a 60 fps source's 30 fps rungs scale half as much.
                ";[v{i}]fps={:.3},scale={}:{}:flags=bicubic",
                rung.fps, rung.width, rung.height
            ));
            if let Some(upload) = encoder.upload_filter() {
                graph.push_str(&format!(",{upload}"));
            }
            graph.push_str(&format!("[o{i}]"));
        }
        let sprite = &self.sprite;
        graph.push_str(&format!(
            // Only the first frame at or after the poster time goes on to be scaled.
            ";[vposter]select='gte(t\\,{:.3})*isnan(prev_selected_t)',scale=-2:'min(1080\\,ih)'[poster]",
            self.poster_at
        ));
        graph.push_str(&format!(
            ";[vsprite]fps=1/{:.3},scale={}:{},tile={}x{}[sprite]",
            sprite.interval_secs,
            sprite.tile_width,
            sprite.tile_height,
            hls::SPRITE_COLUMNS,
            hls::SPRITE_ROWS
        ));
        args.push("-filter_complex".into());
        args.push(graph);
        let stream_map: Vec<String> = self
            .rungs
            .iter()
            .enumerate()
            .map(|(i, rung)| rung_output_args(&mut args, encoder, i, rung, self.has_audio))
            .collect();
        args.extend(hls_output_args(&hls_dir, &stream_map.join(" ")));
        let thumbs = out.join("thumbs");
        args.extend(["-map", "[poster]", "-frames:v", "1", "-q:v", "3"].map(String::from));
        args.push(thumbs.join("poster.jpg").display().to_string());
        args.extend(["-map", "[sprite]", "-q:v", "4", "-start_number", "0"].map(String::from));
        args.push(thumbs.join("sprite_%d.jpg").display().to_string());
        args
    }

    /// Writes `hls/master.m3u8` (bandwidths measured from the segments written) and
    /// `thumbs/thumbs.vtt`; returns the variants for the database.
    async fn write_master_and_thumbnails(
        &self,
        out: &Path,
        duration: f64,
    ) -> Result<Vec<Variant>, String> {
        let hls_dir = out.join("hls");
        let master = if self.rungs.is_empty() {
            let (peak, _) = measure(&hls_dir.join("audio")).await?;
            hls::master_playlist(
                &[],
                Some(&AudioOnlyVariant {
                    uri: "audio/index.m3u8".into(),
                    bandwidth: peak,
                    codecs: "mp4a.40.2".into(),
                }),
            )
            .map_err(|e| e.to_string())?
        } else {
            let mut variants = Vec::new();
            for rung in &self.rungs {
                let (peak, average) = measure(&hls_dir.join(&rung.name)).await?;
                let level = hls::h264_level_for(rung.width, rung.height, rung.fps);
                let mut codecs = hls::avc_codec_string(0x64, 0, level);
                if self.has_audio {
                    codecs.push_str(",mp4a.40.2");
                }
                variants.push(Variant {
                    uri: format!("{}/index.m3u8", rung.name),
                    bandwidth: peak,
                    average_bandwidth: average,
                    width: rung.width,
                    height: rung.height,
                    frame_rate: rung.fps,
                    codecs,
                });
            }
            let text = hls::master_playlist(&variants, None).map_err(|e| e.to_string())?;
            write(&hls_dir.join("master.m3u8"), &text).await?;
            let vtt = hls::thumbnails_vtt(&self.sprite, duration, |n| format!("sprite_{n}.jpg"));
            write(&out.join("thumbs/thumbs.vtt"), &vtt).await?;
            return Ok(variants);
        };
        write(&hls_dir.join("master.m3u8"), &master).await?;
        Ok(Vec::new())
    }
}

/// Maps output rung `i` (filter output `[o{i}]`, plus the source's audio) with its rate
/// control and keyframes forced on the same instants as every other rung; returns its
/// `-var_stream_map` entry.
pub fn rung_output_args(
    args: &mut Vec<String>,
    encoder: VideoEncoder,
    i: usize,
    rung: &Rung,
    has_audio: bool,
) -> String {
    args.extend(["-map".into(), format!("[o{i}]")]);
    let gop = (rung.fps * f64::from(KEYFRAME_INTERVAL_SECS)).round() as u32;
    args.extend(encoder.output_args(
        i,
        RateControl {
            video_kbps: rung.video_kbps,
            maxrate_kbps: rung.maxrate_kbps,
            bufsize_kbps: rung.bufsize_kbps,
            gop_frames: gop.max(1),
        },
    ));
    // Keyframes on the same instants in every rung, whatever its frame rate.
    args.push(format!("-force_key_frames:v:{i}"));
    args.push(format!("expr:gte(t,n_forced*{KEYFRAME_INTERVAL_SECS})"));
    if !has_audio {
        return format!("v:{i},name:{}", rung.name);
    }
    args.extend(["-map".into(), "0:a:0".into()]);
    args.extend([
        format!("-c:a:{i}"),
        "aac".into(),
        format!("-b:a:{i}"),
        format!("{}k", rung.audio_kbps),
        format!("-ac:a:{i}"),
        "2".into(),
    ]);
    format!("v:{i},a:{i},name:{}", rung.name)
}

/// The fMP4 HLS muxer writing every stream of `stream_map` under `hls_dir/{name}/`.
pub fn hls_output_args(hls_dir: &Path, stream_map: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "-f",
        "hls",
        "-hls_time",
        &SEGMENT_SECS.to_string(),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_flags",
        "independent_segments",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
    ]
    .map(String::from)
    .into();
    args.push(hls_dir.join("%v/seg_%d.m4s").display().to_string());
    args.push("-var_stream_map".into());
    args.push(stream_map.to_owned());
    args.push(hls_dir.join("%v/index.m3u8").display().to_string());
    args
}

async fn write(path: &Path, text: &str) -> Result<(), String> {
    tokio::fs::write(path, text)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Peak and average bits per second of one rendition, from its playlist's segment durations
/// and the segment files' sizes (the small init segment is left out).
async fn measure(dir: &Path) -> Result<(u64, u64), String> {
    let playlist = tokio::fs::read_to_string(dir.join("index.m3u8"))
        .await
        .map_err(|e| format!("ffmpeg wrote no playlist in {}: {e}", dir.display()))?;
    let mut peak = 0f64;
    let mut total_bits = 0f64;
    let mut total_secs = 0f64;
    let mut duration = None;
    for line in playlist.lines() {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest
                .trim_end_matches(',')
                .split(',')
                .next()
                .and_then(|d| d.parse::<f64>().ok());
        } else if !line.starts_with('#') && !line.is_empty() {
            let secs = duration
                .take()
                .unwrap_or(f64::from(SEGMENT_SECS))
                .max(0.001);
            let bytes = tokio::fs::metadata(dir.join(line))
                .await
                .map_err(|e| format!("missing segment {line}: {e}"))?
                .len();
            let bits = bytes as f64 * 8.0;
            // A very short final segment would exaggerate the peak: count it as at least 1 s.
            peak = peak.max(bits / secs.max(1.0));
            total_bits += bits;
            total_secs += secs;
        }
    }
    if total_secs == 0.0 {
        return Err(format!("ffmpeg wrote no segments in {}", dir.display()));
    }
    let average = total_bits / total_secs;
    Ok((peak.max(average).ceil() as u64, average.ceil() as u64))
}

/// Stores every file under `dir` at `prefix/<relative path>`.
async fn store_tree(media: &dyn MediaStore, dir: &Path, prefix: &str) -> Result<(), String> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let mut entries = tokio::fs::read_dir(&current)
            .await
            .map_err(|e| e.to_string())?;
        while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
            let path = entry.path();
            if entry.file_type().await.map_err(|e| e.to_string())?.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            media
                .put_file(&format!("{prefix}/{relative}"), &path)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Runs ffmpeg, turning its `-progress` lines into `videos.progress` and an ETA (at most once
/// a second), and its error output into the failure message.
async fn run_ffmpeg(
    ffmpeg: &PathBuf,
    args: &[String],
    duration: f64,
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<(), String> {
    tracing::debug!(?args, "ffmpeg");
    let mut command = tokio::process::Command::new(ffmpeg);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec. A worker
    // that dies outright (SIGKILL, OOM) takes its ffmpeg with it instead of leaving an orphan
    // encoding for nobody while the job is redone elsewhere.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL))
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg ({e}); install ffmpeg"))?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let started = Instant::now();
    let mut last_report = Instant::now() - Duration::from_secs(10);
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(micros) = line.strip_prefix("out_time_us=") else {
            continue;
        };
        let Ok(micros) = micros.trim().parse::<f64>() else {
            continue;
        };
        if last_report.elapsed() < Duration::from_secs(1) || duration <= 0.0 {
            continue;
        }
        last_report = Instant::now();
        let done = (micros / 1e6 / duration).clamp(0.0, 0.99);
        let eta = (done > 0.01).then(|| {
            let remaining = started.elapsed().as_secs_f64() * (1.0 - done) / done;
            OffsetDateTime::now_utc() + Duration::from_secs_f64(remaining.min(86_400.0))
        });
        let _ = sqlx::query(
            "UPDATE videos SET progress = $3, eta_at = $4
             WHERE tenant_id = $1 AND id = $2 AND state = 'processing'",
        )
        .bind(tenant.0)
        .bind(video)
        .bind(done as f32)
        .bind(eta)
        .execute(pool)
        .await;
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    let said = errors.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let last = said
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(format!("ffmpeg failed ({status}): {last}"))
}
