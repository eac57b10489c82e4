//! The `transcode` job: one ffmpeg process decodes the source once and writes every ladder
//! rung as fMP4 HLS (keyframes every 2 s in every rung, so segments align), the poster at 25 %
//! and the seek-preview sprite sheets, through `split`. The worker then writes the master
//! playlist (with measured bandwidths) and the thumbnails track, stores everything, and marks
//! the video ready. Progress goes to `videos.progress` as ffmpeg reports it.
//!
//! While ffmpeg runs, the rung playlists are `EVENT` playlists that `progressive` stores as
//! they grow (segments first). Once every rung lists a segment, an interim master playlist
//! (bitrates from the ladder's targets) is stored and attached to the still-`processing` video
//! (`master_key`, `playable_at`, `available_ms`): the talk is watchable. At the end the final
//! `VOD` playlists and the measured master replace them under the same keys.
//!
//! ffmpeg reads the source confined to it (`probe::confined_input_args`, the demuxer pinned
//! with `-f` from the stored probe), so nothing named inside a hostile file is ever opened.
//!
//! Every attempt writes under a prefix of its own, `{tenant}/{video}/v{n}/`, and the video
//! switches to it in one UPDATE that also proves the attempt still owns its job: a stale
//! attempt (lease lost, job cancelled) can never switch, a player never sees a mix of two
//! transcodes, and an `immutable` URL never changes content. What the switch replaced is
//! deleted after it.

use std::collections::HashSet;
use std::path::Path;
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
use uuid::Uuid;

use crate::config::MediaTools;
use crate::encoder::{EncoderCache, RateControl, VideoEncoder};
use crate::handler::{JobContext, JobFuture, JobHandler};
use crate::probe::{self, Probe};
use crate::progressive::{self, Publisher};

/// Audio of an audio-only source.
const AUDIO_ONLY_KBPS: u32 = 128;

/// The output folders of one transcode, under its prefix.
const OUTPUT_FOLDERS: [&str; 2] = ["hls", "thumbs"];

/// How often the growing playlists are looked at while ffmpeg writes them.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

pub struct Transcode {
    pub media: Arc<dyn MediaStore>,
    pub tools: MediaTools,
    pub encoders: Arc<EncoderCache>,
    /// Transcodes this worker runs at once (each also takes a GPU slot).
    pub concurrency: usize,
    /// Read the source at most this many times real time (ffmpeg `-readrate`); `None`: as
    /// fast as the encoder goes. Tests slow a tiny transcode down to watch it in flight.
    pub read_rate: Option<f64>,
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
        let read_rate = self.read_rate;
        Box::pin(async move {
            let video: Uuid = ctx
                .job
                .payload
                .get("video_id")
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse().ok())
                .ok_or("the job has no video_id")?;
            let attempt = Attempt {
                pool: &ctx.pool,
                tenant: ctx.job.tenant,
                video,
                job: ctx.job.id,
                attempt: ctx.job.attempt,
                worker: &ctx.worker,
            };
            // A last attempt that fails is discarded, and the database trigger on jobs marks
            // the video failed (migrations/20261201000002_transcode_outcomes.sql).
            let encoding = Encoding {
                tools: &tools,
                encoders: &encoders,
                read_rate,
            };
            transcode(&attempt, &*media, &encoding).await
        })
    }
}

/// How this worker encodes: its tools, its encoders, and the source read rate.
struct Encoding<'a> {
    tools: &'a MediaTools,
    encoders: &'a EncoderCache,
    read_rate: Option<f64>,
}

/// One attempt at one video's transcode, and what proves it still owns the job.
struct Attempt<'a> {
    pool: &'a PgPool,
    tenant: TenantId,
    video: Uuid,
    job: i64,
    attempt: i32,
    worker: &'a str,
}

/// Where attempt number `generation` of a video writes its outputs.
pub fn output_prefix(tenant: TenantId, video: Uuid, generation: i32) -> String {
    format!("{}/v{generation}", video_prefix(tenant, video))
}

