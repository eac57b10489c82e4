//! `POST /api/v1/events`: a real server and database. Beacons are accepted without waiting for
//! the database, stored once however often they are sent, folded into their view, stripped of
//! what identifies the viewer, and refused whole when anything in them is wrong.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ferrotape_model::TenantId;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::beacons::{drained, ev, now_ms, post_batch};
use crate::common::{Client, TestApp, insert_talk, insert_tenant};

const CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// A whole view in one batch: start, a 640 ms startup, 20 s watched in two heartbeats at
/// 1 Mbit/s with a 1.5 s stall between, a quality switch, a seek, and the exit.
fn whole_view(talk: Uuid, view: Uuid, viewer: Uuid) -> Value {
    let t = now_ms() - 30_000;
    json!({
        "sent_at": now_ms(),
        "talk": talk,
        "viewer": viewer,
        "events": [
            ev(view, t, json!({"type": "view_start", "position": 0.0,
                "referrer": "https://www.news.example.com/story?id=7"})),
            ev(view, t + 640, json!({"type": "first_frame", "startup_ms": 640})),
            ev(view, t + 5000, json!({"type": "quality", "bitrate": 1_000_000, "height": 480})),
            ev(view, t + 10_000, json!({"type": "heartbeat", "position": 10.0,
                "watched": [[0.0, 10.0]], "bitrate": 1_000_000})),
            ev(view, t + 11_500, json!({"type": "stall", "position": 10.0, "duration_ms": 1500})),
            ev(view, t + 12_000, json!({"type": "seek", "from": 10.0, "to": 30.0})),
            ev(view, t + 22_000, json!({"type": "heartbeat", "position": 40.0,
                "watched": [[30.0, 40.0]], "bitrate": 1_000_000})),
            ev(view, t + 23_000, json!({"type": "exit", "position": 41.0,
                "watched": [[40.0, 41.0]], "bitrate": 1_000_000})),
        ],
    })
}

async fn post(
    client: &mut Client<'_>,
    body: String,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut all = vec![
        ("content-type", "application/json"),
        ("user-agent", CHROME),
        ("accept-language", "en-GB,en;q=0.8"),
    ];
    all.extend_from_slice(headers);
    let response = post_batch(client, body, &all).await;
    let json = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, json)
}

async fn stored_events(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM analytics_events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn published_talk(app: &TestApp, tenant: TenantId, slug: &str) -> Uuid {
    insert_talk(
        &app.pool,
        tenant,
        slug,
        "Watched",
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await
}

#[tokio::test]
async fn a_view_is_stored_once_and_its_figures_add_up() {
    let app = TestApp::spawn().await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    let view = Uuid::new_v4();
    let viewer = Uuid::new_v4();
    let batch = whole_view(talk, view, viewer).to_string();
    let mut client = app.client("203.0.113.7");

    let (status, body) = post(&mut client, batch.clone(), &[]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], 8);
    drained(&app).await;
    assert_eq!(stored_events(&app).await, 8);

    // The browser sends it again (a lost response): nothing changes.
    let (status, _) = post(&mut client, batch, &[]).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    drained(&app).await;
    assert_eq!(stored_events(&app).await, 8);

    #[derive(sqlx::FromRow)]
    struct ViewRow {
        startup_ms: Option<i32>,
        playing_ms: i64,
        rebuffer_count: i32,
        rebuffer_ms: i64,
        bitrate: i64,
        quality_switches: i32,
        seeks: i32,
        exited: bool,
        failed: bool,
        furthest: f32,
        watched: String,
    }
    let row: ViewRow = sqlx::query_as(
        "SELECT startup_ms, playing_ms, rebuffer_count, rebuffer_ms,
                bitrate_ms / nullif(bitrate_time_ms, 0) AS bitrate, quality_switches, seeks,
                exited, failed, furthest, watched::text AS watched
         FROM analytics_views WHERE id = $1",
    )
    .bind(view)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row.startup_ms, Some(640));
    assert_eq!(row.playing_ms, 21_000, "10 s + 10 s + 1 s played");
    assert_eq!((row.rebuffer_count, row.rebuffer_ms), (1, 1500));
    assert_eq!(row.bitrate, 1_000_000, "average bitrate");
    assert_eq!((row.quality_switches, row.seeks), (1, 1));
    assert!(row.exited && !row.failed, "exited, not failed");
    assert_eq!(row.furthest, 41.0);
    assert_eq!(row.watched, "{[0,10),[30,41)}");

    let dims: (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<Uuid>,
        bool,
    ) = sqlx::query_as(
        "SELECT browser, os, device, country, referrer_domain, viewer_id, viewer_hash IS NOT NULL
         FROM analytics_views WHERE id = $1",
    )
    .bind(view)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (dims.0.as_str(), dims.1.as_str(), dims.2.as_str()),
        ("Chrome", "macOS", "desktop")
    );
    assert_eq!(dims.3.as_deref(), Some("GB"));
    assert_eq!(dims.4.as_deref(), Some("news.example.com"));
    assert_eq!(dims.5, Some(viewer));
    assert!(dims.6, "a daily viewer hash");

    // Neither the address nor the user agent is stored anywhere.
    let everything: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(row_to_json(v)::text, ''), '') FROM analytics_views v",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let events: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(row_to_json(e)::text, ''), '') FROM analytics_events e",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for text in [&everything, &events] {
        assert!(
            !text.contains("203.0.113.7")
                && !text.contains("Mozilla")
                && !text.contains("story?id")
        );
    }
}

