//! Transcode cost: the platform's whole `transcode` job next to bare ffmpeg doing the same
//! encoding work.
//!
//! (a) the job: a video row in `processing` with its source in a `LocalMedia` store and a
//!     `transcode` job enqueued the way `store::uploads::Completion::playable` does it, run by the
//!     real worker (`ferrotape_worker::run`) until the video is `ready`. Timed from the enqueue
//!     to `ready`; its CPU is the reaped children's (ffmpeg) plus this process's own (runtime,
//!     database client, playlists, storing the outputs). The embedded PostgreSQL is a separate
//!     process started by `bench/transcode`, so the database server's CPU is not counted.
//!     The job also writes the poster and the seek-preview sprites, which (b) and (c) do not.
//! (b) one bare ffmpeg run writing the same rungs (same ladder, encoder arguments, keyframes,
//!     fMP4 HLS muxing, one decode through `split`): the job's command without the progress
//!     pipe, the poster and the sprites.
//! (c) one bare ffmpeg run per rung, one after the other (PeerTube's shape): each decodes the
//!     source again.
//!
//! Encoder detection (one validation encode per listed encoder) is excluded: a warm-up job on
//! a tiny clip runs first in the same worker, whose `EncoderCache` then answers from memory.
//! (b) and (c) use the encoder the job used. Every figure is the median of the runs
//! (TRANSCODE_BENCH_RUNS, default 3), (a), (b) and (c) interleaved.
//!
//! Run through `bench/transcode`, which starts a private PostgreSQL, generates the clips and
//! sets DATABASE_URL, TRANSCODE_BENCH_CLIP, TRANSCODE_BENCH_WARMUP_CLIP and TRANSCODE_BENCH_DIR.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_model::ladder::{self, Rung, SourceVideo};
use ferrotape_store::jobs::{self, NewJob};
use ferrotape_store::media::LocalMedia;
use ferrotape_store::uploads::{TRANSCODE_JOB, source_key};
use ferrotape_store::{PgPool, db};
use ferrotape_worker::encoder::VideoEncoder;
use ferrotape_worker::probe::{self, Probe};
use ferrotape_worker::transcode::{hls_output_args, rung_output_args};
use ferrotape_worker::{MediaTools, WorkerConfig};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeVal;
use uuid::Uuid;

/// CPU seconds used so far: by reaped child processes, and by this process.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    children: f64,
    own: f64,
}

fn cpu_now() -> Cpu {
    let secs = |t: TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let children = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let own = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    Cpu {
        children: secs(children.user_time()) + secs(children.system_time()),
        own: secs(own.user_time()) + secs(own.system_time()),
    }
}

/// One measurement: wall seconds, CPU seconds of children, CPU seconds of this process.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: f64,
    children_cpu: f64,
    own_cpu: f64,
}

impl Cost {
    fn since(started: Instant, before: Cpu) -> Cost {
        let wall = started.elapsed().as_secs_f64();
        let after = cpu_now();
        Cost {
            wall,
            children_cpu: after.children - before.children,
            own_cpu: after.own - before.own,
        }
    }

    fn cpu(&self) -> f64 {
        self.children_cpu + self.own_cpu
    }
}

/// Puts a copy of `clip` into the media store as the source of a new video in `uploading`.
async fn new_video(pool: &PgPool, media: &LocalMedia, clip: &Path) -> (Uuid, String) {
    let video = Uuid::new_v4();
    let key = source_key(TenantId::DEFAULT, video, "mp4");
    let path = media.path_of(&key).unwrap();
    tokio::fs::create_dir_all(path.parent().unwrap())
        .await
        .unwrap();
    let size = tokio::fs::copy(clip, &path).await.unwrap();
    sqlx::query(
        "INSERT INTO videos (id, tenant_id, original_name, size_bytes) VALUES ($1, $2, $3, $4)",
    )
    .bind(video)
    .bind(TenantId::DEFAULT.0)
    .bind("clip.mp4")
    .bind(size as i64)
    .execute(pool)
    .await
    .unwrap();
    (video, key)
}

