//! A talk is watchable while its video transcodes, against a real PostgreSQL, the real ffmpeg,
//! `/media`, and local or S3 (SeaweedFS) storage: once every rung has its first segment the
//! video points at an interim master, every rung playlist is a growing `EVENT` playlist whose
//! segments are all fetchable, the watch page says it is still processing; when the job ends
//! the playlists are `VOD` with an end and the master carries measured bandwidths; an attempt
//! that fails (or dies) leaves no playable master attached.
//!
//! The source is read at twice real time (`Transcode::read_rate`), so the 24 s transcode
//! takes about 12 s and the in-flight state can be looked at; the test polls, never sleeps a
//! fixed time.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{TestApp, TestResponse};
use ferrotape_model::TenantId;
use ferrotape_model::jobs::ResourceClass;
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, ClaimedJob, NewJob};
use ferrotape_store::media::{MediaStore, OpenedMedia};
use ferrotape_store::s3::{S3Args, S3Media};
use ferrotape_store::uploads::{self, TRANSCODE_JOB};
use ferrotape_worker::encoder::EncoderCache;
use ferrotape_worker::transcode::Transcode;
use ferrotape_worker::{JobContext, JobHandler, MediaTools};
use serde_json::json;
use uuid::Uuid;

const TENANT: TenantId = TenantId::DEFAULT;
const SOURCE_SECS: u32 = 24;

