//! Transcode attempts and how they end, against a real PostgreSQL, local storage, the real
//! ffmpeg and `/media`: every attempt writes under a prefix of its own and the video switches
//! to it only while the attempt owns its job; a transcode job that ends without finishing
//! (discarded, cancelled, rescued past its last attempt) leaves its video `failed` with a
//! reason, and Retry works.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use ferrotape_model::TenantId;
use ferrotape_model::jobs::{JobState, ResourceClass};
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, ClaimedJob, NewJob};
use ferrotape_store::uploads::{self, TRANSCODE_JOB};
use ferrotape_worker::encoder::EncoderCache;
use ferrotape_worker::transcode::Transcode;
use ferrotape_worker::{JobContext, JobHandler, MediaTools};
use serde_json::json;
use uuid::Uuid;

const TENANT: TenantId = TenantId::DEFAULT;

/// A `processing` video with a real two-second source in `app`'s storage.
async fn processing_video(app: &TestApp) -> Uuid {
    let video = Uuid::new_v4();
    let key = uploads::source_key(TENANT, video, "mp4");
    let path = app.media_dir.path().join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=15",
        ])
        .args(["-f", "lavfi", "-i", "sine", "-t", "2", "-c:v", "libx264"])
        .args(["-preset", "ultrafast", "-c:a", "aac", "-shortest"])
        .arg(&path)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success());
    let probe = ferrotape_worker::probe::probe(std::path::Path::new("ffprobe"), &path)
        .await
        .unwrap();
    insert_video(&app.pool, video, Some(&key), probe.raw).await;
    // Published, so its outputs are served by plain `/media` URLs.
    let slug = format!("talk-{}", video.simple());
    let yesterday = Some(time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let talk = common::insert_talk(&app.pool, TENANT, &slug, "A talk", yesterday, &[]).await;
    sqlx::query("UPDATE videos SET talk_id = $1 WHERE id = $2")
        .bind(talk)
        .bind(video)
        .execute(&app.pool)
        .await
        .unwrap();
    video
}

async fn insert_video(
    pool: &PgPool,
    video: Uuid,
    source_key: Option<&str>,
    probe: serde_json::Value,
) {
    sqlx::query(
        "INSERT INTO videos (tenant_id, id, original_name, state, source_key, probe, duration_ms)
         VALUES ($1, $2, 'talk.mp4', 'processing', $3, $4, 2000)",
    )
    .bind(TENANT.0)
    .bind(video)
    .bind(source_key)
    .bind(probe)
    .execute(pool)
    .await
    .unwrap();
}

async fn enqueue(pool: &PgPool, video: Uuid, max_attempts: i32) -> i64 {
    let key = video.to_string();
    jobs::enqueue(
        pool,
        TENANT,
        &NewJob {
            max_attempts,
            unique_key: Some(&key),
            ..NewJob::new(TRANSCODE_JOB, json!({ "video_id": video }))
        },
    )
    .await
    .unwrap()
    .unwrap()
}

async fn claim(pool: &PgPool, worker: &str) -> ClaimedJob {
    let kinds = [TRANSCODE_JOB.to_owned()];
    let mut claimed = jobs::claim(
        pool,
        &kinds,
        ResourceClass::Gpu,
        1,
        worker,
        Duration::from_secs(600),
        16,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1, "{worker} claims the transcode");
    claimed.remove(0)
}

/// Runs one attempt of the real transcode handler as `worker`.
async fn run_attempt(app: &TestApp, job: ClaimedJob, worker: &str) -> Result<(), String> {
    let handler = Transcode {
        media: app.media.clone(),
        tools: MediaTools::default(),
        encoders: Arc::new(EncoderCache::new("ffmpeg".into())),
        concurrency: 1,
        read_rate: None,
    };
    handler
        .run(JobContext {
            job,
            pool: app.pool.clone(),
            worker: worker.to_owned(),
        })
        .await
}

struct Served {
    state: String,
    master_key: Option<String>,
    poster_key: Option<String>,
    failure_reason: Option<String>,
}

async fn video_row(pool: &PgPool, video: Uuid) -> Served {
    let (state, master_key, poster_key, failure_reason) = sqlx::query_as(
        "SELECT state::text, master_key, poster_key, failure_reason FROM videos WHERE id = $1",
    )
    .bind(video)
    .fetch_one(pool)
    .await
    .unwrap();
    Served {
        state,
        master_key,
        poster_key,
        failure_reason,
    }
}