/// The prefix holding the outputs a master playlist key belongs to (`…/v3` for
/// `…/v3/hls/master.m3u8`; the video's own prefix for the layout before generations).
fn outputs_of(master_key: &str) -> Option<&str> {
    master_key.strip_suffix("/hls/master.m3u8")
}

async fn transcode(
    attempt: &Attempt<'_>,
    media: &dyn MediaStore,
    encoding: &Encoding<'_>,
) -> Result<(), String> {
    let (pool, tenant, video) = (attempt.pool, attempt.tenant, attempt.video);
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
    if state != "processing" {
        tracing::info!(%video, state, "the video is not waiting for a transcode");
        return Ok(());
    }
    let source_key = source_key.ok_or("the video has no source")?;
    // Parsing again applies today's checks (the container allow-list among them) to a probe
    // stored before they existed.
    let probe =
        probe::parse(&serde_json::to_vec(&probe_json.unwrap_or_default()).unwrap_or_default())
            .map_err(|e| format!("the stored probe is unusable: {e}"))?;
    let Some(mut generation) = next_generation(attempt).await? else {
        return Ok(());
    };
    let result = encode_and_switch(
        attempt,
        media,
        encoding,
        &probe,
        &source_key,
        &mut generation,
    )
    .await;
    if !matches!(result, Ok(true)) {
        // Failed or superseded: nothing will ever point at this attempt's outputs.
        let prefix = output_prefix(tenant, video, generation);
        detach_interim(attempt, &prefix).await;
        delete_outputs(media, &prefix).await;
    }
    result.map(|_| ())
}

/// Takes the next output number for this attempt, while the video still waits. An interim
/// master an earlier attempt left attached (it crashed, or lost its job) is detached in the
/// same statement: its playlists will never be finished. A finished master stays (a
/// re-transcode serves the previous one until it switches).
async fn next_generation(attempt: &Attempt<'_>) -> Result<Option<i32>, String> {
    sqlx::query_scalar(
        "UPDATE videos SET output_generation = output_generation + 1,
                master_key = CASE WHEN available_ms IS NULL THEN master_key END,
                playable_at = CASE WHEN available_ms IS NULL THEN playable_at END,
                available_ms = NULL
         WHERE tenant_id = $1 AND id = $2 AND state = 'processing'
         RETURNING output_generation",
    )
    .bind(attempt.tenant.0)
    .bind(attempt.video)
    .fetch_optional(attempt.pool)
    .await
    .map_err(|e| format!("cannot number this transcode: {e}"))
}

/// Makes the video watchable from this attempt's interim master: only while the attempt owns
/// its job, the video still waits and has no master (a re-transcode keeps serving the finished
/// one). `false` when it did not happen.
async fn attach_interim(
    attempt: &Attempt<'_>,
    master_key: &str,
    available: f64,
) -> Result<bool, String> {
    let attached = sqlx::query(
        "WITH owner AS (
             SELECT id FROM jobs
             WHERE id = $4 AND attempt = $5 AND state = 'running'
               AND attempted_by[cardinality(attempted_by)] = $6
             FOR UPDATE
         )
         UPDATE videos SET master_key = $3, available_ms = $7,
                playable_at = coalesce(playable_at, now())
         WHERE tenant_id = $1 AND id = $2 AND state = 'processing' AND master_key IS NULL
           AND EXISTS (SELECT 1 FROM owner)",
    )
    .bind(attempt.tenant.0)
    .bind(attempt.video)
    .bind(master_key)
    .bind(attempt.job)
    .bind(attempt.attempt)
    .bind(attempt.worker)
    .bind(millis(available))
    .execute(attempt.pool)
    .await
    .map_err(|e| format!("cannot make the video playable: {e}"))?;
    Ok(attached.rows_affected() == 1)
}