/// A published talk with a `processing` video whose 24 s 854x480 source (two rungs: 480p and
/// 360p) is in `media`. Returns the video and the talk's slug.
async fn processing_talk(app: &TestApp, media: &dyn MediaStore) -> (Uuid, String) {
    let video = Uuid::new_v4();
    let key = uploads::source_key(TENANT, video, "mp4");
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("source.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=854x480:rate=15")
        .args(["-f", "lavfi", "-i", "sine", "-t", &SOURCE_SECS.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success());
    let probe = ferrotape_worker::probe::probe(std::path::Path::new("ffprobe"), &path)
        .await
        .unwrap();
    media.put_file(&key, &path).await.unwrap();
    sqlx::query(
        "INSERT INTO videos (tenant_id, id, original_name, state, source_key, probe, duration_ms)
         VALUES ($1, $2, 'talk.mp4', 'processing', $3, $4, $5)",
    )
    .bind(TENANT.0)
    .bind(video)
    .bind(&key)
    .bind(probe.raw)
    .bind(i64::from(SOURCE_SECS) * 1000)
    .execute(&app.pool)
    .await
    .unwrap();
    let slug = format!("talk-{}", video.simple());
    let yesterday = Some(time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let talk = common::insert_talk(&app.pool, TENANT, &slug, "A long talk", yesterday, &[]).await;
    sqlx::query("UPDATE videos SET talk_id = $1 WHERE id = $2")
        .bind(talk)
        .bind(video)
        .execute(&app.pool)
        .await
        .unwrap();
    (video, slug)
}

async fn claim_transcode(pool: &PgPool, video: Uuid) -> ClaimedJob {
    let key = video.to_string();
    jobs::enqueue(
        pool,
        TENANT,
        &NewJob {
            max_attempts: 1,
            unique_key: Some(&key),
            ..NewJob::new(TRANSCODE_JOB, json!({ "video_id": video }))
        },
    )
    .await
    .unwrap()
    .unwrap();
    let kinds = [TRANSCODE_JOB.to_owned()];
    let mut claimed = jobs::claim(
        pool,
        &kinds,
        ResourceClass::Gpu,
        1,
        "worker-a",
        Duration::from_secs(600),
        16,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    claimed.remove(0)
}

/// Runs the real transcode handler on `job` in the background, reading at twice real time.
fn start_transcode(app: &TestApp, job: ClaimedJob) -> tokio::task::JoinHandle<Result<(), String>> {
    let handler = Transcode {
        media: app.media.clone(),
        tools: MediaTools::default(),
        encoders: Arc::new(EncoderCache::new("ffmpeg".into())),
        concurrency: 1,
        read_rate: Some(2.0),
    };
    let context = JobContext {
        job,
        pool: app.pool.clone(),
        worker: "worker-a".to_owned(),
    };
    tokio::spawn(async move { handler.run(context).await })
}

#[derive(Debug)]
struct Row {
    state: String,
    master_key: Option<String>,
    playable: bool,
    available_ms: Option<i64>,
}

async fn row(pool: &PgPool, video: Uuid) -> Row {
    let (state, master_key, playable, available_ms) = sqlx::query_as(
        "SELECT state::text, master_key, playable_at IS NOT NULL, available_ms
         FROM videos WHERE id = $1",
    )
    .bind(video)
    .fetch_one(pool)
    .await
    .unwrap();
    Row {
        state,
        master_key,
        playable,
        available_ms,
    }
}

/// Polls until the video is playable while still processing; panics if it turns ready (or
/// the job ends) first, since then nothing was watchable early.
async fn until_playable(
    app: &TestApp,
    video: Uuid,
    job: &tokio::task::JoinHandle<Result<(), String>>,
) -> Row {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = row(&app.pool, video).await;
        if now.master_key.is_some() {
            assert_eq!(now.state, "processing", "playable only once ready: {now:?}");
            return now;
        }
        assert!(
            !job.is_finished(),
            "the job ended before the video was playable"
        );
        assert!(Instant::now() < deadline, "never playable: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cache_control(response: &TestResponse) -> &str {
    response
        .headers
        .get("cache-control")
        .map_or("", |v| v.to_str().unwrap())
}

/// `(uri, BANDWIDTH)` of every variant of a master playlist.
fn variants(master: &str) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    let mut bandwidth = None;
    for line in master.lines() {
        if let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            bandwidth = attributes
                .split(',')
                .find_map(|a| a.strip_prefix("BANDWIDTH="))
                .and_then(|b| b.parse().ok());
        } else if !line.starts_with('#') && !line.is_empty() {
            found.push((line.to_owned(), bandwidth.take().expect("BANDWIDTH")));
        }
    }
    found
}

/// Files a rung playlist names (init segment and segments).
fn files_of(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter_map(|line| {
            if let Some(map) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
                return Some(map.trim_end_matches('"').to_owned());
            }
            (!line.starts_with('#') && !line.is_empty()).then(|| line.to_owned())
        })
        .collect()
}

/// The ladder's target peak of each rung of the test source (video VBV maximum + audio).
fn target_bandwidths() -> Vec<u64> {
    ferrotape_model::ladder::ladder(&ferrotape_model::ladder::SourceVideo {
        width: 854,
        height: 480,
        fps: 15.0,
    })
    .iter()
    .map(|rung| u64::from(rung.maxrate_kbps + rung.audio_kbps) * 1000)
    .collect()
}

/// Everything a player would fetch while the transcode runs: the master, every rung's growing
/// playlist and every file it names.
async fn assert_watchable_in_flight(app: &TestApp, master_key: &str) {
    let master = app.get(&format!("/media/{master_key}")).await;
    assert_eq!(master.status, StatusCode::OK, "{master_key}");
    assert_eq!(cache_control(&master), "no-cache", "a growing master");
    let listed = variants(&master.body);
    assert_eq!(listed.len(), 2, "{}", master.body);
    let mut bandwidths: Vec<u64> = listed.iter().map(|(_, b)| *b).collect();
    let mut targets = target_bandwidths();
    bandwidths.sort();
    targets.sort();
    assert_eq!(bandwidths, targets, "the interim master states the targets");
    let base = master_key.trim_end_matches("master.m3u8");
    for (uri, _) in listed {
        let playlist_key = format!("{base}{uri}");
        let playlist = app.get(&format!("/media/{playlist_key}")).await;
        assert_eq!(playlist.status, StatusCode::OK, "{playlist_key}");
        assert_eq!(cache_control(&playlist), "no-cache", "{playlist_key}");
        assert!(
            playlist.body.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            "{}",
            playlist.body
        );
        assert!(
            !playlist.body.contains("#EXT-X-ENDLIST"),
            "{}",
            playlist.body
        );
        let files = files_of(&playlist.body);
        assert!(files.len() >= 2, "init and a segment: {}", playlist.body);
        let folder = playlist_key.trim_end_matches("index.m3u8");
        for file in files {
            let segment = app.get(&format!("/media/{folder}{file}")).await;
            assert_eq!(
                segment.status,
                StatusCode::OK,
                "{folder}{file} is named and missing"
            );
            assert!(!segment.body.is_empty());
            assert!(cache_control(&segment).contains("immutable"));
        }
    }
}

async fn assert_finished(app: &TestApp, video: Uuid) {
    let done = row(&app.pool, video).await;
    assert_eq!(done.state, "ready");
    assert!(done.playable);
    assert_eq!(done.available_ms, None, "the master is final");
    let master_key = done.master_key.unwrap();
    let master = app.get(&format!("/media/{master_key}")).await;
    assert_eq!(master.status, StatusCode::OK);
    assert!(
        master.body.contains("AVERAGE-BANDWIDTH="),
        "{}",
        master.body
    );
    let listed = variants(&master.body);
    let targets = target_bandwidths();
    assert!(
        listed.iter().all(|(_, b)| !targets.contains(b)),
        "measured, not the targets: {}",
        master.body
    );
    let base = master_key.trim_end_matches("master.m3u8");
    for (uri, _) in listed {
        let playlist = app.get(&format!("/media/{base}{uri}")).await;
        assert_eq!(playlist.status, StatusCode::OK);
        assert!(
            playlist.body.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"),
            "{}",
            playlist.body
        );
        assert!(
            playlist.body.trim_end().ends_with("#EXT-X-ENDLIST"),
            "{}",
            playlist.body
        );
        let seconds: f64 = playlist
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .filter_map(|d| d.trim_end_matches(',').parse::<f64>().ok())
            .sum();
        assert!(
            (seconds - f64::from(SOURCE_SECS)).abs() < 1.0,
            "{seconds} s listed"
        );
        let folder = format!("{base}{}", uri.trim_end_matches("index.m3u8"));
        for file in files_of(&playlist.body) {
            let segment = app.get(&format!("/media/{folder}{file}")).await;
            assert_eq!(segment.status, StatusCode::OK, "{folder}{file}");
        }
    }
}

async fn watch_while_transcoding(app: &TestApp) {
    let (video, slug) = processing_talk(app, &*app.media).await;
    let job = claim_transcode(&app.pool, video).await;
    let (id, attempt) = (job.id, job.attempt);
    let running = start_transcode(app, job);
    let playable = until_playable(app, video, &running).await;
    assert!(playable.playable);
    assert!(
        playable.available_ms.is_some_and(|ms| ms > 0),
        "{playable:?}"
    );
    let page = app.get(&format!("/talks/{slug}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Still processing"),
        "the watch page says so"
    );
    assert!(
        page.body.contains(&playable.master_key.clone().unwrap()),
        "the page plays the interim master"
    );
    assert_watchable_in_flight(app, &playable.master_key.unwrap()).await;
    assert_eq!(
        row(&app.pool, video).await.state,
        "processing",
        "all of the above happened while the job still ran"
    );

    running.await.unwrap().unwrap();
    jobs::complete(&app.pool, "worker-a", &[(id, attempt)])
        .await
        .unwrap();
    assert_finished(app, video).await;
    let page = app.get(&format!("/talks/{slug}")).await;
    assert!(!page.body.contains("Still processing"));
}

#[tokio::test]
async fn a_transcoding_talk_plays_from_local_storage_and_ends_as_a_vod() {
    let app = TestApp::spawn().await;
    watch_while_transcoding(&app).await;
}

#[tokio::test]
async fn a_transcoding_talk_plays_from_s3_as_segments_are_uploaded() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the tests through `make test`, which starts an S3 server"
            )
        })
    };
    let s3 = S3Media::connect(&S3Args {
        s3_endpoint: Some(var("FERROTAPE_TEST_S3_ENDPOINT")),
        s3_public_endpoint: None,
        s3_region: "us-east-1".into(),
        s3_bucket: Some("ferrotape-tests".into()),
        s3_access_key_id: Some(var("FERROTAPE_TEST_S3_ACCESS_KEY_ID")),
        s3_secret_access_key: Some(var("FERROTAPE_TEST_S3_SECRET_ACCESS_KEY")),
        s3_path_style: true,
    })
    .await
    .unwrap();
    let app = TestApp::spawn_with_storage(OpenedMedia::S3(s3)).await;
    watch_while_transcoding(&app).await;
}

