//! From beacons to the dashboards: views posted to `/api/v1/events`, rolled up, and read back
//! through the overview and drill-down server functions, the pages and the CSV — with the
//! figures checked against hand-computed values, late events landing in their own hour, and
//! editors seeing only their talks.

use axum::http::StatusCode;
use ferrotape_model::analytics::report::{Overview, TalkReport};
use ferrotape_model::{Role, TenantId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::beacons::{drained, ev, now_ms, post_batch};
use crate::common::{
    Client, PASSWORD, TestApp, form_encode, insert_ready_video, insert_talk, insert_tenant,
};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn send(client: &mut Client<'_>, talk: Uuid, events: Vec<Value>) {
    let body = json!({"sent_at": now_ms(), "talk": talk, "events": events});
    let headers = [("user-agent", FIREFOX), ("accept-language", "de-CH")];
    let response = post_batch(client, body.to_string(), &headers).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
}

async fn settle(app: &TestApp) {
    drained(app).await;
    ferrotape_store::analytics_rollups::refresh_all(&app.pool)
        .await
        .unwrap();
}

/// A 40 s talk watched three times: once whole (1 s startup), once for 10 s (3 s startup, a
/// 2 s stall), and once given up before the first frame.
async fn three_views(app: &TestApp, client: &mut Client<'_>, talk: Uuid, at: i64) -> Uuid {
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    send(client, talk, vec![
        ev(a, at, json!({"type": "view_start", "position": 0.0, "referrer": "https://blog.example.org/post"})),
        ev(a, at + 1000, json!({"type": "first_frame", "startup_ms": 1000})),
        ev(a, at + 20_000, json!({"type": "heartbeat", "position": 20.0, "watched": [[0.0, 20.0]], "bitrate": 2_000_000})),
        ev(a, at + 40_000, json!({"type": "heartbeat", "position": 40.0, "watched": [[20.0, 40.0]], "bitrate": 2_000_000})),
        ev(a, at + 40_100, json!({"type": "end", "position": 40.0})),
        ev(b, at, json!({"type": "view_start", "position": 0.0})),
        ev(b, at + 3000, json!({"type": "first_frame", "startup_ms": 3000})),
        ev(b, at + 9000, json!({"type": "stall", "position": 6.0, "duration_ms": 2000})),
        ev(b, at + 15_000, json!({"type": "exit", "position": 10.0, "watched": [[0.0, 10.0]], "bitrate": 500_000})),
        ev(c, at, json!({"type": "view_start", "position": 0.0})),
        ev(c, at + 4000, json!({"type": "exit", "position": 0.0})),
    ])
    .await;
    settle(app).await;
    b
}

async fn report(client: &mut Client<'_>, talk: Uuid) -> TalkReport {
    let response = client
        .server_fn("studio/analytics/talk", &[("id", &talk.to_string())])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

#[tokio::test]
async fn the_drill_down_adds_up_by_hand() {
    let app = TestApp::spawn().await;
    let talk = insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "watched",
        "Watched",
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await;
    insert_ready_video(&app.pool, TenantId::DEFAULT, talk, 40_000).await;
    let mut viewer = app.client("203.0.113.20");
    let b = three_views(&app, &mut viewer, talk, now_ms() - 60_000).await;

    app.user(TenantId::DEFAULT, "admin@example.com", Role::Admin)
        .await;
    let mut admin = app.client("198.51.100.20");
    admin.log_in("admin@example.com", PASSWORD).await;
    let drill = report(&mut admin, talk).await;
    let t = &drill.talk.totals;
    assert_eq!(
        (t.views, t.started_views, t.completed, t.exits_before_start),
        (3, 2, 1, 1)
    );
    assert_eq!(
        t.viewers, 1,
        "one client network and browser: one daily viewer"
    );
    // Watch time: (1 s + 40 s) + (3 s + 2 s + 10 s) + 0.
    assert_eq!(t.watch_ms, 56_000);
    assert!((t.rebuffer_percentage() - 2000.0 / 56_000.0 * 100.0).abs() < 1e-9);
    // Bitrate weighted by time played: (2 Mbit/s × 40 s + 0.5 Mbit/s × 10 s) / 50 s.
    assert_eq!(t.average_bitrate(), 1_700_000.0);
    let score = (800.0 / 9.0 + 800.0 / 11.0) / 2.0;
    assert!((t.startup_time_score().unwrap() - score).abs() < 1e-6);
    // Retention over 40 s: both started views at 5 s, only the whole one at 20 s.
    assert_eq!(drill.retention.len(), 40);
    assert!((drill.retention[5] - 2.0 / 3.0).abs() < 1e-6);
    assert!((drill.retention[20] - 1.0 / 3.0).abs() < 1e-6);
    // The default period is the last 30 days: one point each, zero but today.
    assert_eq!(drill.series.len(), 30);
    assert_eq!(
        drill.series.iter().filter(|p| p.totals.views > 0).count(),
        1
    );
    assert_eq!(drill.series.last().unwrap().totals.views, 3);
    let dimension = |name: &str| -> Vec<(String, u64)> {
        drill
            .dimensions
            .iter()
            .filter(|d| d.dimension == name)
            .map(|d| (d.value.clone(), d.views))
            .collect()
    };
    assert_eq!(dimension("browser"), vec![("Firefox".to_owned(), 3)]);
    assert_eq!(dimension("country"), vec![("CH".to_owned(), 3)]);
    assert_eq!(
        dimension("referrer"),
        vec![("blog.example.org".to_owned(), 1)]
    );

    // A late heartbeat of view b (10 s more, sent a minute later) updates the same buckets.
    send(
        &mut viewer,
        talk,
        vec![ev(
            b,
            now_ms() - 1000,
            json!({"type": "heartbeat", "position": 20.0, "watched": [[10.0, 20.0]]}),
        )],
    )
    .await;
    settle(&app).await;
    let later = report(&mut admin, talk).await;
    assert_eq!(later.talk.totals.watch_ms, 66_000);
    assert!((later.retention[15] - 2.0 / 3.0).abs() < 1e-6);
    assert_eq!(later.talk.totals.views, 3);

    // The page shows the figures without JavaScript, and the CSV has the same.
    let page = admin.get(&format!("/studio/analytics/talks/{talk}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Retention: share of viewers"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Data table: retention"));
    assert!(page.body.contains("Firefox"));
    let csv = admin
        .get(&format!("/api/v1/analytics/talks/{talk}/report.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let total = csv
        .body
        .lines()
        .find(|l| l.starts_with("total,"))
        .expect(&csv.body);
    assert!(
        total.starts_with("total,3,1,66.000,22.000,0.3333,"),
        "{total}"
    );
}

#[tokio::test]
async fn events_of_a_view_started_hours_ago_land_in_that_hour() {
    let app = TestApp::spawn().await;
    let talk = insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "watched",
        "Watched",
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await;
    insert_ready_video(&app.pool, TenantId::DEFAULT, talk, 40_000).await;
    let mut viewer = app.client("203.0.113.21");
    let hours_ago = now_ms() - 5 * 3_600_000;
    three_views(&app, &mut viewer, talk, hours_ago).await;
    let hour: String = sqlx::query_scalar(
        "SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24') FROM analytics_hourly WHERE talk_id = $1",
    )
    .bind(talk)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let expected = time::OffsetDateTime::from_unix_timestamp(hours_ago / 1000).unwrap();
    assert_eq!(hour, format!("{} {:02}", expected.date(), expected.hour()));
}

#[tokio::test]
async fn editors_see_only_their_talks_and_other_tenants_nothing() {
    let app = TestApp::spawn().await;
    let mine = insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "mine",
        "Mine",
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await;
    let theirs = insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "theirs",
        "Theirs",
        Some(time::OffsetDateTime::now_utc()),
        &[],
    )
    .await;
    let editor = app
        .user(TenantId::DEFAULT, "editor@example.com", Role::Editor)
        .await;
    let other = app
        .user(TenantId::DEFAULT, "other@example.com", Role::Editor)
        .await;
    for (talk, owner) in [(mine, editor), (theirs, other)] {
        sqlx::query("UPDATE talks SET created_by = $2 WHERE id = $1")
            .bind(talk)
            .bind(owner)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let mut viewer = app.client("203.0.113.22");
    three_views(&app, &mut viewer, mine, now_ms() - 60_000).await;
    three_views(&app, &mut viewer, theirs, now_ms() - 60_000).await;

    let mut client = app.client("198.51.100.22");
    client.log_in("editor@example.com", PASSWORD).await;
    let response = client.server_fn("studio/analytics", &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let overview: Overview = serde_json::from_str(&response.body).unwrap();
    assert_eq!(overview.totals.views, 3, "only their own talk's views");
    assert_eq!(
        overview
            .talks
            .iter()
            .map(|t| t.title.as_str())
            .collect::<Vec<_>>(),
        ["Mine"]
    );
    // The studio's list shows each talk's views and watch time.
    let home = client.server_fn("studio/talks", &[]).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    let figures = home.json()["figures"].clone();
    assert_eq!(figures, json!([[mine, 3, 56_000]]));
    let page = client.get("/studio").await;
    assert!(
        page.body
            .contains(&format!("href=\"/studio/analytics/talks/{mine}\"")),
        "{}",
        page.body
    );
    let refused = client
        .server_fn("studio/analytics/talk", &[("id", &theirs.to_string())])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let csv = client
        .get(&format!("/api/v1/analytics/talks/{theirs}/report.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::NOT_FOUND);

    // A viewer account gets nothing; an admin of another tenant sees none of these views.
    app.user(TenantId::DEFAULT, "viewer@example.com", Role::Viewer)
        .await;
    let mut plain = app.client("198.51.100.23");
    plain.log_in("viewer@example.com", PASSWORD).await;
    assert_eq!(
        plain.server_fn("studio/analytics", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let elsewhere = insert_tenant(&app.pool, "elsewhere").await;
    let scope = ferrotape_store::analytics_reports::Scope {
        tenant: elsewhere.0,
        owner: None,
    };
    let today = time::OffsetDateTime::now_utc().date();
    let range = ferrotape_store::analytics_reports::Range {
        from: today - time::Duration::days(1),
        to: today + time::Duration::days(1),
    };
    let foreign = ferrotape_store::analytics_reports::overview(&app.pool, scope, range)
        .await
        .unwrap();
    assert_eq!(foreign.totals.views, 0);
    assert!(
        ferrotape_store::analytics_reports::talk_report(&app.pool, scope, mine, range)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn malformed_periods_and_talk_ids_are_refused_with_a_clear_answer() {
    let app = TestApp::spawn().await;
    app.user(TenantId::DEFAULT, "admin@example.com", Role::Admin)
        .await;
    let mut client = app.client("198.51.100.40");
    client.log_in("admin@example.com", PASSWORD).await;
    let talk = Uuid::new_v4().to_string();
    // Not a day, the wrong order, a year-long period, hostile text.
    let bad_ranges: [&[(&str, &str)]; 5] = [
        &[("from", "yesterday")],
        &[("from", "2026-02-30")],
        &[("from", "2026-05-10"), ("to", "2026-05-01")],
        &[("from", "2020-01-01"), ("to", "2026-01-01")],
        &[("to", "2026-01-01'; DROP TABLE talks; --")],
    ];
    for range in bad_ranges {
        let overview = client.server_fn("studio/analytics", range).await;
        assert_eq!(
            overview.status,
            StatusCode::BAD_REQUEST,
            "{range:?}: {}",
            overview.body
        );
        let mut with_id = vec![("id", talk.as_str())];
        with_id.extend_from_slice(range);
        let drill_down = client.server_fn("studio/analytics/talk", &with_id).await;
        assert_eq!(
            drill_down.status,
            StatusCode::BAD_REQUEST,
            "{range:?}: {}",
            drill_down.body
        );

        let query = form_encode(range);
        for path in [
            format!("/api/v1/analytics/overview.csv?{query}"),
            format!("/api/v1/analytics/talks/{talk}/report.csv?{query}"),
        ] {
            let csv = client.get(&path).await;
            assert_eq!(csv.status, StatusCode::BAD_REQUEST, "{path}: {}", csv.body);
            assert_eq!(csv.json()["code"], "invalid_range", "{path}");
        }
    }
    // A talk id that is not an id at all is simply not found, on both paths.
    for id in [
        "not-a-uuid",
        "..%2F..%2Fetc",
        "00000000-0000-0000-0000-00000000000g",
    ] {
        let csv = client
            .get(&format!("/api/v1/analytics/talks/{id}/report.csv"))
            .await;
        assert_eq!(csv.status, StatusCode::NOT_FOUND, "{id}: {}", csv.body);
        let drill_down = client
            .server_fn("studio/analytics/talk", &[("id", id)])
            .await;
        assert_eq!(
            drill_down.status,
            StatusCode::NOT_FOUND,
            "{id}: {}",
            drill_down.body
        );
    }
    // Still answers a good request afterwards.
    let fine = client.get("/api/v1/analytics/overview.csv").await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
}