/// Records how much of an attached interim master every rung lists now.
async fn record_available(attempt: &Attempt<'_>, master_key: &str, available: f64) {
    let result = sqlx::query(
        "UPDATE videos SET available_ms = $4
         WHERE tenant_id = $1 AND id = $2 AND master_key = $3 AND available_ms IS NOT NULL",
    )
    .bind(attempt.tenant.0)
    .bind(attempt.video)
    .bind(master_key)
    .bind(millis(available))
    .execute(attempt.pool)
    .await;
    if let Err(err) = result {
        tracing::warn!(%err, video = %attempt.video, "cannot record how much is playable");
    }
}

/// Detaches the interim master of the outputs under `prefix`, if the video still points at it
/// (a failed or superseded attempt leaves nothing half playable attached).
async fn detach_interim(attempt: &Attempt<'_>, prefix: &str) {
    let result = sqlx::query(
        "UPDATE videos SET master_key = NULL, playable_at = NULL, available_ms = NULL
         WHERE tenant_id = $1 AND id = $2 AND master_key = $3 AND available_ms IS NOT NULL",
    )
    .bind(attempt.tenant.0)
    .bind(attempt.video)
    .bind(format!("{prefix}/hls/master.m3u8"))
    .execute(attempt.pool)
    .await;
    if let Err(err) = result {
        tracing::warn!(%err, video = %attempt.video, "cannot detach an interim master");
    }
}

fn millis(secs: f64) -> i64 {
    (secs.max(0.0) * 1000.0).round() as i64
}