#[tokio::test]
async fn later_batches_extend_the_same_view() {
    let app = TestApp::spawn().await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    let view = Uuid::new_v4();
    let t = now_ms() - 20_000;
    let mut client = app.client("203.0.113.8");
    let first = json!({"sent_at": now_ms(), "talk": talk, "events": [
        ev(view, t, json!({"type": "view_start", "position": 0.0})),
        ev(view, t + 900, json!({"type": "first_frame", "startup_ms": 900})),
        ev(view, t + 10_000, json!({"type": "heartbeat", "position": 9.0, "watched": [[0.0, 9.0]]})),
    ]});
    let second = json!({"sent_at": now_ms(), "talk": talk, "events": [
        ev(view, t + 20_000, json!({"type": "heartbeat", "position": 19.0, "watched": [[9.0, 19.0]]})),
        ev(view, t + 20_500, json!({"type": "end", "position": 19.0})),
    ]});
    assert_eq!(
        post(&mut client, first.to_string(), &[]).await.0,
        StatusCode::ACCEPTED
    );
    drained(&app).await;
    assert_eq!(
        post(&mut client, second.to_string(), &[]).await.0,
        StatusCode::ACCEPTED
    );
    drained(&app).await;
    let (startup, playing, ended, watched, last): (Option<i32>, i64, bool, String, f32) = sqlx::query_as(
        "SELECT startup_ms, playing_ms, ended, watched::text, last_position FROM analytics_views WHERE id = $1",
    )
    .bind(view)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((startup, playing, ended), (Some(900), 19_000, true));
    assert_eq!(watched, "{[0,19)}");
    assert_eq!(last, 19.0);
}