/// Every file stored under the video, relative to its prefix.
fn stored(app: &TestApp, video: Uuid) -> Vec<String> {
    let root = app
        .media_dir
        .path()
        .join(uploads::video_prefix(TENANT, video));
    let mut found = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                let relative = entry.path().strip_prefix(&root).unwrap().to_owned();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// A segment of the first rendition the master playlist names.
async fn a_segment_of(app: &TestApp, master_key: &str) -> String {
    let master = app.get(&format!("/media/{master_key}")).await;
    assert_eq!(master.status, StatusCode::OK, "{master_key}");
    let rendition = master.body.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let base = master_key.trim_end_matches("master.m3u8");
    let playlist_key = format!("{base}{rendition}");
    let playlist = app.get(&format!("/media/{playlist_key}")).await;
    let segment = playlist.body.lines().find(|l| l.ends_with(".m4s")).unwrap();
    format!("{}{segment}", playlist_key.trim_end_matches("index.m3u8"))
}

#[tokio::test]
async fn each_transcode_gets_urls_of_its_own_and_the_old_ones_are_deleted_after_the_switch() {
    let app = TestApp::spawn().await;
    let video = processing_video(&app).await;
    enqueue(&app.pool, video, 3).await;
    let job = claim(&app.pool, "worker-a").await;
    let (id, attempt) = (job.id, job.attempt);
    run_attempt(&app, job, "worker-a").await.unwrap();
    jobs::complete(&app.pool, "worker-a", &[(id, attempt)])
        .await
        .unwrap();
    let first = video_row(&app.pool, video).await;
    assert_eq!(first.state, "ready");
    let first_master = first.master_key.unwrap();
    let first_poster = first.poster_key.unwrap();
    let first_segment = a_segment_of(&app, &first_master).await;
    for key in [&first_poster, &first_segment] {
        assert_eq!(
            app.get(&format!("/media/{key}")).await.status,
            StatusCode::OK,
            "{key}"
        );
    }

    // A re-transcode (the video waits again, a new job is queued).
    sqlx::query("UPDATE videos SET state = 'processing' WHERE id = $1")
        .bind(video)
        .execute(&app.pool)
        .await
        .unwrap();
    enqueue(&app.pool, video, 3).await;
    let job = claim(&app.pool, "worker-a").await;
    run_attempt(&app, job, "worker-a").await.unwrap();
    let second = video_row(&app.pool, video).await;
    assert_eq!(second.state, "ready");
    let second_master = second.master_key.unwrap();
    let second_poster = second.poster_key.unwrap();
    let second_segment = a_segment_of(&app, &second_master).await;
    assert_ne!(first_master, second_master, "a new transcode has new URLs");
    assert_ne!(first_poster, second_poster);
    assert_ne!(first_segment, second_segment);
    for key in [&second_master, &second_poster, &second_segment] {
        assert_eq!(
            app.get(&format!("/media/{key}")).await.status,
            StatusCode::OK,
            "{key}"
        );
    }
    // The immutable URLs of the first transcode never serve other bytes: they are gone.
    for key in [&first_master, &first_poster, &first_segment] {
        assert_eq!(
            app.get(&format!("/media/{key}")).await.status,
            StatusCode::NOT_FOUND,
            "{key}"
        );
    }
    let generations: Vec<String> = stored(&app, video)
        .into_iter()
        .filter(|f| !f.starts_with("source/"))
        .map(|f| f.split('/').next().unwrap().to_owned())
        .collect();
    assert!(
        generations
            .iter()
            .all(|g| second_master.contains(&format!("/{g}/"))),
        "only the served transcode is stored: {generations:?}"
    );
}

#[tokio::test]
async fn a_stale_attempt_cannot_switch_the_video_and_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let video = processing_video(&app).await;
    enqueue(&app.pool, video, 3).await;
    let stale = claim(&app.pool, "worker-a").await;
    // worker-a stops renewing its lease; the rescuer hands the job to worker-b.
    sqlx::query("UPDATE jobs SET lease_until = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        jobs::rescue_expired(&app.pool, Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    jobs::promote_due(&app.pool).await.unwrap();
    let owner = claim(&app.pool, "worker-b").await;
    assert_eq!(owner.attempt, 2);

    // worker-a did not notice and finishes its encode.
    run_attempt(&app, stale, "worker-a").await.unwrap();
    let after_stale = video_row(&app.pool, video).await;
    assert_eq!(
        after_stale.state, "processing",
        "the stale attempt did not switch the video"
    );
    assert_eq!(after_stale.master_key, None);
    assert_eq!(
        stored(&app, video),
        ["source/original.mp4"],
        "its outputs were deleted"
    );

    run_attempt(&app, owner, "worker-b").await.unwrap();
    let ready = video_row(&app.pool, video).await;
    assert_eq!(ready.state, "ready");
    let master = ready.master_key.unwrap();
    assert_eq!(
        app.get(&format!("/media/{master}")).await.status,
        StatusCode::OK
    );
}

/// A `processing` video (no real source needed: no transcode runs) and its queued job.
async fn waiting_transcode(pool: &PgPool, max_attempts: i32) -> (Uuid, i64) {
    let video = Uuid::new_v4();
    let key = uploads::source_key(TENANT, video, "mp4");
    insert_video(pool, video, Some(&key), json!({})).await;
    (video, enqueue(pool, video, max_attempts).await)
}

async fn assert_failed_and_retryable(app: &TestApp, video: Uuid, reason_has: &str) {
    let row = video_row(&app.pool, video).await;
    assert_eq!(row.state, "failed");
    let reason = row.failure_reason.unwrap_or_default();
    assert!(reason.contains(reason_has), "{reason}");
    let admin = app
        .user(
            TENANT,
            &format!("{}@example.com", Uuid::new_v4().simple()),
            ferrotape_model::Role::Admin,
        )
        .await;
    let retried = uploads::retry_transcode(&app.pool, TENANT, admin, true, video)
        .await
        .expect("Retry is available");
    assert_eq!(video_row(&app.pool, video).await.state, "processing");
    // Out of the way of the next case's claim.
    jobs::cancel(&app.pool, TENANT, retried).await.unwrap();
}

#[tokio::test]
async fn a_transcode_job_that_ends_unfinished_leaves_its_video_failed_with_retry() {
    let app = TestApp::spawn().await;
    let pool = &app.pool;

    // Cancelled while waiting.
    let (video, job) = waiting_transcode(pool, 3).await;
    assert_eq!(
        jobs::cancel(pool, TENANT, job).await.unwrap(),
        JobState::Cancelled
    );
    assert_failed_and_retryable(&app, video, "cancelled").await;

    // Cancelled while running: the worker stops it at its next heartbeat.
    let (video, job) = waiting_transcode(pool, 3).await;
    let running = claim(pool, "worker-a").await;
    assert_eq!(running.id, job);
    assert_eq!(
        jobs::cancel(pool, TENANT, job).await.unwrap(),
        JobState::Running
    );
    assert_eq!(video_row(pool, video).await.state, "processing");
    jobs::mark_cancelled(pool, "worker-a", job, running.attempt)
        .await
        .unwrap();
    assert_failed_and_retryable(&app, video, "cancelled").await;

    // Its worker vanished on the last attempt: the rescuer discards it.
    let (video, job) = waiting_transcode(pool, 1).await;
    claim(pool, "worker-a").await;
    sqlx::query("UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = $1")
        .bind(job)
        .execute(pool)
        .await
        .unwrap();
    jobs::rescue_expired(pool, Duration::ZERO).await.unwrap();
    assert_eq!(
        jobs::find(pool, TENANT, job).await.unwrap().state,
        JobState::Discarded
    );
    assert_failed_and_retryable(&app, video, "stopped renewing its lease").await;

    // The last attempt failed.
    let (video, job) = waiting_transcode(pool, 1).await;
    let running = claim(pool, "worker-a").await;
    let retry_at = time::OffsetDateTime::now_utc();
    jobs::fail(
        pool,
        "worker-a",
        job,
        running.attempt,
        "out of disk",
        retry_at,
    )
    .await
    .unwrap();
    assert_failed_and_retryable(&app, video, "transcoding failed: out of disk").await;

    // An admin retries the discarded job itself: the video waits for it again.
    let (video, job) = waiting_transcode(pool, 1).await;
    let running = claim(pool, "worker-a").await;
    jobs::fail(
        pool,
        "worker-a",
        job,
        running.attempt,
        "flaky GPU",
        retry_at,
    )
    .await
    .unwrap();
    assert_eq!(video_row(pool, video).await.state, "failed");
    jobs::retry(pool, TENANT, job).await.unwrap();
    let row = video_row(pool, video).await;
    assert_eq!(
        (row.state.as_str(), row.failure_reason),
        ("processing", None)
    );
}
