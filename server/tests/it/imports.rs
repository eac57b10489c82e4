//! URL imports against a local HTTP server: a direct MP4, an HLS master playlist and a page
//! with OpenGraph video tags each become a ready video in a draft talk named from the
//! metadata, downloaded by the real yt-dlp (scripts/setup.sh installs it) and transcoded by the
//! real ffmpeg. Refused and failing imports say why and store nothing: other schemes, private
//! destinations (also behind a redirect), a file over the size limit, a 404, a page without
//! video, a file that is not a video.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::{Client, TestApp};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::import_policy::{AllowEntry, ImportPolicy};
use serde_json::json;

/// The yt-dlp the worker runs; the tests need the real one.
fn yt_dlp() -> PathBuf {
    let path = ferrotape_worker::config::default_yt_dlp();
    let works = Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        works,
        "yt-dlp is not installed ({}): run scripts/setup.sh test, which installs it into the \
         project's venv",
        path.display()
    );
    path
}

fn ffmpeg(dir: &Path, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success(), "ffmpeg failed: {args:?}");
}

/// A site on a loopback port serving what the imports fetch.
struct Site {
    address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }
}

/// Serves `dir`, plus `/redirect` (302 to `redirect_to`) and `/redirect-ftp` (302 to an
/// `ftp://` address on the same host as `redirect_to`).
async fn serve(dir: &Path, redirect_to: Option<String>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut app = Router::new();
    if let Some(target) = redirect_to {
        let ftp = target.replacen("http://", "ftp://", 1);
        app = app.route(
            "/redirect-ftp",
            get(move || {
                let ftp = ftp.clone();
                async move { (StatusCode::FOUND, [(header::LOCATION, ftp)]).into_response() }
            }),
        );
        app = app.route(
            "/redirect",
            get(move || {
                let target = target.clone();
                async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
            }),
        );
    }
    let app = app.fallback_service(tower_http::services::ServeDir::new(dir));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// The test site: a 3 s clip with sound, the same clip as HLS (master + media playlist +
/// segments), an OpenGraph page pointing at it, a page without video, text named `.mp4`.
async fn site(redirect_to: Option<String>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    ffmpeg(
        root,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            "clip.mp4",
        ],
    );
    std::fs::create_dir(root.join("hls")).unwrap();
    ffmpeg(
        root,
        &[
            "-i",
            "clip.mp4",
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            "hls/seg%d.ts",
            "hls/media.m3u8",
        ],
    );
    std::fs::write(
        root.join("hls/master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180,\
         CODECS=\"avc1.64000d,mp4a.40.2\"\nmedia.m3u8\n",
    )
    .unwrap();
    ffmpeg(
        root,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180",
            "-frames:v",
            "1",
            "poster.jpg",
        ],
    );
    std::fs::write(
        root.join("notes.mp4"),
        "these are notes, not a video\n".repeat(50),
    )
    .unwrap();
    std::fs::write(
        root.join("empty.html"),
        "<!doctype html><html><head><title>Nothing here</title></head><body>No video.</body></html>",
    )
    .unwrap();
    let address = serve(root, redirect_to).await;
    let page = format!(
        r#"<!doctype html><html><head><title>Page title</title>
<meta property="og:title" content="An OpenGraph talk">
<meta property="og:description" content="What the page says about the talk.">
<meta property="og:image" content="http://{address}/poster.jpg">
<meta property="og:video" content="http://{address}/clip.mp4">
<meta property="og:video:type" content="video/mp4">
</head><body><p>A talk.</p></body></html>"#
    );
    std::fs::write(root.join("talk.html"), page).unwrap();
    Site { address, _dir: dir }
}

/// A policy allowing exactly `site` (its loopback address and port).
fn allowing(site: &Site, max_bytes: u64) -> ImportPolicy {
    ImportPolicy {
        allow: vec![AllowEntry::parse(&site.address.to_string()).unwrap()],
        max_bytes,
        ..ImportPolicy::default()
    }
}

/// Runs the app's worker with the same import policy as its API.
fn worker(
    app: &TestApp,
    policy: &ImportPolicy,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: Duration::from_millis(100),
        import: ferrotape_worker::config::ImportSettings {
            yt_dlp: yt_dlp(),
            policy: policy.clone(),
            slots: 3,
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

async fn editor<'a>(app: &'a TestApp) -> Client<'a> {
    app.user(TenantId::DEFAULT, "ed@example.com", Role::Editor)
        .await;
    let mut client = app.client("10.0.0.1");
    client.log_in("ed@example.com", common::PASSWORD).await;
    client
}

/// Starts an import; returns (video id, talk id).
async fn import(client: &mut Client<'_>, url: &str) -> (String, String) {
    let response = client
        .post_json("/api/v1/imports", json!({ "url": url }))
        .await;
    assert_eq!(
        response.status,
        StatusCode::ACCEPTED,
        "{url}: {}",
        response.body
    );
    let body = response.json();
    assert_eq!(body["state"], "uploading");
    (
        body["video_id"].as_str().unwrap().to_owned(),
        body["talk_id"].as_str().unwrap().to_owned(),
    )
}