/// What `complete_playable` does once a source is probed: the video moves to `processing` and
/// a `transcode` job is enqueued in the same transaction; then workers are woken. Returns the
/// job's id.
async fn enqueue_transcode(pool: &PgPool, video: Uuid, key: &str, probe: &Probe) -> i64 {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "UPDATE videos SET state = 'processing', source_key = $3, probe = $4, duration_ms = $5,
                           width = $6, height = $7, progress = 0
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(TenantId::DEFAULT.0)
    .bind(video)
    .bind(key)
    .bind(&probe.raw)
    .bind((probe.duration_secs * 1000.0).round() as i64)
    .bind(probe.video.as_ref().map(|v| v.width as i32))
    .bind(probe.video.as_ref().map(|v| v.height as i32))
    .execute(&mut *tx)
    .await
    .unwrap();
    let unique = video.to_string();
    let job = jobs::enqueue(
        &mut *tx,
        TenantId::DEFAULT,
        &NewJob {
            max_attempts: 3,
            unique_key: Some(&unique),
            ..NewJob::new(TRANSCODE_JOB, serde_json::json!({ "video_id": video }))
        },
    )
    .await
    .unwrap()
    .expect("no transcode of this video is queued yet");
    tx.commit().await.unwrap();
    jobs::notify_enqueued(pool, &[TRANSCODE_JOB]).await.unwrap();
    job
}

/// Waits until the video is `ready`, looking every 25 ms (one indexed query); stops the bench
/// if the transcode failed. Returns the encoder the job used.
async fn wait_ready(pool: &PgPool, video: Uuid, job: i64) -> String {
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let (state, reason, encoder, job_state, errors): (
            String,
            Option<String>,
            Option<String>,
            String,
            String,
        ) = sqlx::query_as(
            "SELECT v.state::text, v.failure_reason, v.encoder, j.state::text, j.errors::text
             FROM videos v, jobs j WHERE v.id = $1 AND j.id = $2",
        )
        .bind(video)
        .bind(job)
        .fetch_one(pool)
        .await
        .unwrap();
        match state.as_str() {
            "ready" => return encoder.unwrap_or_default(),
            "processing" => {}
            _ => panic!("the transcode of {video} ended {state}: {reason:?}"),
        }
        // A failed attempt leaves the video processing and the job retryable: no point waiting
        // for the back-off.
        if matches!(job_state.as_str(), "retryable" | "discarded" | "cancelled") {
            panic!("the transcode of {video} failed ({job_state}): {errors}");
        }
    }
}

async fn job_run(pool: &PgPool, media: &LocalMedia, clip: &Path, probe: &Probe) -> (Cost, String) {
    let (video, key) = new_video(pool, media, clip).await;
    let before = cpu_now();
    let started = Instant::now();
    let job = enqueue_transcode(pool, video, &key, probe).await;
    let encoder = wait_ready(pool, video, job).await;
    (Cost::since(started, before), encoder)
}

/// The ladder part of the job's ffmpeg command (`Plan::ffmpeg_args` in worker/src/transcode.rs)
/// for `rungs`: one decode, `split` into one scale/fps chain per rung, the same encoder
/// arguments and forced keyframes, audio per rung, fMP4 HLS through `var_stream_map`. Without
/// the job's `-progress pipe:1`, poster and sprite outputs.
fn ladder_args(
    encoder: VideoEncoder,
    rungs: &[Rung],
    has_audio: bool,
    source: &Path,
    out: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        .map(String::from)
        .into();
    args.push("-nostats".into());
    args.extend(encoder.input_args());
    args.push("-i".into());
    args.push(source.display().to_string());
    let n = rungs.len();
    let mut graph = String::new();
    if n > 1 {
        graph.push_str(&format!("[0:v]split={n}"));
        for i in 0..n {
            graph.push_str(&format!("[v{i}]"));
        }
        graph.push(';');
    }
    for (i, rung) in rungs.iter().enumerate() {
        if i > 0 {
            graph.push(';');
        }
        let input = if n > 1 {
            format!("[v{i}]")
        } else {
            "[0:v]".to_owned()
        };
        graph.push_str(&format!(
            "{input}fps={:.3},scale={}:{}:flags=bicubic",
            rung.fps, rung.width, rung.height
        ));
        if let Some(upload) = encoder.upload_filter() {
            graph.push_str(&format!(",{upload}"));
        }
        graph.push_str(&format!("[o{i}]"));
    }
    args.push("-filter_complex".into());
    args.push(graph);
    let stream_map: Vec<String> = rungs
        .iter()
        .enumerate()
        .map(|(i, rung)| rung_output_args(&mut args, encoder, i, rung, has_audio))
        .collect();
    args.extend(hls_output_args(&out.join("hls"), &stream_map.join(" ")));
    args
}

