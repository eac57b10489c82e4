//! The studio's event stream (`GET /api/v1/studio/events`): an editor sees their own videos
//! appear, progress (percent and ETA), fail and go away, as server-sent events fed by the
//! database trigger — and never another editor's.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode};
use common::{Client, TestApp};
use ferrotape_model::{Role, TenantId};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Reads server-sent events off a streaming body.
struct EventReader {
    body: Body,
    buffer: String,
}

impl EventReader {
    async fn open(app: &TestApp, client: &Client<'_>) -> EventReader {
        let mut request = client
            .request(Method::GET, "/api/v1/studio/events")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client.ip, 40000)));
        let response = app.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventReader {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event's name and JSON data (keep-alive comments skipped).
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return (name, serde_json::from_str(&data).unwrap());
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), self.body.frame())
                .await
                .expect("an event within 10 s")
                .expect("the stream stays open")
                .unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
            }
        }
    }
}

async fn editor<'a>(app: &'a TestApp, email: &str, ip: &str) -> Client<'a> {
    app.user(TenantId::DEFAULT, email, Role::Editor).await;
    let mut client = app.client(ip);
    client.log_in(email, common::PASSWORD).await;
    client
}

async fn open_upload(client: &mut Client<'_>, name: &str) -> Value {
    let response = client
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": name, "size_bytes": 1000, "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    response.json()
}

#[tokio::test]
async fn an_editor_follows_their_own_videos_live() {
    let app = TestApp::spawn().await;
    let mut alice = editor(&app, "alice@example.com", "10.0.0.1").await;
    let mut bob = editor(&app, "bob@example.com", "10.0.0.2").await;
    let mut events = EventReader::open(&app, &alice).await;
    assert_eq!(events.next().await.0, "ready");

    // Bob's upload is not Alice's business; her next event is her own upload.
    open_upload(&mut bob, "bobs-talk.mp4").await;
    let upload = open_upload(&mut alice, "keynote.mp4").await;
    let video = upload["video_id"].as_str().unwrap().to_owned();
    let (name, data) = events.next().await;
    assert_eq!(name, "video");
    assert_eq!(data["id"], video.as_str());
    assert_eq!(data["name"], "keynote.mp4");
    assert_eq!(data["state"], "uploading");

    // A worker's progress report, as plain SQL: the trigger announces whoever writes.
    sqlx::query(
        "UPDATE videos SET state = 'processing', progress = 0.42, eta_at = now() + interval '30 seconds'
         WHERE id = $1::uuid",
    )
    .bind(&video)
    .execute(&app.pool)
    .await
    .unwrap();
    let (name, data) = events.next().await;
    assert_eq!(name, "video");
    assert_eq!(data["state"], "processing");
    assert!(
        (data["progress"].as_f64().unwrap() - 0.42).abs() < 1e-6,
        "{data}"
    );
    let eta = data["eta_secs"].as_u64().unwrap();
    assert!((25..=30).contains(&eta), "{data}");

    sqlx::query(
        "UPDATE videos SET state = 'failed', failure_reason = 'transcoding failed: disk full'
         WHERE id = $1::uuid",
    )
    .bind(&video)
    .execute(&app.pool)
    .await
    .unwrap();
    let (_, data) = events.next().await;
    assert_eq!(data["state"], "failed");
    assert_eq!(data["failure_reason"], "transcoding failed: disk full");

    // An aborted upload's video goes away.
    let second = open_upload(&mut alice, "draft.mp4").await;
    let (_, data) = events.next().await;
    assert_eq!(data["name"], "draft.mp4");
    let id = second["id"].as_str().unwrap();
    let request = alice
        .request(Method::DELETE, &format!("/api/v1/uploads/{id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(alice.send(request).await.status, StatusCode::NO_CONTENT);
    let (name, data) = events.next().await;
    assert_eq!(name, "removed");
    assert_eq!(data["id"], second["video_id"]);
}

#[tokio::test]
async fn the_event_stream_is_for_editors_only() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/studio/events").await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    app.user(TenantId::DEFAULT, "viewer@example.com", Role::Viewer)
        .await;
    let mut viewer = app.client("10.0.0.4");
    viewer.log_in("viewer@example.com", common::PASSWORD).await;
    assert_eq!(
        viewer.get("/api/v1/studio/events").await.status,
        StatusCode::FORBIDDEN
    );
}
