//! `/metrics`: who may read it (bearer token, separate listener, loopback by default), the
//! histograms it exports, and the retention job that keeps the queue and token tables small.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use ferrotape_model::{Role, TenantId};
use ferrotape_server::metrics_access::MetricsAccess;
use ferrotape_store::jobs::{self, NewJob};
use ferrotape_worker::retention::{self, RetentionPolicy};
use ferrotape_worker::{JobContext, JobFuture, JobHandler, Registry, WorkerConfig};
use http_body_util::BodyExt;
use serde_json::json;
use time::OffsetDateTime;
use tower::ServiceExt;

async fn scrape(
    router: &axum::Router,
    peer: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::builder().method(Method::GET).uri("/metrics");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn by_default_only_direct_loopback_peers_read_metrics() {
    let app = TestApp::spawn().await;
    assert_eq!(
        scrape(&app.router, "127.0.0.1", &[]).await.0,
        StatusCode::OK
    );
    assert_eq!(scrape(&app.router, "::1", &[]).await.0, StatusCode::OK);
    for (peer, headers) in [
        ("203.0.113.5", &[][..]),
        ("10.0.0.2", &[][..]),
        // A reverse proxy on this machine relays the public's requests from loopback.
        ("127.0.0.1", &[("x-forwarded-for", "203.0.113.5")][..]),
        ("127.0.0.1", &[("forwarded", "for=203.0.113.5")][..]),
    ] {
        let (status, body) = scrape(&app.router, peer, headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{peer} {headers:?}");
        assert!(!body.contains("ferrotape_jobs"));
    }
}

#[tokio::test]
async fn a_token_is_required_from_everyone_when_set() {
    let app =
        TestApp::spawn_with_metrics_access(MetricsAccess::new(Some("s3cret-token"), false)).await;
    for headers in [
        &[][..],
        &[("authorization", "Bearer wrong")][..],
        &[("authorization", "Basic czNjcmV0LXRva2Vu")][..],
        &[("authorization", "Bearer s3cret-token-and-more")][..],
    ] {
        let (status, _) = scrape(&app.router, "127.0.0.1", headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    let (status, body) = scrape(
        &app.router,
        "203.0.113.5",
        &[("authorization", "Bearer s3cret-token")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("ferrotape_jobs_rows_estimate"), "{body}");
}

#[tokio::test]
async fn with_its_own_listener_the_site_does_not_serve_metrics() {
    let app = TestApp::spawn_with_metrics_access(MetricsAccess::new(None, true)).await;
    assert_eq!(
        scrape(&app.router, "127.0.0.1", &[]).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = scrape(&app.metrics_listener, "10.1.2.3", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("ferrotape_jobs_rows_estimate"));
    // The listener serves nothing else.
    let other = app
        .metrics_listener
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

struct Quick;

impl JobHandler for Quick {
    fn kind(&self) -> &'static str {
        "test.metrics"
    }
    fn run(&self, _ctx: JobContext) -> JobFuture {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn request_and_job_durations_are_exported_as_histograms() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/login").await.status, StatusCode::OK);
    jobs::enqueue(
        &app.pool,
        TenantId::DEFAULT,
        &NewJob::new("test.metrics", json!({})),
    )
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(ferrotape_worker::runtime::run_registry(
        app.pool.clone(),
        Registry::new().register(Quick),
        WorkerConfig {
            poll_interval: Duration::from_millis(50),
            ..WorkerConfig::default()
        },
        stopped,
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (_, body) = scrape(&app.router, "127.0.0.1", &[]).await;
        if body.contains(
            r#"ferrotape_job_duration_seconds_count{kind="test.metrics",outcome="completed"} 1"#,
        ) || std::time::Instant::now() > deadline
        {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = stop.send(true);
    worker.await.unwrap();
    assert!(
        body.contains("# TYPE ferrotape_http_request_duration_seconds histogram"),
        "{body}"
    );
    assert!(
        body.contains(
            r#"ferrotape_http_request_duration_seconds_bucket{method="GET",route="/login",status="2xx",le="0.5"}"#
        ),
        "{body}"
    );
    assert!(body.contains("# TYPE ferrotape_job_duration_seconds histogram"));
    assert!(
        body.contains(
            r#"ferrotape_job_duration_seconds_count{kind="test.metrics",outcome="completed"} 1"#
        ),
        "{body}"
    );
    // Job gauges come from the unfinished states only: the finished job is no longer counted.
    assert!(!body.contains(r#"ferrotape_jobs{kind="test.metrics",state="completed"}"#));
}

#[tokio::test]
async fn retention_deletes_finished_jobs_spent_tokens_and_sent_mail_past_their_periods() {
    let app = TestApp::spawn().await;
    let pool = &app.pool;
    let tenant = TenantId::DEFAULT.0;
    let user = app
        .user(TenantId::DEFAULT, "old@example.org", Role::Viewer)
        .await;
    let days = |n: i64| OffsetDateTime::now_utc() - time::Duration::days(n);

    // Jobs: finished long ago (go), finished lately (stay), unfinished however old (stay).
    for (state, finalized, label) in [
        ("completed", Some(days(30)), "old-completed"),
        ("discarded", Some(days(30)), "old-discarded"),
        ("cancelled", Some(days(30)), "old-cancelled"),
        ("completed", Some(days(1)), "recent-completed"),
        ("available", None, "old-available"),
    ] {
        sqlx::query(
            "INSERT INTO jobs (tenant_id, kind, payload, state, finalized_at, created_at)
             VALUES ($1, 'test.retention', jsonb_build_object('label', $2::text), $3::job_state, $4, $5)",
        )
        .bind(tenant)
        .bind(label)
        .bind(state)
        .bind(finalized)
        .bind(days(40))
        .execute(pool)
        .await
        .unwrap();
    }
    // Refresh tokens: expired long ago (go), revoked long ago (go), rotated but still valid
    // (stay: replaying it must still be detected), live (stay).
    for (label, created, expires, rotated, revoked) in [
        (1u8, days(60), days(30), None, None),
        (2, days(20), days(-10), None, Some(days(15))),
        (3, days(20), days(-10), Some(days(15)), None),
        (4, days(1), days(-29), None, None),
    ] {
        sqlx::query(
            "INSERT INTO refresh_tokens (tenant_id, user_id, family_id, token_hash, created_at, expires_at, rotated_at, revoked_at)
             VALUES ($1, $2, gen_random_uuid(), $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(user)
        .bind(vec![label; 32])
        .bind(created)
        .bind(expires)
        .bind(rotated)
        .bind(revoked)
        .execute(pool)
        .await
        .unwrap();
    }
    // Mailed links: used long ago (go), expired long ago (go), unused and valid (stay).
    for (label, created, expires, used) in [
        (11u8, days(20), days(-10), Some(days(19))),
        (12, days(20), days(19), None),
        (13, days(0), days(-1), None),
    ] {
        sqlx::query(
            "INSERT INTO email_tokens (tenant_id, user_id, purpose, token_hash, created_at, expires_at, used_at)
             VALUES ($1, $2, 'reset_password', $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(user)
        .bind(vec![label; 32])
        .bind(created)
        .bind(expires)
        .bind(used)
        .execute(pool)
        .await
        .unwrap();
    }
    // Mail: sent long ago (goes), sent lately and never sent (stay).
    for (subject, sent) in [
        ("old-sent", Some(days(60))),
        ("recent-sent", Some(days(2))),
        ("old-unsent", None),
    ] {
        sqlx::query(
            "INSERT INTO mail_outbox (tenant_id, recipient, subject, body, created_at, sent_at)
             VALUES ($1, 'old@example.org', $2, '', $3, $4)",
        )
        .bind(tenant)
        .bind(subject)
        .bind(days(90))
        .bind(sent)
        .execute(pool)
        .await
        .unwrap();
    }

    let deleted =
        retention::delete_expired(pool, RetentionPolicy::default(), OffsetDateTime::now_utc())
            .await
            .unwrap();
    assert_eq!(
        (
            deleted.jobs,
            deleted.refresh_tokens,
            deleted.email_tokens,
            deleted.mail
        ),
        (3, 2, 2, 1)
    );

    let jobs_left: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'label' FROM jobs WHERE kind = 'test.retention' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(jobs_left, ["old-available", "recent-completed"]);
    let refresh_left: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM refresh_tokens ORDER BY token_hash")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(refresh_left, [vec![3u8; 32], vec![4u8; 32]]);
    let email_left: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM email_tokens ORDER BY token_hash")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(email_left, [vec![13u8; 32]]);
    let mail_left: Vec<String> = sqlx::query_scalar(
        "SELECT subject FROM mail_outbox WHERE recipient = 'old@example.org' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(mail_left, ["old-unsent", "recent-sent"]);

    // The periodic job is enqueued once per hour slot, however many workers start.
    let now = OffsetDateTime::now_utc();
    retention::schedule(pool, now).await.unwrap();
    retention::schedule(pool, now).await.unwrap();
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'retention' AND state = 'available'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(queued, 1);
}