#[tokio::test]
async fn global_privacy_control_keeps_only_aggregates() {
    let app = TestApp::spawn().await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    let mut client = app.client("203.0.113.9");
    app.user(
        TenantId::DEFAULT,
        "gpc@example.com",
        ferrotape_model::Role::Viewer,
    )
    .await;
    client
        .log_in("gpc@example.com", crate::common::PASSWORD)
        .await;
    for (header, view) in [("sec-gpc", Uuid::new_v4()), ("dnt", Uuid::new_v4())] {
        let (status, _) = post(
            &mut client,
            whole_view(talk, view, Uuid::new_v4()).to_string(),
            &[(header, "1")],
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        drained(&app).await;
        let (hash, viewer, user, playing): (bool, Option<Uuid>, Option<Uuid>, i64) = sqlx::query_as(
            "SELECT viewer_hash IS NOT NULL, viewer_id, user_id, playing_ms FROM analytics_views WHERE id = $1",
        )
        .bind(view)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!((hash, viewer, user), (false, None, None), "{header}");
        assert_eq!(playing, 21_000, "still counted in the aggregates");
    }
    // Without the signal the signed-in viewer is recorded (for their library).
    let view = Uuid::new_v4();
    post(
        &mut client,
        whole_view(talk, view, Uuid::new_v4()).to_string(),
        &[],
    )
    .await;
    drained(&app).await;
    let user: Option<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM analytics_views WHERE id = $1")
            .bind(view)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(user.is_some());
}

#[tokio::test]
async fn bad_batches_are_refused_whole_with_a_reason() {
    let app = TestApp::spawn().await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    let other_tenant = insert_tenant(&app.pool, "elsewhere").await;
    let foreign_talk = published_talk(&app, other_tenant, "foreign").await;
    let view = Uuid::new_v4();
    let mut client = app.client("203.0.113.10");
    let batch = |talk: Uuid, sent_at: i64, events: Vec<Value>| {
        json!({"sent_at": sent_at, "talk": talk, "events": events}).to_string()
    };
    let ok = |at: i64| ev(view, at, json!({"type": "pause", "position": 3.0}));
    let now = now_ms();
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("{not json".into(), StatusCode::BAD_REQUEST, "invalid_batch"),
        (
            batch(
                talk,
                now,
                vec![ev(view, now, json!({"type": "drop_table"}))],
            ),
            StatusCode::BAD_REQUEST,
            "invalid_batch",
        ),
        (
            batch(talk, now, vec![]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_size",
        ),
        (
            batch(talk, now - 3 * 86_400_000, vec![ok(now - 3 * 86_400_000)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "clock_skew",
        ),
        (
            batch(
                talk,
                now,
                vec![
                    ok(now),
                    ev(view, now, json!({"type": "pause", "position": -4.0})),
                ],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            batch(
                talk,
                now,
                vec![
                    ok(now),
                    ev(
                        view,
                        now,
                        json!({"type": "heartbeat", "position": 1.0, "watched": [[0.0, 500.0]]}),
                    ),
                ],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            batch(
                talk,
                now,
                vec![ev(
                    view,
                    now,
                    json!({"type": "view_start", "position": 0.0, "embed_origin": "javascript:alert(1)"}),
                )],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            batch(Uuid::new_v4(), now, vec![ok(now)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_talk",
        ),
        (
            batch(foreign_talk, now, vec![ok(now)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_talk",
        ),
        (
            format!(
                "{{\"sent_at\":{now},\"talk\":\"{talk}\",\"events\":[],\"pad\":\"{}\"}}",
                "x".repeat(70_000)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post(&mut client, body, &[]).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{answer}"
        );
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    drained(&app).await;
    assert_eq!(
        stored_events(&app).await,
        0,
        "nothing of a refused batch is stored"
    );
}

#[tokio::test]
async fn someone_elses_view_id_changes_nothing_of_that_view() {
    let app = TestApp::spawn().await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    let other = published_talk(&app, TenantId::DEFAULT, "other").await;
    let view = Uuid::new_v4();
    let mut client = app.client("203.0.113.11");
    post(
        &mut client,
        whole_view(talk, view, Uuid::new_v4()).to_string(),
        &[],
    )
    .await;
    drained(&app).await;
    // The same view id, claimed for another talk: stored as events, but the view stays as it was.
    post(
        &mut client,
        whole_view(other, view, Uuid::new_v4()).to_string(),
        &[],
    )
    .await;
    drained(&app).await;
    let (talk_of_view, playing): (Uuid, i64) =
        sqlx::query_as("SELECT talk_id, playing_ms FROM analytics_views WHERE id = $1")
            .bind(view)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((talk_of_view, playing), (talk, 21_000));
}

#[tokio::test]
async fn a_client_posting_too_often_is_told_to_wait() {
    let app = TestApp::spawn_with_analytics(ferrotape_server::analytics::AnalyticsSettings {
        batches_per_second: 1,
        ..Default::default()
    })
    .await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    let mut client = app.client("203.0.113.12");
    let mut refused = None;
    for _ in 0..8 {
        let (status, body) = post(
            &mut client,
            whole_view(talk, Uuid::new_v4(), Uuid::new_v4()).to_string(),
            &[],
        )
        .await;
        if status != StatusCode::ACCEPTED {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("a burst of 5 per second at most");
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    // Another network is not affected.
    let mut neighbour = app.client("198.51.100.1");
    let (status, _) = post(
        &mut neighbour,
        whole_view(talk, Uuid::new_v4(), Uuid::new_v4()).to_string(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_full_buffer_refuses_with_retry_after_and_loses_nothing_accepted() {
    let app = TestApp::spawn_with_analytics(ferrotape_server::analytics::AnalyticsSettings {
        buffer_events: 20,
        batches_per_second: 1000,
    })
    .await;
    let talk = published_talk(&app, TenantId::DEFAULT, "watched").await;
    // Hold the views table so the writer cannot finish a write: the buffer fills up.
    // On a connection of its own, so the app's pool keeps serving requests meanwhile.
    use sqlx::Connection;
    let mut blocker = sqlx::PgConnection::connect(&app.database_url())
        .await
        .unwrap();
    let mut blocker = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE analytics_views IN EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let mut client = app.client("203.0.113.13");
    let mut accepted = 0;
    let mut full = None;
    for _ in 0..10 {
        let body = whole_view(talk, Uuid::new_v4(), Uuid::new_v4()).to_string();
        let response = post_batch(&mut client, body, &[("user-agent", CHROME)]).await;
        match response.status {
            StatusCode::ACCEPTED => accepted += 8,
            StatusCode::SERVICE_UNAVAILABLE => {
                full = Some(response);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let full = full.expect("the buffer of 20 events fills");
    assert_eq!(full.headers["retry-after"], "1");
    assert_eq!(full.json()["code"], "buffer_full");
    assert_eq!(accepted, 16, "two batches of 8 fit in 20");
    blocker.rollback().await.unwrap();
    drained(&app).await;
    assert_eq!(stored_events(&app).await, accepted);
}

#[tokio::test]
async fn the_events_endpoint_is_in_the_api_document() {
    let app = TestApp::spawn().await;
    let document = app.get("/api/v1/openapi.json").await.json();
    assert!(document["paths"]["/api/v1/events"]["post"].is_object());
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/events")
        .header("host", crate::common::SITE)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.request(request).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}