/// Encodes, stores under `prefix` and switches the video to it; `Ok(false)` when the attempt
/// no longer owned its job (or the video changed) and the switch did not happen.
async fn encode_and_switch(
    attempt: &Attempt<'_>,
    media: &dyn MediaStore,
    encoding: &Encoding<'_>,
    probe: &Probe,
    source_key: &str,
    generation: &mut i32,
) -> Result<bool, String> {
    let (pool, tenant, video) = (attempt.pool, attempt.tenant, attempt.video);
    let Encoding {
        tools,
        encoders,
        read_rate,
    } = *encoding;
    let mut prefix = output_prefix(tenant, video, *generation);
    let scratch = tempfile::Builder::new()
        .prefix("ferrotape-transcode-")
        .tempdir()
        .map_err(|e| format!("no scratch space: {e}"))?;
    let source = media
        .readable_path(source_key, scratch.path())
        .await
        .map_err(|e| e.to_string())?;
    let out = scratch.path().join("out");
    let plan = Plan::new(probe);

    let mut encoder = if plan.rungs.is_empty() {
        VideoEncoder::Libx264
    } else {
        encoders.preferred().await.map_err(|e| e.to_string())?
    };
    let staging = scratch.path().join("staging");
    let started = Instant::now();
    let published = loop {
        for dir in [&out, &staging] {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        for dir in [out.join("thumbs"), staging.clone()] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("no scratch space: {e}"))?;
        }
        let mut publisher = Publisher::new(
            out.join("hls"),
            staging.clone(),
            format!("{prefix}/hls"),
            plan.renditions(),
        );
        let mut command = crate::ffmpeg::command(&tools.ffmpeg);
        command.args(plan.ffmpeg_args(encoder, &source, &out, read_rate));
        let encoded = encode_publishing(
            attempt,
            media,
            &plan,
            &prefix,
            &mut publisher,
            command,
            probe.duration_secs,
        )
        .await;
        match encoded {
            Ok(()) => break publisher,
            Err(message) if encoder.is_hardware() => {
                tracing::warn!(encoder = encoder.ffmpeg_name(), %message, "the GPU encode failed; falling back");
                if publisher.published_anything() {
                    // The next encode gets URLs of its own: those handed out already are
                    // immutable and must never serve other bytes.
                    detach_interim(attempt, &prefix).await;
                    delete_outputs(media, &prefix).await;
                    let Some(next) = next_generation(attempt).await? else {
                        return Ok(false);
                    };
                    *generation = next;
                    prefix = output_prefix(tenant, video, next);
                }
                encoder = encoders
                    .fallback_after(encoder)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(message) => return Err(message),
        }
    };
    tracing::info!(%video, encoder = encoder.ffmpeg_name(), secs = started.elapsed().as_secs_f64(), "encoded");

    for rendition in plan.renditions() {
        let path = out.join("hls").join(rendition).join("index.m3u8");
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| format!("ffmpeg wrote no playlist {}: {e}", path.display()))?;
        write(&path, &progressive::finished_playlist(&text)).await?;
    }
    let variants = plan
        .write_master_and_thumbnails(&out, probe.duration_secs)
        .await?;
    let already: HashSet<String> = published
        .stored()
        .iter()
        .map(|file| format!("hls/{file}"))
        .collect();
    store_tree(media, &out, &prefix, &already).await?;
    let prefix = &prefix;
    let has_thumbs = !plan.rungs.is_empty();
    // The switch: only while this attempt is the job's running one (the job row is locked, so
    // the rescuer or a cancel cannot take it over mid-statement) and the video still waits.
    let replaced: Option<(Option<String>,)> = sqlx::query_as(
        "WITH owner AS (
             SELECT id FROM jobs
             WHERE id = $8 AND attempt = $9 AND state = 'running'
               AND attempted_by[cardinality(attempted_by)] = $10
             FOR UPDATE
         ), previous AS (
             SELECT master_key FROM videos WHERE tenant_id = $1 AND id = $2
         )
         UPDATE videos SET state = 'ready', progress = 1, eta_at = NULL, master_key = $3,
                poster_key = $4, thumbnails_key = $5, renditions = $6, encoder = $7,
                processed_at = now(), available_ms = NULL,
                playable_at = coalesce(playable_at, now())
         WHERE tenant_id = $1 AND id = $2 AND state = 'processing' AND EXISTS (SELECT 1 FROM owner)
         RETURNING (SELECT master_key FROM previous)",
    )
    .bind(tenant.0)
    .bind(video)
    .bind(format!("{prefix}/hls/master.m3u8"))
    .bind(has_thumbs.then(|| format!("{prefix}/thumbs/poster.jpg")))
    .bind(has_thumbs.then(|| format!("{prefix}/thumbs/thumbs.vtt")))
    .bind(json!(variants))
    .bind(encoder.ffmpeg_name())
    .bind(attempt.job)
    .bind(attempt.attempt)
    .bind(attempt.worker)
    .fetch_optional(pool)
    .await
    .map_err(|e| format!("cannot mark the video ready: {e}"))?;
    let Some((previous,)) = replaced else {
        tracing::info!(%video, "this attempt no longer owns the job or the video changed; its outputs are dropped");
        return Ok(false);
    };
    // Everything older is superseded for good: the outputs the switch replaced, and those of
    // earlier attempts that crashed or lost their job before cleaning up (none of them can
    // ever switch: they no longer own the job).
    if let Some(old) = previous.as_deref().and_then(outputs_of)
        && old != prefix
    {
        delete_outputs(media, old).await;
    }
    for earlier in 1..*generation {
        delete_outputs(media, &output_prefix(tenant, video, earlier)).await;
    }
    Ok(true)
}

/// Where an attempt's interim master stands.
enum Interim {
    /// Not every rung lists a segment yet.
    Waiting,
    /// The video plays it.
    Attached { master_key: String, available: f64 },
    /// The video keeps a finished master (a re-transcode) or the attempt lost its job.
    Declined,
}