/// Waits until the video is ready or failed: (state, failure reason).
async fn settled(app: &TestApp, video: &str) -> (String, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (state, reason): (String, Option<String>) =
            sqlx::query_as("SELECT state::text, failure_reason FROM videos WHERE id = $1::uuid")
                .bind(video)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if state == "ready" || state == "failed" {
            return (state, reason);
        }
        assert!(Instant::now() < deadline, "{video} is still {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The talk: (title, description, slug, published).
async fn talk(app: &TestApp, id: &str) -> (String, String, String, bool) {
    sqlx::query_as(
        "SELECT title, description, slug, published_at IS NOT NULL FROM talks WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Every file stored for `video`.
fn stored_files(app: &TestApp, video: &str) -> Vec<String> {
    let root = app
        .media_dir
        .path()
        .join(TenantId::DEFAULT.0.to_string())
        .join(video);
    let mut found = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_file_an_hls_playlist_and_an_opengraph_page_become_draft_talks() {
    let site = site(None).await;
    let policy = allowing(&site, ImportPolicy::default().max_bytes);
    let app = TestApp::spawn_with_imports(policy.clone()).await;
    let mut client = editor(&app).await;
    let (stop, task) = worker(&app, &policy);

    let direct = import(&mut client, &site.url("clip.mp4")).await;
    let hls = import(&mut client, &site.url("hls/master.m3u8")).await;
    let page = import(&mut client, &site.url("talk.html")).await;
    // The studio's own form: a server function answering with the video's id.
    let form = client
        .server_fn("studio/import", &[("url", &site.url("clip.mp4"))])
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let form_video = form.json().as_str().unwrap().to_owned();

    for (video, _) in [&direct, &hls, &page] {
        let (state, reason) = settled(&app, video).await;
        assert_eq!(state, "ready", "{video}: {reason:?}");
    }
    assert_eq!(settled(&app, &form_video).await.0, "ready");
    let _ = stop.send(true);
    task.await.unwrap();

    // Titles from yt-dlp's generic extractor: the file name for a file or playlist, the
    // OpenGraph tags for a page. Every import is a draft until an editor publishes it.
    let owners: Vec<(Option<uuid::Uuid>, String)> =
        sqlx::query_as("SELECT created_by, state::text FROM talks ORDER BY created_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(owners.len(), 4);
    assert!(
        owners
            .iter()
            .all(|(owner, state)| owner.is_some() && state == "draft"),
        "{owners:?}"
    );
    let (title, description, slug, published) = talk(&app, &direct.1).await;
    assert_eq!((title.as_str(), description.as_str()), ("clip", ""));
    assert_eq!(slug, "clip");
    assert!(!published);
    let (title, _, _, published) = talk(&app, &hls.1).await;
    assert_eq!(title, "master");
    assert!(!published);
    let (title, description, slug, published) = talk(&app, &page.1).await;
    assert_eq!(title, "An OpenGraph talk");
    assert_eq!(description, "What the page says about the talk.");
    assert_eq!(slug, "an-opengraph-talk");
    assert!(!published);

    // Each video went through the probe → transcode path: its source kept, its ladder written.
    for (video, expected_source) in [
        (&direct.0, "source/original.mp4"),
        (&hls.0, "source/original.ts"),
        (&page.0, "source/original.mp4"),
    ] {
        let files = stored_files(&app, video);
        assert!(files.contains(&expected_source.to_owned()), "{files:?}");
        assert!(
            files.iter().any(|f| f.ends_with("hls/master.m3u8")),
            "{files:?}"
        );
        let (duration, uploader): (i64, Option<uuid::Uuid>) =
            sqlx::query_as("SELECT duration_ms, uploaded_by FROM videos WHERE id = $1::uuid")
                .bind(video)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!((2500..=3500).contains(&duration), "{video}: {duration} ms");
        assert!(uploader.is_some(), "the editor's studio lists it");
    }
    // The page's og:image is the talk's poster (re-encoded); the others have none of their own.
    let poster: String = sqlx::query_scalar("SELECT poster_key FROM talks WHERE id = $1::uuid")
        .bind(&page.1)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(poster.ends_with("/thumbs/imported.jpg"), "{poster}");
    assert!(app.media_dir.path().join(&poster).is_file());
    let none: Option<String> =
        sqlx::query_scalar("SELECT poster_key FROM talks WHERE id = $1::uuid")
            .bind(&direct.1)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(none, None);

    // The studio lists the imports with the talks' videos.
    let listed = client.server_fn("studio/videos", &[]).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json().as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn refused_urls_answer_at_once_and_create_nothing() {
    let site = site(None).await;
    let policy = allowing(&site, ImportPolicy::default().max_bytes);
    let app = TestApp::spawn_with_imports(policy).await;

    let anonymous = app
        .client("10.0.0.2")
        .post_json("/api/v1/imports", json!({ "url": site.url("clip.mp4") }))
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );

    let mut client = editor(&app).await;
    let other_port = format!("http://127.0.0.1:{}/clip.mp4", site.address.port() + 1);
    for (url, status, code) in [
        (
            "file:///etc/passwd",
            StatusCode::BAD_REQUEST,
            "unsupported_scheme",
        ),
        (
            "ftp://127.0.0.1/clip.mp4",
            StatusCode::BAD_REQUEST,
            "unsupported_scheme",
        ),
        (
            "data:video/mp4;base64,AAAA",
            StatusCode::BAD_REQUEST,
            "unsupported_scheme",
        ),
        ("not a url", StatusCode::BAD_REQUEST, "bad_url"),
        (
            "http://user:secret@example.org/v.mp4",
            StatusCode::BAD_REQUEST,
            "bad_url",
        ),
        // Loopback, but not the allowed port.
        (
            other_port.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_destination",
        ),
        (
            "http://10.0.0.1/v.mp4",
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_destination",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_destination",
        ),
        (
            "http://[::1]/v.mp4",
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_destination",
        ),
        (
            "http://[::ffff:192.168.0.1]/v.mp4",
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_destination",
        ),
        (
            "http://0.0.0.0/v.mp4",
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_destination",
        ),
        (
            "http://no-such-host.invalid/v.mp4",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unresolvable_host",
        ),
    ] {
        let response = client
            .post_json("/api/v1/imports", json!({ "url": url }))
            .await;
        assert_eq!(response.status, status, "{url}: {}", response.body);
        let body = response.json();
        assert_eq!(body["code"], code, "{url}: {body}");
        assert!(!body["error"].as_str().unwrap().is_empty());
    }
    let malformed = client
        .post_json("/api/v1/imports", json!({ "address": 1 }))
        .await;
    assert!(malformed.status.is_client_error(), "{}", malformed.body);
    // The studio's form says the same.
    let form = client
        .server_fn("studio/import", &[("url", "file:///etc/passwd")])
        .await;
    assert_eq!(form.status, StatusCode::BAD_REQUEST, "{}", form.body);
    assert!(
        form.body.contains("only http:// and https://"),
        "{}",
        form.body
    );

    assert_eq!(count(&app, "videos").await, 0);
    assert_eq!(count(&app, "talks").await, 0);
    assert_eq!(count(&app, "jobs WHERE kind = 'import'").await, 0);
}

#[tokio::test]
async fn failing_imports_say_why_and_store_nothing() {
    // A second loopback server that must never be reached: the redirect's target.
    let hits = Arc::new(AtomicUsize::new(0));
    let private = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let private_address = private.local_addr().unwrap();
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = private.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let site = site(Some(format!("http://{private_address}/clip.mp4"))).await;
    let policy = allowing(&site, ImportPolicy::default().max_bytes);
    let app = TestApp::spawn_with_imports(policy.clone()).await;
    let mut client = editor(&app).await;
    let (stop, task) = worker(&app, &policy);

    let cases = [
        ("redirect", "refused: 127.0.0.1 is a loopback address"),
        (
            "redirect-ftp",
            "refused: only http:// and https:// addresses can be imported, not ftp:",
        ),
        ("missing.mp4", "HTTP 404"),
        ("empty.html", "no video found at this address"),
        ("notes.mp4", "not a video or audio file"),
    ];
    let mut started = Vec::new();
    for (path, _) in cases {
        started.push(import(&mut client, &site.url(path)).await);
    }
    for ((path, expected), (video, talk_id)) in cases.iter().zip(&started) {
        let (state, reason) = settled(&app, video).await;
        assert_eq!(state, "failed", "{path}");
        let reason = reason.unwrap();
        assert!(reason.contains(expected), "{path}: {reason}");
        assert_eq!(stored_files(&app, video), Vec::<String>::new(), "{path}");
        // The draft stays for the editor to see what happened; it is not published.
        assert!(!talk(&app, talk_id).await.3);
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the private server was reached"
    );
    // Failed imports are settled: the jobs are done, not left retrying.
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'import' AND state <> 'completed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unfinished, 0);
    let _ = stop.send(true);
    task.await.unwrap();
}

#[tokio::test]
async fn a_file_over_the_size_limit_fails_and_leaves_nothing_stored() {
    let site = site(None).await;
    // Far below the 3 s clip (over 100 KB) and the HLS stream.
    let policy = allowing(&site, 20_000);
    let app = TestApp::spawn_with_imports(policy.clone()).await;
    let mut client = editor(&app).await;
    let (stop, task) = worker(&app, &policy);
    let direct = import(&mut client, &site.url("clip.mp4")).await;
    let hls = import(&mut client, &site.url("hls/master.m3u8")).await;
    for (video, _) in [&direct, &hls] {
        let (state, reason) = settled(&app, video).await;
        assert_eq!(state, "failed");
        let reason = reason.unwrap();
        assert!(
            reason.contains("larger than the import limit of 19.5 KiB"),
            "{reason}"
        );
        assert_eq!(stored_files(&app, video), Vec::<String>::new());
    }
    let _ = stop.send(true);
    task.await.unwrap();
}