/// Runs ffmpeg to completion (reaped, so its CPU shows in RUSAGE_CHILDREN) and checks that
/// every rung's playlist was written.
async fn ffmpeg(ffmpeg: &Path, args: &[String], out: &Path, rungs: &[Rung]) {
    let _ = tokio::fs::remove_dir_all(out).await;
    tokio::fs::create_dir_all(out).await.unwrap();
    let output = tokio::process::Command::new(ffmpeg)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "ffmpeg failed ({}): {}\n{args:?}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for rung in rungs {
        let playlist = out.join("hls").join(&rung.name).join("index.m3u8");
        assert!(playlist.exists(), "ffmpeg wrote no {}", playlist.display());
    }
}

async fn bare_run(
    tools: &MediaTools,
    encoder: VideoEncoder,
    rungs: &[Rung],
    has_audio: bool,
    clip: &Path,
    out: &Path,
) -> Cost {
    let args = ladder_args(encoder, rungs, has_audio, clip, out);
    let before = cpu_now();
    let started = Instant::now();
    ffmpeg(&tools.ffmpeg, &args, out, rungs).await;
    Cost::since(started, before)
}

async fn per_rendition_run(
    tools: &MediaTools,
    encoder: VideoEncoder,
    rungs: &[Rung],
    has_audio: bool,
    clip: &Path,
    out: &Path,
) -> Cost {
    let before = cpu_now();
    let started = Instant::now();
    for rung in rungs {
        let one = std::slice::from_ref(rung);
        let dir = out.join(&rung.name);
        let args = ladder_args(encoder, one, has_audio, clip, &dir);
        ffmpeg(&tools.ffmpeg, &args, &dir, one).await;
    }
    Cost::since(started, before)
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var(name).unwrap_or_else(|_| panic!("{name} (bench/transcode sets it)")),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (bench/transcode sets it)");
    let clip = env_path("TRANSCODE_BENCH_CLIP");
    let warmup_clip = env_path("TRANSCODE_BENCH_WARMUP_CLIP");
    let dir = env_path("TRANSCODE_BENCH_DIR");
    let runs: usize = std::env::var("TRANSCODE_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);

    let pool = db::connect(url.parse().unwrap(), 8).await.unwrap();
    db::migrate(&pool).await.unwrap();
    let media = LocalMedia::open(&dir.join("media")).unwrap();
    let config = WorkerConfig::default();
    let tools = config.tools.clone();

    let probe = probe::probe(&tools.ffprobe, &clip)
        .await
        .expect("the clip probes");
    let warmup_probe = probe::probe(&tools.ffprobe, &warmup_clip)
        .await
        .expect("the warm-up clip probes");
    let source = probe.video.as_ref().expect("the clip has video");
    let rungs = ladder::ladder(&SourceVideo {
        width: source.width,
        height: source.height,
        fps: source.fps,
    });
    let has_audio = probe.audio.is_some();
    println!("transcode_bench_runs = {runs}");
    println!(
        "transcode_clip = {}x{} {:.2} fps {:.1} s{}",
        source.width,
        source.height,
        source.fps,
        probe.duration_secs,
        if has_audio { " with audio" } else { "" }
    );
    let names: Vec<&str> = rungs.iter().rev().map(|r| r.name.as_str()).collect();
    println!("transcode_rungs = {}", names.join(","));

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(ferrotape_worker::run(
        pool.clone(),
        Arc::new(media.clone()),
        config.clone(),
        stopped,
    ));

    // Warm-up: the worker's EncoderCache detects the encoder during this job, not a timed one.
    let warmup_started = Instant::now();
    let (_, encoder_name) = job_run(&pool, &media, &warmup_clip, &warmup_probe).await;
    println!(
        "transcode_warmup_job_wall_s = {:.2}",
        warmup_started.elapsed().as_secs_f64()
    );
    println!("transcode_encoder = {encoder_name}");
    let encoder = VideoEncoder::PREFERENCE
        .into_iter()
        .find(|e| e.ffmpeg_name() == encoder_name)
        .unwrap_or_else(|| panic!("unknown encoder {encoder_name:?}"));

    let mut job = Vec::new();
    let mut bare = Vec::new();
    let mut per_rendition = Vec::new();
    for _ in 0..runs {
        let (cost, used) = job_run(&pool, &media, &clip, &probe).await;
        assert_eq!(used, encoder_name, "the job kept its encoder");
        job.push(cost);
        bare.push(bare_run(&tools, encoder, &rungs, has_audio, &clip, &dir.join("bare")).await);
        per_rendition.push(
            per_rendition_run(
                &tools,
                encoder,
                &rungs,
                has_audio,
                &clip,
                &dir.join("per_rendition"),
            )
            .await,
        );
    }
    let _ = stop.send(true);
    worker.await.unwrap();

    // From the job rows: enqueue to claim (LISTEN/NOTIFY wake-up and claim).
    let claim_latency: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM attempted_at - created_at)::float8 FROM jobs
         WHERE kind = $1 ORDER BY id OFFSET 1",
    )
    .bind(TRANSCODE_JOB)
    .fetch_all(&pool)
    .await
    .unwrap();

    let wall = |costs: &[Cost]| median(costs.iter().map(|c| c.wall).collect());
    let cpu = |costs: &[Cost]| median(costs.iter().map(Cost::cpu).collect());
    let (job_wall, job_cpu) = (wall(&job), cpu(&job));
    let (bare_wall, bare_cpu) = (wall(&bare), cpu(&bare));
    let (per_wall, per_cpu) = (wall(&per_rendition), cpu(&per_rendition));
    println!("transcode_job_wall_s = {job_wall:.2}");
    println!("transcode_job_cpu_s = {job_cpu:.2}");
    println!(
        "transcode_job_own_cpu_s = {:.2}",
        median(job.iter().map(|c| c.own_cpu).collect())
    );
    println!(
        "transcode_job_claim_latency_s = {:.3}",
        median(claim_latency)
    );
    println!("bare_ffmpeg_wall_s = {bare_wall:.2}");
    println!("bare_ffmpeg_cpu_s = {bare_cpu:.2}");
    println!("per_rendition_wall_s = {per_wall:.2}");
    println!("per_rendition_cpu_s = {per_cpu:.2}");
    println!("transcode_job_vs_bare = {:.2}", job_wall / bare_wall);
    println!("transcode_job_vs_bare_cpu = {:.2}", job_cpu / bare_cpu);
    println!("per_rendition_vs_job = {:.2}", per_wall / job_wall);
    println!("per_rendition_vs_job_cpu = {:.2}", per_cpu / job_cpu);
    let show = |costs: &[Cost]| {
        costs
            .iter()
            .map(|c| format!("{:.2}/{:.2}", c.wall, c.cpu()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("transcode_job_runs_wall_cpu_s = {}", show(&job));
    println!("bare_ffmpeg_runs_wall_cpu_s = {}", show(&bare));
    println!("per_rendition_runs_wall_cpu_s = {}", show(&per_rendition));
}