/// Runs the encode, publishing the growing playlists every [`PUBLISH_EVERY`] and attaching the
/// interim master once every rung lists a segment. A storage hiccup here only delays
/// publishing: everything is stored again at the end.
async fn encode_publishing(
    attempt: &Attempt<'_>,
    media: &dyn MediaStore,
    plan: &Plan,
    prefix: &str,
    publisher: &mut Publisher,
    command: ffmpeg_sidecar::command::FfmpegCommand,
    duration: f64,
) -> Result<(), String> {
    let encode = run_ffmpeg(
        command,
        duration,
        attempt.pool,
        attempt.tenant,
        attempt.video,
    );
    tokio::pin!(encode);
    let mut ticker = tokio::time::interval(PUBLISH_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut interim = Interim::Waiting;
    loop {
        tokio::select! {
            result = &mut encode => return result,
            _ = ticker.tick() => {}
        }
        let available = match publisher.publish(media).await {
            Ok(Some(available)) => available,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(%err, video = %attempt.video, "cannot publish the growing playlists yet");
                continue;
            }
        };
        match &mut interim {
            Interim::Waiting => {
                let master_key = format!("{prefix}/hls/master.m3u8");
                let text = plan.interim_master()?;
                if let Err(err) = publisher.put_text(media, "master.m3u8", &text).await {
                    tracing::warn!(%err, video = %attempt.video, "cannot store the interim master yet");
                    continue;
                }
                interim = if attach_interim(attempt, &master_key, available).await? {
                    tracing::info!(video = %attempt.video, available, "playable while transcoding");
                    Interim::Attached {
                        master_key,
                        available,
                    }
                } else {
                    Interim::Declined
                };
            }
            Interim::Attached {
                master_key,
                available: recorded,
            } => {
                if available > *recorded {
                    record_available(attempt, master_key, available).await;
                    *recorded = available;
                }
            }
            Interim::Declined => {}
        }
    }
}

/// Removes the outputs under `prefix`: a whole generation (`…/v{n}`), or the output folders of
/// the layout before generations (never the source beside them). Failures are only logged:
/// nothing points at these outputs any more.
async fn delete_outputs(media: &dyn MediaStore, prefix: &str) {
    let generation = prefix
        .rsplit_once("/v")
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let targets: Vec<String> = if generation {
        vec![prefix.to_owned()]
    } else {
        OUTPUT_FOLDERS
            .iter()
            .map(|f| format!("{prefix}/{f}"))
            .collect()
    };
    for target in targets {
        if let Err(err) = media.delete_prefix(&target).await {
            tracing::warn!(%err, %target, "cannot delete superseded transcode outputs");
        }
    }
}

/// What one transcode produces, decided from the probe.
struct Plan {
    /// The source's demuxer, pinned with `-f`.
    demuxer: &'static str,
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
            demuxer: probe.demuxer,
            rungs,
            has_audio: probe.audio.is_some(),
            sprite: hls::sprite_plan(probe.duration_secs, width, height),
            poster_at: probe.duration_secs * 0.25,
        }
    }

    /// The renditions' folder names under `hls/`.
    fn renditions(&self) -> Vec<String> {
        if self.rungs.is_empty() {
            return vec!["audio".to_owned()];
        }
        self.rungs.iter().map(|rung| rung.name.clone()).collect()
    }

    /// The master playlist a video plays while it transcodes: bandwidths from the ladder's
    /// targets (peak: the VBV maximum), since nothing can be measured yet.
    fn interim_master(&self) -> Result<String, String> {
        let text = if self.rungs.is_empty() {
            hls::master_playlist(
                &[],
                Some(&AudioOnlyVariant {
                    uri: "audio/index.m3u8".into(),
                    bandwidth: u64::from(AUDIO_ONLY_KBPS) * 1000,
                    codecs: "mp4a.40.2".into(),
                }),
            )
        } else {
            let variants: Vec<Variant> = self
                .rungs
                .iter()
                .map(|rung| {
                    let audio = if self.has_audio { rung.audio_kbps } else { 0 };
                    self.variant(
                        rung,
                        u64::from(rung.maxrate_kbps + audio) * 1000,
                        u64::from(rung.video_kbps + audio) * 1000,
                    )
                })
                .collect();
            hls::master_playlist(&variants, None)
        };
        text.map_err(|e| e.to_string())
    }

    /// The master playlist entry of `rung`.
    fn variant(&self, rung: &Rung, bandwidth: u64, average_bandwidth: u64) -> Variant {
        let level = hls::h264_level_for(rung.width, rung.height, rung.fps);
        let mut codecs = hls::avc_codec_string(0x64, 0, level);
        if self.has_audio {
            codecs.push_str(",mp4a.40.2");
        }
        Variant {
            uri: format!("{}/index.m3u8", rung.name),
            bandwidth,
            average_bandwidth,
            width: rung.width,
            height: rung.height,
            frame_rate: rung.fps,
            codecs,
        }
    }

    fn ffmpeg_args(
        &self,
        encoder: VideoEncoder,
        source: &Path,
        out: &Path,
        read_rate: Option<f64>,
    ) -> Vec<String> {
        let mut args: Vec<String> = vec!["-y".into()];
        args.extend(encoder.input_args());
        if let Some(rate) = read_rate.filter(|r| r.is_finite() && *r > 0.0) {
            args.extend(["-readrate".into(), format!("{rate:.3}")]);
        }
        // The source is read as the container its probe found, through the file protocol only.
        args.extend(probe::confined_input_args(self.demuxer));
        args.extend(["-f".into(), self.demuxer.into(), "-i".into()]);
        args.push(probe::file_url(source));
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
                variants.push(self.variant(rung, peak, average));
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
    rung_keyframes_and_audio(args, i, rung, has_audio, KEYFRAME_INTERVAL_SECS)
}

