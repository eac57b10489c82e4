//! Platform events against the real server, PostgreSQL, ffprobe/ffmpeg and the worker: an
//! upload that transcodes records VID_UPLOAD, VID_TRANSCODE, VID_READY in that order for its
//! tenant; an unplayable upload VID_UPLOAD_FAILED; admins follow them live on
//! `/api/v1/admin/events/stream` and resume with `Last-Event-ID`; editors, viewers and other
//! tenants' admins see none of it; the table refuses UPDATE, DELETE and TRUNCATE.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{Client, PASSWORD, TestApp, TestResponse};
use ferrotape_model::platform_events::PlatformEventKind;
use ferrotape_model::{Role, TenantId};
use ferrotape_store::platform_events;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// Reads server-sent events off a streaming response.
struct EventReader {
    body: Body,
    buffer: String,
}

/// One event off the stream: its name, `id:` and JSON data.
#[derive(Debug)]
struct Sse {
    name: String,
    id: Option<String>,
    data: Value,
}

impl EventReader {
    async fn open(app: &TestApp, mut request: Request<Body>) -> EventReader {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new([10, 9, 9, 9].into(), 40000)));
        let response = app.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventReader {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    name: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event.name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("id:") {
                        event.id = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                event.data = serde_json::from_str(&data).unwrap();
                return Some(event);
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()?
                .expect("the stream stays open")
                .unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
            }
        }
    }

    async fn next(&mut self) -> Sse {
        self.next_within(Duration::from_secs(60))
            .await
            .expect("an event within 60 s")
    }

    /// The next `platform_event` (of `video`, when given).
    async fn next_platform_event(&mut self, video: Option<&str>) -> Sse {
        loop {
            let event = self.next().await;
            if event.name == "platform_event" && video.is_none_or(|v| event.data["video_id"] == v) {
                return event;
            }
        }
    }
}

pub(crate) async fn signed_in<'a>(
    app: &'a TestApp,
    email: &str,
    role: Role,
    ip: &str,
) -> Client<'a> {
    app.user(TenantId::DEFAULT, email, role).await;
    let mut client = app.client(ip);
    client.log_in(email, PASSWORD).await;
    client
}

fn stream_request(client: &Client<'_>, last_event_id: Option<&str>) -> Request<Body> {
    let mut builder = client.request(Method::GET, "/api/v1/admin/events/stream");
    if let Some(id) = last_event_id {
        builder = builder.header("last-event-id", id);
    }
    builder.body(Body::empty()).unwrap()
}

