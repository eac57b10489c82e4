//! The resumable upload API against a real PostgreSQL, real files and the system ffprobe:
//! chunks verified by SHA-256, resent and out-of-order chunks, completion with chunks missing,
//! files that are not playable, limits, hostile names, ownership, abort.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Client, TestApp, TestResponse};
use ferrotape_model::{Role, TenantId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CHUNK: usize = ferrotape_model::upload::CHUNK_SIZE as usize;

/// Generates media with ffmpeg's test sources (never committed binaries).
fn ffmpeg(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success(), "ffmpeg failed to make {name}");
    out
}

fn clip(dir: &Path) -> Vec<u8> {
    let path = ffmpeg(
        dir,
        "clip.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    std::fs::read(path).unwrap()
}

async fn editor<'a>(app: &'a TestApp, email: &str) -> Client<'a> {
    app.user(TenantId::DEFAULT, email, Role::Editor).await;
    let mut client = app.client("10.0.0.1");
    client.log_in(email, common::PASSWORD).await;
    client
}

async fn open(client: &mut Client<'_>, name: &str, size: usize) -> TestResponse {
    client
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": name, "size_bytes": size, "content_type": "video/mp4"}),
        )
        .await
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn put_chunk(
    client: &mut Client<'_>,
    id: &str,
    n: usize,
    bytes: &[u8],
    sha: &str,
) -> TestResponse {
    let request = client
        .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/{n}"))
        .header("x-chunk-sha256", sha)
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    client.send(request).await
}

async fn send_all(client: &mut Client<'_>, id: &str, file: &[u8], order: &[usize]) {
    for &n in order {
        let chunk = &file[n * CHUNK..((n + 1) * CHUNK).min(file.len())];
        let response = put_chunk(client, id, n, chunk, &sha_hex(chunk)).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "chunk {n}: {}",
            response.body
        );
    }
}

async fn complete(client: &mut Client<'_>, id: &str) -> TestResponse {
    let request = client
        .request(Method::POST, &format!("/api/v1/uploads/{id}/complete"))
        .body(Body::empty())
        .unwrap();
    client.send(request).await
}

fn id_of(response: &TestResponse) -> String {
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    response.json()["id"].as_str().unwrap().to_owned()
}

async fn video(app: &TestApp, id: &str) -> (String, Option<String>, Option<i64>, Option<i32>) {
    sqlx::query_as(
        "SELECT v.state::text, v.failure_reason, v.duration_ms, v.width FROM videos v
         JOIN uploads u ON u.video_id = v.id WHERE u.id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_video_uploaded_in_chunks_is_probed_and_queued_for_transcoding() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    let opened = open(&mut client, "My Talk.mp4", file.len()).await;
    let id = id_of(&opened);
    assert_eq!(opened.json()["chunk_count"], 1);
    assert_eq!(opened.json()["state"], "open");
    assert_eq!(video(&app, &id).await.0, "uploading");

    send_all(&mut client, &id, &file, &[0]).await;
    // The same chunk again (a retry after a lost response) is accepted and changes nothing.
    let again = put_chunk(&mut client, &id, 0, &file, &sha_hex(&file)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["duplicate"], true);
    let status = client.get(&format!("/api/v1/uploads/{id}")).await;
    assert_eq!(status.json()["received"], json!([0]));
    assert_eq!(status.json()["received_bytes"], file.len());

    let done = complete(&mut client, &id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["state"], "processing");
    let (state, reason, duration, width) = video(&app, &id).await;
    assert_eq!((state.as_str(), reason), ("processing", None));
    assert!((1900..=2100).contains(&duration.unwrap()), "{duration:?}");
    assert_eq!(width, Some(320));
    let jobs: Vec<(String, Value)> =
        sqlx::query_as("SELECT kind, payload FROM jobs WHERE state = 'available'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].0, "transcode");
    assert_eq!(jobs[0].1["video_id"], done.json()["video_id"]);

    // A client that lost the answer asks again and gets the same one; no second job appears.
    let twice = complete(&mut client, &id).await;
    assert_eq!(twice.status, StatusCode::OK, "{}", twice.body);
    assert_eq!(twice.json()["video_id"], done.json()["video_id"]);
    assert_eq!(twice.json()["duration_ms"], done.json()["duration_ms"]);
    assert_eq!(twice.json()["state"], "processing");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    // The status keeps answering: completed, every chunk in.
    let status = client.get(&format!("/api/v1/uploads/{id}")).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["state"], "completed");
    assert_eq!(status.json()["received"], json!([0]));
    // Nothing more is taken for it.
    let late = put_chunk(&mut client, &id, 0, &file, &sha_hex(&file)).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.json()["code"], "upload_closed");
}