/// The end of rung `i`'s arguments, shared by the VOD and the live ladders: keyframes every
/// `interval_secs` on the same instants in every rung, whatever its frame rate, and the
/// source's audio in AAC at the rung's bitrate; returns its `var_stream_map` entry.
pub fn rung_keyframes_and_audio(
    args: &mut Vec<String>,
    i: usize,
    rung: &Rung,
    has_audio: bool,
    interval_secs: u32,
) -> String {
    args.push(format!("-force_key_frames:v:{i}"));
    args.push(format!("expr:gte(t,n_forced*{interval_secs})"));
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
        // EVENT: the playlists only grow while ffmpeg runs (so they can be published as they
        // do); `temp_file`: a segment appears under its name only once complete.
        "-hls_playlist_type",
        "event",
        "-hls_segment_type",
        "fmp4",
        "-hls_flags",
        "independent_segments+temp_file",
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

/// Stores every file under `dir` at `prefix/<relative path>`, but those in `already` (stored
/// while ffmpeg ran). Playlists go last, the master very last, so no stored playlist ever
/// names a file storage does not hold yet.
async fn store_tree(
    media: &dyn MediaStore,
    dir: &Path,
    prefix: &str,
    already: &HashSet<String>,
) -> Result<(), String> {
    let mut files = Vec::new();
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
            if !already.contains(&relative) {
                files.push((relative, path));
            }
        }
    }
    files.sort_by_key(|(relative, _)| {
        (
            relative.ends_with("/master.m3u8"),
            relative.ends_with(".m3u8"),
        )
    });
    for (relative, path) in files {
        media
            .put_file(&format!("{prefix}/{relative}"), &path)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs the transcode's ffmpeg, turning its progress into `videos.progress` and an ETA (at
/// most once a second).
async fn run_ffmpeg(
    command: ffmpeg_sidecar::command::FfmpegCommand,
    duration: f64,
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<(), String> {
    let started = Instant::now();
    let mut last_report = Instant::now() - Duration::from_secs(10);
    crate::ffmpeg::run(command, |written| {
        let due = last_report.elapsed() >= Duration::from_secs(1) && duration > 0.0;
        if due {
            last_report = Instant::now();
        }
        async move {
            if !due {
                return;
            }
            let done = (written / duration).clamp(0.0, 0.99);
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
    })
    .await
}