/// The ffmpeg processes whose arguments mention `needle` (the source path names the video).
fn ffmpeg_pids(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.starts_with("ffmpeg") && cmdline.contains(needle)
        })
        .collect()
}

#[tokio::test]
async fn an_attempt_that_fails_after_going_playable_detaches_and_deletes_its_outputs() {
    let app = TestApp::spawn().await;
    let (video, slug) = processing_talk(&app, &*app.media).await;
    let job = claim_transcode(&app.pool, video).await;
    let running = start_transcode(&app, job);
    let playable = until_playable(&app, video, &running).await;
    let master_key = playable.master_key.unwrap();

    // ffmpeg dies mid-encode (out of memory, say): the attempt fails.
    let pids = ffmpeg_pids(&video.to_string());
    assert_eq!(pids.len(), 1, "{pids:?}");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pids[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let error = running.await.unwrap().unwrap_err();
    assert!(error.contains("ffmpeg"), "{error}");
    let after = row(&app.pool, video).await;
    assert_eq!(
        after.master_key, None,
        "nothing half playable stays attached"
    );
    assert!(!after.playable);
    assert_eq!(after.available_ms, None);
    let page = app.get(&format!("/talks/{slug}")).await;
    assert!(!page.body.contains(&master_key));
    assert_eq!(
        app.get(&format!("/media/{master_key}")).await.status,
        StatusCode::NOT_FOUND,
        "its outputs are deleted"
    );
}

#[tokio::test]
async fn an_attempt_that_dies_playable_is_detached_when_its_job_is_discarded() {
    let app = TestApp::spawn().await;
    let (video, _slug) = processing_talk(&app, &*app.media).await;
    let job = claim_transcode(&app.pool, video).await;
    let id = job.id;
    let running = start_transcode(&app, job);
    let playable = until_playable(&app, video, &running).await;
    assert!(playable.master_key.is_some());
    // The worker dies without cleaning up (the task is dropped: its ffmpeg is killed), and the
    // rescuer later discards the job past its last attempt.
    running.abort();
    let _ = running.await;
    assert!(
        row(&app.pool, video).await.master_key.is_some(),
        "nothing cleaned up"
    );
    sqlx::query("UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        jobs::rescue_expired(&app.pool, Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    let failed = row(&app.pool, video).await;
    assert_eq!(failed.state, "failed");
    assert_eq!(
        failed.master_key, None,
        "a failed video is never half playable"
    );
    assert!(!failed.playable);
}