#[tokio::test]
async fn damaged_missing_and_out_of_order_chunks_are_handled_and_a_renamed_text_file_is_refused() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    // Text, three chunks' worth, named like a video.
    let file: Vec<u8> = "this is not a video\n"
        .repeat(2 * CHUNK / 20 + 1000)
        .into_bytes();
    let id = id_of(&open(&mut client, "notes.mp4", file.len()).await);
    let first = &file[..CHUNK];

    let damaged = put_chunk(&mut client, &id, 0, first, &sha_hex(b"something else")).await;
    assert_eq!(damaged.status, StatusCode::BAD_REQUEST);
    assert_eq!(damaged.json()["code"], "checksum_mismatch");
    let unsigned = put_chunk(&mut client, &id, 0, first, "not-hex").await;
    assert_eq!(unsigned.json()["code"], "checksum_missing");
    let short = put_chunk(&mut client, &id, 0, &first[..100], &sha_hex(&first[..100])).await;
    assert_eq!(short.json()["code"], "chunk_size_mismatch");
    let beyond = put_chunk(&mut client, &id, 3, b"x", &sha_hex(b"x")).await;
    assert_eq!(beyond.json()["code"], "bad_chunk_number");

    send_all(&mut client, &id, &file, &[2, 0]).await;
    let early = complete(&mut client, &id).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.json()["code"], "chunks_missing");
    assert_eq!(early.json()["missing"], json!([1]));
    // Another file's chunk 0 under the same upload is refused, the first copy kept.
    let other = vec![b'z'; CHUNK];
    let conflict = put_chunk(&mut client, &id, 0, &other, &sha_hex(&other)).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);

    send_all(&mut client, &id, &file, &[1]).await;
    let refused = complete(&mut client, &id).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.json()["code"], "not_playable");
    let message = refused.json()["error"].as_str().unwrap().to_owned();
    assert!(message.contains("not a video or audio file"), "{message}");
    assert!(!message.contains('/'), "no server paths leak: {message}");
    let (state, reason, _, _) = video(&app, &id).await;
    assert_eq!(state, "failed");
    assert_eq!(reason.as_deref(), Some(message.as_str()));
    // Asked again, the same refusal.
    let again = complete(&mut client, &id).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.json()["code"], "not_playable");
    assert_eq!(again.json()["error"], message.as_str());
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test]
async fn truncated_empty_oversized_and_foreign_files_get_clear_refusals() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();

    let empty = open(&mut client, "empty.mp4", 0).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.json()["code"], "empty_file");
    let text = open(&mut client, "notes.txt", 10).await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    sqlx::query("UPDATE tenants SET max_upload_bytes = 1000 WHERE id = $1")
        .bind(TenantId::DEFAULT.0)
        .execute(&app.pool)
        .await
        .unwrap();
    let big = open(&mut client, "big.mp4", 1001).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.json()["code"], "file_too_large");
    assert!(big.json()["error"].as_str().unwrap().contains("1000"));
    sqlx::query("UPDATE tenants SET max_upload_bytes = NULL")
        .execute(&app.pool)
        .await
        .unwrap();

    // An MP4 cut in half (its index sits at the end, as cameras write it).
    let whole = std::fs::read(ffmpeg(
        tmp.path(),
        "camera.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    ))
    .unwrap();
    let half = &whole[..whole.len() / 2];
    let hostile = "../../etc/\u{1b}[2J\u{202e}cut.mp4";
    let opened = open(&mut client, hostile, half.len()).await;
    let id = id_of(&opened);
    assert_eq!(opened.json()["file_name"], "[2Jcut.mp4");
    send_all(&mut client, &id, half, &[0]).await;
    let refused = complete(&mut client, &id).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(video(&app, &id).await.0, "failed");

    // Audio alone is a talk too (a podcast): accepted.
    let audio = std::fs::read(ffmpeg(
        tmp.path(),
        "voice.m4a",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300",
            "-t",
            "2",
            "-c:a",
            "aac",
        ],
    ))
    .unwrap();
    let id = id_of(&open(&mut client, "voice.m4a", audio.len()).await);
    send_all(&mut client, &id, &audio, &[0]).await;
    let accepted = complete(&mut client, &id).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(video(&app, &id).await.3, None, "no picture, no width");
}