/// A two-second 320×240 clip with sound, made by ffmpeg.
pub(crate) fn clip(dir: &Path) -> Vec<u8> {
    let out = dir.join("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=30")
        .args(["-f", "lavfi", "-i", "sine=frequency=440", "-t", "2"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// Uploads `file` in one chunk through the upload API and completes it.
pub(crate) async fn upload(
    client: &mut Client<'_>,
    name: &str,
    file: &[u8],
) -> (TestResponse, String) {
    let opened = client
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": name, "size_bytes": file.len(), "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let id = opened.json()["id"].as_str().unwrap().to_owned();
    let video = opened.json()["video_id"].as_str().unwrap().to_owned();
    let sha: String = Sha256::digest(file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let request = client
        .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/0"))
        .header("x-chunk-sha256", sha)
        .header("content-type", "application/octet-stream")
        .body(Body::from(file.to_vec()))
        .unwrap();
    let chunk = client.send(request).await;
    assert_eq!(chunk.status, StatusCode::OK, "{}", chunk.body);
    let request = client
        .request(Method::POST, &format!("/api/v1/uploads/{id}/complete"))
        .body(Body::empty())
        .unwrap();
    (client.send(request).await, video)
}

/// Runs the worker until `video` is no longer processing; returns its state.
async fn transcode(app: &TestApp, video: &str) -> String {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: Duration::from_millis(100),
        ..ferrotape_worker::WorkerConfig::default()
    };
    let worker = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(240);
    let state = loop {
        let state: String =
            sqlx::query_scalar("SELECT state::text FROM videos WHERE id = $1::uuid")
                .bind(video)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if state != "processing" || Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    worker.await.unwrap();
    state
}

/// The events of `video` as the admin list shows them, oldest first.
async fn events_of(admin: &mut Client<'_>, video: &str) -> Vec<Value> {
    let page = admin.get("/api/v1/admin/events?limit=100").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut events: Vec<Value> = page.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["video_id"] == video)
        .cloned()
        .collect();
    events.reverse();
    events
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_upload_that_transcodes_records_upload_transcode_and_ready_live_and_resumable() {
    let app = TestApp::spawn().await;
    let mut editor = signed_in(&app, "ed@example.com", Role::Editor, "10.0.0.1").await;
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin, "10.0.0.2").await;
    let mut live = EventReader::open(&app, stream_request(&admin, None)).await;
    assert_eq!(live.next().await.name, "ready");

    let tmp = tempfile::tempdir().unwrap();
    let (done, video) = upload(&mut editor, "Keynote.mp4", &clip(tmp.path())).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // The admin hears of the accepted upload at once, before any worker runs.
    let uploaded = live.next_platform_event(Some(&video)).await;
    assert_eq!(uploaded.data["kind"], "VID_UPLOAD");
    assert_eq!(uploaded.data["detail"]["name"], "Keynote.mp4");
    let uploaded_id = uploaded.id.clone().expect("events carry their id");
    assert_eq!(uploaded_id, uploaded.data["id"].to_string());

    assert_eq!(transcode(&app, &video).await, "ready");
    let started = live.next_platform_event(Some(&video)).await;
    assert_eq!(started.data["kind"], "VID_TRANSCODE");
    assert_eq!(started.data["detail"]["attempt"], 1);
    assert_eq!(started.data["detail"]["resource_class"], "gpu");
    let ready = live.next_platform_event(Some(&video)).await;
    assert_eq!(ready.data["kind"], "VID_READY");

    // The list holds the same three, in order, for this tenant.
    let listed = events_of(&mut admin, &video).await;
    assert_eq!(
        kinds(&listed),
        ["VID_UPLOAD", "VID_TRANSCODE", "VID_READY"],
        "{listed:?}"
    );
    let tenants: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT tenant_id FROM platform_events WHERE video_id = $1::uuid")
            .bind(&video)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(tenants, vec![TenantId::DEFAULT.0; 3]);

    // A reconnecting EventSource sends the last id it saw and gets what came after it.
    let mut resumed = EventReader::open(&app, stream_request(&admin, Some(&uploaded_id))).await;
    assert_eq!(resumed.next().await.name, "ready");
    let first = resumed.next_platform_event(None).await;
    assert_eq!(first.data["kind"], "VID_TRANSCODE");
    assert_eq!(first.id, started.id);
    let second = resumed.next_platform_event(None).await;
    assert_eq!(second.data["kind"], "VID_READY");
    // Then it is live: a view the ingestion records shows up next, once.
    let view_id = platform_events::record(
        &app.pool,
        TenantId::DEFAULT,
        PlatformEventKind::VidView,
        Some(video.parse().unwrap()),
        None,
        &json!({"view": "v-1"}),
    )
    .await
    .unwrap();
    let view = resumed.next_platform_event(None).await;
    assert_eq!(view.data["kind"], "VID_VIEW");
    assert_eq!(view.id, Some(view_id.to_string()));
    assert!(
        resumed
            .next_within(Duration::from_millis(500))
            .await
            .is_none(),
        "nothing is sent twice"
    );
    let view_live = live.next_platform_event(Some(&video)).await;
    assert_eq!(view_live.data["kind"], "VID_VIEW");

    // The kind filter, and a junk Last-Event-ID.
    let views = admin.get("/api/v1/admin/events?kind=VID_VIEW").await;
    assert_eq!(
        kinds(views.json()["items"].as_array().unwrap()),
        ["VID_VIEW"]
    );
    let junk = admin.get("/api/v1/admin/events?kind=VID_NOPE").await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    let request = admin
        .request(Method::GET, "/api/v1/admin/events/stream")
        .header("last-event-id", "12; DROP TABLE")
        .body(Body::empty())
        .unwrap();
    assert_eq!(admin.send(request).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unplayable_upload_records_upload_failed_with_the_reason() {
    let app = TestApp::spawn().await;
    let mut editor = signed_in(&app, "ed@example.com", Role::Editor, "10.0.0.1").await;
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin, "10.0.0.2").await;
    let text = "this is not a video\n".repeat(500).into_bytes();
    let (done, video) = upload(&mut editor, "notes.mp4", &text).await;
    assert_eq!(
        done.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        done.body
    );
    let events = events_of(&mut admin, &video).await;
    assert_eq!(kinds(&events), ["VID_UPLOAD_FAILED"], "{events:?}");
    assert_eq!(events[0]["detail"]["name"], "notes.mp4");
    let reason = events[0]["detail"]["reason"].as_str().unwrap();
    assert!(!reason.is_empty(), "{events:?}");
}

#[tokio::test]
async fn the_list_pages_newest_first_by_cursor() {
    let app = TestApp::spawn().await;
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin, "10.0.0.2").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            platform_events::record(
                &app.pool,
                TenantId::DEFAULT,
                PlatformEventKind::VidView,
                None,
                None,
                &json!({ "n": n }),
            )
            .await
            .unwrap(),
        );
    }
    let first = admin.get("/api/v1/admin/events?limit=2").await.json();
    let page_ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(page_ids(&first), [ids[4], ids[3]]);
    let next = first["next"].as_str().unwrap();
    let second = admin
        .get(&format!("/api/v1/admin/events?limit=2&cursor={next}"))
        .await
        .json();
    assert_eq!(page_ids(&second), [ids[2], ids[1]]);
    let last = admin
        .get(&format!(
            "/api/v1/admin/events?limit=2&cursor={}",
            second["next"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(page_ids(&last), [ids[0]]);
    assert!(last["next"].is_null());
    // A time range that ends before them all is empty.
    let old = admin
        .get("/api/v1/admin/events?to=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(old.status, StatusCode::OK, "{}", old.body);
    assert_eq!(old.json()["items"], json!([]));
    // Documented in the API's document.
    let document = app.get("/api/v1/openapi.json").await.json();
    assert!(document["paths"]["/api/v1/admin/events"]["get"].is_object());
    assert!(document["paths"]["/api/v1/admin/events/stream"]["get"].is_object());
}

#[tokio::test]
async fn editors_viewers_and_other_tenants_admins_see_no_events() {
    let app = TestApp::spawn().await;
    let b = common::insert_tenant(&app.pool, "beta").await;
    ferrotape_store::tenants::add_host(&app.pool, b, "talks.beta.test")
        .await
        .unwrap();
    app.user(b, "admin@beta.test", Role::Admin).await;

    assert_eq!(
        app.get("/api/v1/admin/events").await.status,
        StatusCode::UNAUTHORIZED
    );
    for (email, role, ip) in [
        ("ed@example.com", Role::Editor, "10.0.0.1"),
        ("viewer@example.com", Role::Viewer, "10.0.0.3"),
    ] {
        let mut client = signed_in(&app, email, role, ip).await;
        for path in [
            "/api/v1/admin/events",
            "/api/v1/admin/events/stream",
            "/api/v1/admin/compute.csv",
        ] {
            assert_eq!(
                client.get(path).await.status,
                StatusCode::FORBIDDEN,
                "{email} {path}"
            );
        }
    }

    // B's admin, signed in on B's host.
    let login = app
        .request(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/auth/login")
                .header("host", "talks.beta.test")
                .header("origin", "https://talks.beta.test")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"email": "admin@beta.test", "password": PASSWORD}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let cookies: Vec<String> = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let on_b = |path: &str| {
        Request::builder()
            .uri(path)
            .header("host", "talks.beta.test")
            .header("cookie", cookies.join("; "))
            .body(Body::empty())
            .unwrap()
    };
    let mut b_stream = EventReader::open(&app, on_b("/api/v1/admin/events/stream")).await;
    assert_eq!(b_stream.next().await.name, "ready");

    // An event of the default tenant, then one of B's own: B's admin gets only the second.
    platform_events::record(
        &app.pool,
        TenantId::DEFAULT,
        PlatformEventKind::VidView,
        None,
        None,
        &json!({"secret": "default tenant"}),
    )
    .await
    .unwrap();
    let own = platform_events::record(
        &app.pool,
        b,
        PlatformEventKind::VidView,
        None,
        None,
        &json!({}),
    )
    .await
    .unwrap();
    let first = b_stream.next_platform_event(None).await;
    assert_eq!(first.data["id"], own);
    let listed = app.request(on_b("/api/v1/admin/events")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["id"], own);
    // Resuming from 0 replays only B's.
    let mut request = on_b("/api/v1/admin/events/stream");
    request
        .headers_mut()
        .insert("last-event-id", "0".parse().unwrap());
    let mut replay = EventReader::open(&app, request).await;
    assert_eq!(replay.next().await.name, "ready");
    assert_eq!(replay.next_platform_event(None).await.data["id"], own);
    assert!(
        replay
            .next_within(Duration::from_millis(500))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn platform_events_cannot_be_changed_or_deleted_except_by_the_retention_purge() {
    let app = TestApp::spawn().await;
    let old = platform_events::record(
        &app.pool,
        TenantId::DEFAULT,
        PlatformEventKind::VidView,
        None,
        None,
        &json!({}),
    )
    .await
    .unwrap();
    for statement in [
        "UPDATE platform_events SET kind = 'VID_READY'",
        "UPDATE platform_events SET occurred_at = now() - interval '1 year'",
        "DELETE FROM platform_events",
        "TRUNCATE platform_events",
    ] {
        let err = sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let left: Vec<(i64, String)> = sqlx::query_as("SELECT id, kind FROM platform_events")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec![(old, "VID_VIEW".to_owned())]);
    // A kind outside the fixed set and an oversized detail are refused too.
    assert!(
        sqlx::query("INSERT INTO platform_events (tenant_id, kind) VALUES ($1, 'VID_HACKED')")
            .bind(TenantId::DEFAULT.0)
            .execute(&app.pool)
            .await
            .is_err()
    );
    let huge = json!({ "text": "x".repeat(20_000) });
    assert!(
        platform_events::record(
            &app.pool,
            TenantId::DEFAULT,
            PlatformEventKind::VidView,
            None,
            None,
            &huge
        )
        .await
        .is_err()
    );

    // The retention purge removes what is older than its cut-off, nothing newer.
    let removed = ferrotape_store::retention::delete_platform_events(
        &app.pool,
        time::OffsetDateTime::now_utc() - time::Duration::days(1),
        100,
    )
    .await
    .unwrap();
    assert_eq!(removed, 0);
    let removed = ferrotape_store::retention::delete_platform_events(
        &app.pool,
        time::OffsetDateTime::now_utc() + time::Duration::seconds(5),
        100,
    )
    .await
    .unwrap();
    assert_eq!(removed, 1);
    // The purge's permission ended with its transaction.
    platform_events::record(
        &app.pool,
        TenantId::DEFAULT,
        PlatformEventKind::VidView,
        None,
        None,
        &json!({}),
    )
    .await
    .unwrap();
    assert!(
        sqlx::query("DELETE FROM platform_events")
            .execute(&app.pool)
            .await
            .is_err()
    );
    // A deleted tenant takes its events with it.
    let gone = common::insert_tenant(&app.pool, "gone").await;
    platform_events::record(
        &app.pool,
        gone,
        PlatformEventKind::VidView,
        None,
        None,
        &json!({}),
    )
    .await
    .unwrap();
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(gone.0)
        .execute(&app.pool)
        .await
        .unwrap();
    let of_gone: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform_events WHERE tenant_id = $1")
            .bind(gone.0)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(of_gone, 0);
}