#[tokio::test]
async fn uploads_belong_to_editors_and_can_be_abandoned() {
    let app = TestApp::spawn().await;
    let mut anonymous = app.client("10.0.0.9");
    assert_eq!(
        open(&mut anonymous, "a.mp4", 10).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.user(TenantId::DEFAULT, "viewer@example.com", Role::Viewer)
        .await;
    let mut viewer = app.client("10.0.0.8");
    viewer.log_in("viewer@example.com", common::PASSWORD).await;
    assert_eq!(
        open(&mut viewer, "a.mp4", 10).await.status,
        StatusCode::FORBIDDEN
    );

    let mut owner = editor(&app, "owner@example.com").await;
    let id = id_of(&open(&mut owner, "a.mp4", 10).await);
    send_all(&mut owner, &id, b"0123456789", &[0]).await;
    let mut other = editor(&app, "other@example.com").await;
    assert_eq!(
        other.get(&format!("/api/v1/uploads/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other.get("/api/v1/uploads/not-a-uuid").await.status,
        StatusCode::NOT_FOUND
    );

    let request = owner
        .request(Method::DELETE, &format!("/api/v1/uploads/{id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(owner.send(request).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        owner.get(&format!("/api/v1/uploads/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let videos: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(videos, 0);
}

/// Upload → transcode by the real worker runtime → ready, with the ladder, aligned segments,
/// the poster, sprites and thumbnails track in storage.
#[tokio::test]
async fn an_uploaded_720p_clip_is_transcoded_to_an_hls_ladder() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = std::fs::read(ffmpeg(
        tmp.path(),
        "hd.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ],
    ))
    .unwrap();
    let id = id_of(&open(&mut client, "hd.mp4", file.len()).await);
    send_all(&mut client, &id, &file, &[0]).await;
    let done = complete(&mut client, &id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let video_id = done.json()["video_id"].as_str().unwrap().to_owned();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: std::time::Duration::from_millis(100),
        ..ferrotape_worker::WorkerConfig::default()
    };
    let worker = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    let (state, reason) = loop {
        let (state, reason, _, _) = video(&app, &id).await;
        if state != "processing" || std::time::Instant::now() > deadline {
            break (state, reason);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    worker.await.unwrap();
    assert_eq!(state, "ready", "{reason:?}");

    let root = app
        .media_dir
        .path()
        .join(TenantId::DEFAULT.0.to_string())
        .join(&video_id);
    let master_key: String =
        sqlx::query_scalar("SELECT master_key FROM videos WHERE id = $1::uuid")
            .bind(&video_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // The transcode's outputs sit under a prefix of its own: the first attempt's is `v1`.
    let prefix = format!("{}/{video_id}", TenantId::DEFAULT.0);
    assert_eq!(master_key, format!("{prefix}/v1/hls/master.m3u8"));
    let outputs = root.join("v1");
    let master = std::fs::read_to_string(outputs.join("hls/master.m3u8")).unwrap();
    for (rung, resolution) in [
        ("720p", "1280x720"),
        ("480p", "854x480"),
        ("360p", "640x360"),
    ] {
        assert!(
            master.contains(&format!("RESOLUTION={resolution}")),
            "{master}"
        );
        assert!(master.contains(&format!("{rung}/index.m3u8")), "{master}");
        let playlist =
            std::fs::read_to_string(outputs.join(format!("hls/{rung}/index.m3u8"))).unwrap();
        let durations: Vec<f64> = playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|d| d.trim_end_matches(',').parse().unwrap())
            .collect();
        assert_eq!(durations.len(), 2, "8 s in 6 s segments: {playlist}");
        assert!((durations[0] - 6.0).abs() < 0.05, "{durations:?}");
    }
    // (A bare "1080" could be part of a bitrate: BANDWIDTH=901080.)
    assert!(
        !master.contains("x1080") && !master.contains("1080p/"),
        "never upscaled: {master}"
    );
    assert!(master.contains("AVERAGE-BANDWIDTH=") && master.contains("CODECS=\"avc1."));
    assert!(outputs.join("thumbs/poster.jpg").exists());
    assert!(outputs.join("thumbs/sprite_0.jpg").exists());
    let vtt = std::fs::read_to_string(outputs.join("thumbs/thumbs.vtt")).unwrap();
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("sprite_0.jpg#xywh="),
        "{vtt}"
    );
    assert!(
        !root.join("upload").exists(),
        "the chunks are gone once joined"
    );
}

/// Moves an upload's creation and last activity into the past.
async fn age(app: &TestApp, id: &str, created: &str, active: &str) {
    sqlx::query(
        "UPDATE uploads SET created_at = now() - $2::interval,
                            last_activity_at = now() - $3::interval
         WHERE id = $1::uuid",
    )
    .bind(id)
    .bind(created)
    .bind(active)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn cleanup(app: &TestApp) -> usize {
    ferrotape_worker::cleanup::remove_abandoned(
        &app.pool,
        &*app.media,
        ferrotape_worker::cleanup::ABANDONED_AFTER,
    )
    .await
    .unwrap()
}

/// "Abandoned" means nobody touched the upload for a day, however long ago it was opened: a
/// chunk or a status request keeps it alive.
#[tokio::test]
async fn uploads_idle_for_a_day_are_removed_with_their_chunks_but_active_old_ones_stay() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let idle = id_of(&open(&mut client, "idle.mp4", 20).await);
    send_all(&mut client, &idle, b"01234567890123456789", &[0]).await;
    // Opened two days ago, a chunk an hour ago: a slow upload, not an abandoned one.
    let slow = id_of(&open(&mut client, "slow.mp4", CHUNK + 10).await);
    sqlx::query("UPDATE uploads SET created_at = now() - interval '2 days' WHERE id = $1::uuid")
        .bind(&slow)
        .execute(&app.pool)
        .await
        .unwrap();
    let first = vec![7u8; CHUNK];
    assert_eq!(
        put_chunk(&mut client, &slow, 0, &first, &sha_hex(&first))
            .await
            .status,
        StatusCode::OK
    );
    sqlx::query(
        "UPDATE uploads SET last_activity_at = now() - interval '1 hour' WHERE id = $1::uuid",
    )
    .bind(&slow)
    .execute(&app.pool)
    .await
    .unwrap();
    // Opened two days ago, its status asked for just now (a client resuming).
    let resumed = id_of(&open(&mut client, "resumed.mp4", 10).await);
    age(&app, &resumed, "2 days", "2 days").await;
    assert_eq!(
        client
            .get(&format!("/api/v1/uploads/{resumed}"))
            .await
            .status,
        StatusCode::OK
    );
    age(&app, &idle, "25 hours", "25 hours").await;
    let tenant_dir = app.media_dir.path().join(TenantId::DEFAULT.0.to_string());
    assert_eq!(
        std::fs::read_dir(&tenant_dir).unwrap().count(),
        2,
        "two uploads stored a chunk"
    );

    assert_eq!(cleanup(&app).await, 1, "only the idle upload is abandoned");
    assert_eq!(
        client.get(&format!("/api/v1/uploads/{idle}")).await.status,
        StatusCode::NOT_FOUND
    );
    for kept in [&slow, &resumed] {
        assert_eq!(
            client.get(&format!("/api/v1/uploads/{kept}")).await.json()["state"],
            "open"
        );
    }
    assert_eq!(
        std::fs::read_dir(&tenant_dir).unwrap().count(),
        1,
        "the idle upload's chunk is gone, the slow one's kept"
    );
    // A late chunk for the removed upload is refused, not stored for nobody.
    let late = put_chunk(
        &mut client,
        &idle,
        0,
        b"0123456789",
        &sha_hex(b"0123456789"),
    )
    .await;
    assert_eq!(late.status, StatusCode::NOT_FOUND);
    // The slow upload finishes as if nothing happened.
    let rest = vec![8u8; 10];
    assert_eq!(
        put_chunk(&mut client, &slow, 1, &rest, &sha_hex(&rest))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        client.get(&format!("/api/v1/uploads/{slow}")).await.json()["received"],
        json!([0, 1])
    );
}

/// A stand-in ffprobe that stops before probing until the test lets it go: `started` (a FIFO)
/// is written when it starts, `go` (a FIFO) read before it runs the real ffprobe. So a test can
/// act at a precise point inside `complete`, with no timing guesses.
struct PausedProbe {
    dir: tempfile::TempDir,
}

impl PausedProbe {
    fn new() -> PausedProbe {
        let dir = tempfile::tempdir().unwrap();
        for fifo in ["started", "go"] {
            let status = Command::new("mkfifo")
                .arg(dir.path().join(fifo))
                .status()
                .unwrap();
            assert!(status.success());
        }
        let real = common::system_ffprobe();
        let script = dir.path().join("ffprobe");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho started > '{dir}/started'\nread go < '{dir}/go'\nexec '{real}' \"$@\"\n",
                dir = dir.path().display(),
                real = real
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        PausedProbe { dir }
    }

    fn tools(&self) -> ferrotape_worker::MediaTools {
        ferrotape_worker::MediaTools {
            ffprobe: self.dir.path().join("ffprobe"),
            ..ferrotape_worker::MediaTools::default()
        }
    }

    /// Returns once `complete` has joined the chunks and started probing (a `complete` that
    /// never gets there fails the test instead of hanging it).
    async fn wait_started(&self) {
        let fifo = self.dir.path().join("started");
        let started = tokio::task::spawn_blocking(move || std::fs::read_to_string(fifo).unwrap());
        tokio::time::timeout(std::time::Duration::from_secs(120), started)
            .await
            .expect("complete never reached the probe")
            .unwrap();
    }

    /// Lets the probe run.
    async fn go(&self) {
        let fifo = self.dir.path().join("go");
        tokio::task::spawn_blocking(move || std::fs::write(fifo, "go\n").unwrap())
            .await
            .unwrap();
    }
}

/// The cleanup running while `complete` joins and probes an upload idle for days (its client
/// went away, came back and completed it) must not remove anything of it: it skips the upload
/// `complete` holds, and `complete` ends with its source intact. A cancel at that moment is
/// refused, and the status keeps answering.
#[tokio::test]
async fn a_cleanup_racing_a_complete_leaves_the_upload_alone() {
    let probe = PausedProbe::new();
    let app = TestApp::spawn_with_tools(probe.tools()).await;
    let mut client = editor(&app, "ed@example.com").await;
    let mut other_tab = app.client("10.0.0.1");
    other_tab.log_in("ed@example.com", common::PASSWORD).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    let id = id_of(&open(&mut client, "talk.mp4", file.len()).await);
    send_all(&mut client, &id, &file, &[0]).await;
    age(&app, &id, "3 days", "3 days").await;

    let completing = complete(&mut client, &id);
    let meanwhile = async {
        probe.wait_started().await;
        // Even a cleanup that takes every open upload for abandoned skips this one.
        let removed = ferrotape_worker::cleanup::remove_abandoned(
            &app.pool,
            &*app.media,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
        let status = other_tab.get(&format!("/api/v1/uploads/{id}")).await;
        let cancel = other_tab
            .request(Method::DELETE, &format!("/api/v1/uploads/{id}"))
            .body(Body::empty())
            .unwrap();
        let cancelled = other_tab.send(cancel).await;
        probe.go().await;
        (removed, status, cancelled)
    };
    let (done, (removed, status, cancelled)) = tokio::join!(completing, meanwhile);
    assert_eq!(removed, 0, "the cleanup removed nothing");
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(status.json()["received"], json!([0]));
    assert_eq!(cancelled.status, StatusCode::CONFLICT, "{}", cancelled.body);
    assert_eq!(cancelled.json()["code"], "upload_busy");
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let video_id = done.json()["video_id"].as_str().unwrap().to_owned();
    assert_eq!(video(&app, &id).await.0, "processing");
    let source = app
        .media_dir
        .path()
        .join(TenantId::DEFAULT.0.to_string())
        .join(&video_id)
        .join("source/original.mp4");
    assert_eq!(
        std::fs::read(&source).ok().as_deref(),
        Some(file.as_slice()),
        "the source survived"
    );
    assert_eq!(
        cleanup(&app).await,
        0,
        "a completed upload is never abandoned"
    );
}

/// The other order: once the cleanup removed an idle upload, completing it finds nothing (and
/// stores nothing), instead of joining chunks that are being deleted.
#[tokio::test]
async fn completing_an_upload_the_cleanup_removed_is_not_found() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let id = id_of(&open(&mut client, "a.mp4", 10).await);
    send_all(&mut client, &id, b"0123456789", &[0]).await;
    age(&app, &id, "2 days", "2 days").await;
    assert_eq!(cleanup(&app).await, 1);
    assert_eq!(
        complete(&mut client, &id).await.status,
        StatusCode::NOT_FOUND
    );
    let videos: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(videos, 0);
    let tenant_dir = app.media_dir.path().join(TenantId::DEFAULT.0.to_string());
    assert_eq!(
        std::fs::read_dir(&tenant_dir).unwrap().count(),
        0,
        "nothing stored"
    );
}

fn quotas(
    open_per_user: Option<u32>,
    storage: Option<u64>,
) -> ferrotape_server::settings::UploadSettings {
    ferrotape_server::settings::UploadSettings {
        quotas: ferrotape_store::uploads::UploadQuotas {
            open_per_user,
            tenant_storage_bytes: storage,
        },
        ..Default::default()
    }
}

/// One editor may have only so many uploads open: one more is 429 with a message saying what
/// to do; finishing or cancelling one makes room, and other editors have their own count.
#[tokio::test]
async fn too_many_open_uploads_are_refused_with_429_until_one_is_finished() {
    let app = TestApp::spawn_with_uploads(quotas(Some(2), None), None, None).await;
    let mut client = editor(&app, "ed@example.com").await;
    let first = id_of(&open(&mut client, "a.mp4", 10).await);
    id_of(&open(&mut client, "b.mp4", 10).await);
    let third = open(&mut client, "c.mp4", 10).await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        third.body
    );
    assert_eq!(third.json()["code"], "too_many_open_uploads");
    let message = third.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("2 uploads in progress") && message.contains("cancel"),
        "{message}"
    );
    let videos: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(videos, 2, "the refused upload left nothing behind");

    let mut colleague = editor(&app, "colleague@example.com").await;
    id_of(&open(&mut colleague, "d.mp4", 10).await);

    let cancel = client
        .request(Method::DELETE, &format!("/api/v1/uploads/{first}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(client.send(cancel).await.status, StatusCode::NO_CONTENT);
    id_of(&open(&mut client, "c.mp4", 10).await);
}

/// A tenant's stored sources, open uploads included, stay under its quota: an upload that
/// would pass it is 413 `storage_quota_exceeded`, with the figures; deleting makes room.
#[tokio::test]
async fn an_upload_over_the_tenant_storage_quota_is_refused_with_413() {
    let app = TestApp::spawn_with_uploads(quotas(None, Some(2_000_000)), None, None).await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    assert!(file.len() < 1_000_000, "the clip is small: {}", file.len());
    // A stored source counts…
    upload_clip(&app, &mut client, "talk.mp4", &file).await;
    // …and so does an open upload, for the size it announced.
    let pending = id_of(&open(&mut client, "pending.mp4", 1_000_000).await);
    let over = open(&mut client, "more.mp4", 1_000_000).await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.body);
    assert_eq!(over.json()["code"], "storage_quota_exceeded");
    let message = over.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("2.0 MB") && message.contains("delete videos"),
        "{message}"
    );
    assert_eq!(
        ferrotape_store::uploads::stored_bytes(&app.pool, TenantId::DEFAULT)
            .await
            .unwrap(),
        file.len() as u64 + 1_000_000
    );

    let cancel = client
        .request(Method::DELETE, &format!("/api/v1/uploads/{pending}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(client.send(cancel).await.status, StatusCode::NO_CONTENT);
    id_of(&open(&mut client, "more.mp4", 1_000_000).await);
}

async fn upload_clip(app: &TestApp, client: &mut Client<'_>, name: &str, file: &[u8]) -> String {
    let id = id_of(&open(client, name, file.len()).await);
    let chunks: Vec<usize> = (0..file.len().div_ceil(CHUNK)).collect();
    send_all(client, &id, file, &chunks).await;
    let done = complete(client, &id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let _ = app;
    id
}

fn start_worker(
    app: &TestApp,
    lease_secs: u64,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: std::time::Duration::from_millis(100),
        lease: std::time::Duration::from_secs(lease_secs),
        retry: ferrotape_worker::retry::RetryPolicy {
            base: std::time::Duration::from_millis(100),
            max: std::time::Duration::from_secs(1),
        },
        ..ferrotape_worker::WorkerConfig::default()
    };
    let task = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    (stop, task)
}

async fn wait_for_state(
    app: &TestApp,
    id: &str,
    wanted: &str,
    secs: u64,
) -> (String, Option<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (state, reason, _, _) = video(app, id).await;
        if state == wanted || std::time::Instant::now() > deadline {
            return (state, reason);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A one-frame video and an audio-only file both end ready: one tiny rung, or one audio rung.
#[tokio::test]
async fn a_single_frame_video_and_an_audio_file_are_transcoded() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();
    let frame = std::fs::read(ffmpeg(
        tmp.path(),
        "frame.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-frames:v",
            "1",
            "-c:v",
            "libx264",
        ],
    ))
    .unwrap();
    let audio = std::fs::read(ffmpeg(
        tmp.path(),
        "talk.m4a",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300",
            "-t",
            "3",
            "-c:a",
            "aac",
        ],
    ))
    .unwrap();
    let frame_id = upload_clip(&app, &mut client, "frame.mp4", &frame).await;
    let audio_id = upload_clip(&app, &mut client, "talk.m4a", &audio).await;
    let (stop, worker) = start_worker(&app, 30);
    let frame_state = wait_for_state(&app, &frame_id, "ready", 120).await;
    let audio_state = wait_for_state(&app, &audio_id, "ready", 120).await;
    let _ = stop.send(true);
    worker.await.unwrap();
    assert_eq!(frame_state.0, "ready", "{:?}", frame_state.1);
    assert_eq!(audio_state.0, "ready", "{:?}", audio_state.1);
    let masters: Vec<String> = sqlx::query_scalar(
        "SELECT master_key FROM videos WHERE master_key IS NOT NULL ORDER BY original_name",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let read = |key: &str| std::fs::read_to_string(app.media_dir.path().join(key)).unwrap();
    let (frame_master, audio_master) = (read(&masters[0]), read(&masters[1]));
    assert!(
        frame_master.contains("RESOLUTION=320x240"),
        "{frame_master}"
    );
    assert!(
        audio_master.contains("audio/index.m3u8") && !audio_master.contains("RESOLUTION"),
        "{audio_master}"
    );
}

/// The studio's Retry runs a failed transcode again from the stored source; a file that was
/// never playable, a video that did not fail, and someone else's video cannot be retried.
#[tokio::test]
async fn a_failed_transcode_is_retried_from_the_studio_but_an_unplayable_file_is_not() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    let id = upload_clip(&app, &mut client, "talk.mp4", &file).await;
    let video_id: String =
        sqlx::query_scalar("SELECT video_id::text FROM uploads WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();

    let too_early = client
        .server_fn("studio/retry", &[("video_id", &video_id)])
        .await;
    assert_eq!(
        too_early.status,
        StatusCode::BAD_REQUEST,
        "{}",
        too_early.body
    );
    assert!(
        too_early.body.contains("only a failed video"),
        "{}",
        too_early.body
    );

    // The transcode fails for good, as a worker's last attempt leaves it.
    sqlx::query(
        "UPDATE jobs SET state = 'discarded', finalized_at = now() WHERE kind = 'transcode'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE videos SET state = 'failed', failure_reason = 'transcoding failed: out of disk'
         WHERE id = $1::uuid",
    )
    .bind(&video_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let listed = client.server_fn("studio/videos", &[]).await.json();
    assert_eq!(listed[0]["can_retry"], true, "{listed}");

    let stranger_app_user = app
        .user(TenantId::DEFAULT, "other@example.com", Role::Editor)
        .await;
    let _ = stranger_app_user;
    let mut stranger = app.client("10.0.0.9");
    stranger.log_in("other@example.com", common::PASSWORD).await;
    let refused = stranger
        .server_fn("studio/retry", &[("video_id", &video_id)])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);

    let retried = client
        .server_fn("studio/retry", &[("video_id", &video_id)])
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    let (state, reason, _, _) = video(&app, &id).await;
    assert_eq!((state.as_str(), reason), ("processing", None));
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'transcode' AND state = 'available'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(waiting, 1, "one new transcode job");

    // A text file named like a video fails at upload: there is nothing to transcode again.
    let text = b"this is not a video\n".repeat(100);
    let bad = id_of(&open(&mut client, "notes.mp4", text.len()).await);
    send_all(&mut client, &bad, &text, &[0]).await;
    assert_eq!(
        complete(&mut client, &bad).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let bad_video: String =
        sqlx::query_scalar("SELECT video_id::text FROM uploads WHERE id = $1::uuid")
            .bind(&bad)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let listed = client.server_fn("studio/videos", &[]).await.json();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == bad_video.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["can_retry"], false);
    let hopeless = client
        .server_fn("studio/retry", &[("video_id", &bad_video)])
        .await;
    assert_eq!(hopeless.status, StatusCode::BAD_REQUEST);
    assert!(
        hopeless.body.contains("upload the recording again"),
        "{}",
        hopeless.body
    );
}

/// When the probe cannot run at all (ffprobe missing), `complete` answers 503 and keeps the
/// joined source: completing again once ffprobe is back finishes the upload.
#[tokio::test]
async fn a_complete_that_could_not_probe_can_be_retried() {
    let tools_dir = tempfile::tempdir().unwrap();
    let ffprobe = tools_dir.path().join("ffprobe");
    let app = TestApp::spawn_with_tools(ferrotape_worker::MediaTools {
        ffprobe: ffprobe.clone(),
        ..ferrotape_worker::MediaTools::default()
    })
    .await;
    let mut client = editor(&app, "ed@example.com").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    let id = id_of(&open(&mut client, "talk.mp4", file.len()).await);
    send_all(&mut client, &id, &file, &[0]).await;

    let unavailable = complete(&mut client, &id).await;
    assert_eq!(
        unavailable.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        unavailable.body
    );
    let (state, _, _, _) = video(&app, &id).await;
    assert_eq!(state, "uploading", "nothing is lost or failed");

    std::os::unix::fs::symlink(common::system_ffprobe(), &ffprobe).unwrap();
    let done = complete(&mut client, &id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let (state, _, duration, width) = video(&app, &id).await;
    assert_eq!((state.as_str(), width), ("processing", Some(320)));
    assert!(duration.unwrap() > 1500, "{duration:?}");
}
