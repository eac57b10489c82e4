//! The job queue as the server shows it: /admin/jobs (counts, errors, retry, cancel; admins of
//! the tenant only) and /metrics (unfinished jobs per state, events seen).

use crate::common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{PASSWORD, TestApp, insert_tenant};
use ferrotape_model::jobs::JobState;
use ferrotape_model::{Role, TenantId};
use ferrotape_store::jobs::{self, NewJob};
use ferrotape_worker::{JobContext, JobFuture, JobHandler, Registry, WorkerConfig};
use serde_json::json;

struct Fails;

impl JobHandler for Fails {
    fn kind(&self) -> &'static str {
        "test.fails"
    }
    fn run(&self, _ctx: JobContext) -> JobFuture {
        Box::pin(async { Err("the source file is <b>corrupt</b>".to_owned()) })
    }
}

struct Succeeds;

impl JobHandler for Succeeds {
    fn kind(&self) -> &'static str {
        "test.ok"
    }
    fn run(&self, _ctx: JobContext) -> JobFuture {
        Box::pin(async { Ok(()) })
    }
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn admins_see_errors_and_retry_or_cancel_jobs_of_their_tenant_only() {
    let app = TestApp::spawn().await;
    let t = TenantId::DEFAULT;
    let failing = jobs::enqueue(
        &app.pool,
        t,
        &NewJob {
            max_attempts: 1,
            ..NewJob::new("test.fails", json!({}))
        },
    )
    .await
    .unwrap()
    .unwrap();
    let waiting = jobs::enqueue(&app.pool, t, &NewJob::new("test.idle", json!({})))
        .await
        .unwrap()
        .unwrap();
    let other_tenant = insert_tenant(&app.pool, "other").await;
    let foreign = jobs::enqueue(
        &app.pool,
        other_tenant,
        &NewJob::new("test.secret", json!({})),
    )
    .await
    .unwrap()
    .unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(ferrotape_worker::runtime::run_registry(
        app.pool.clone(),
        Registry::new().register(Fails).register(Succeeds),
        WorkerConfig {
            poll_interval: Duration::from_millis(50),
            ..WorkerConfig::default()
        },
        stopped,
    ));
    until("the failing job to be discarded", async || {
        jobs::find(&app.pool, t, failing).await.unwrap().state == JobState::Discarded
    })
    .await;

    let admin_email = "admin@example.com";
    app.user(t, admin_email, Role::Admin).await;
    let mut admin = app.client("198.51.100.60");
    admin.log_in(admin_email, PASSWORD).await;
    let page = admin.get("/admin/jobs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("test.fails") && page.body.contains("test.idle"));
    assert!(
        !page.body.contains("test.secret"),
        "another tenant's jobs stay hidden"
    );
    assert!(
        page.body
            .contains("the source file is &lt;b&gt;corrupt&lt;/b&gt;"),
        "the attempt's error is shown, escaped"
    );
    let discarded_only = admin.get("/admin/jobs?state=discarded").await;
    assert!(
        discarded_only.body.contains("test.fails")
            && !discarded_only.body.contains("<td>test.idle</td>")
    );
    let bad_filter = admin
        .server_fn("admin/jobs", &[("state", "exploded")])
        .await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);

    let cancelled = admin
        .server_fn("admin/jobs/cancel", &[("job_id", &waiting.to_string())])
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(
        jobs::find(&app.pool, t, waiting).await.unwrap().state,
        JobState::Cancelled
    );
    let again = admin
        .server_fn("admin/jobs/cancel", &[("job_id", &waiting.to_string())])
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);

    let retried = admin
        .server_fn("admin/jobs/retry", &[("job_id", &failing.to_string())])
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    until("the retried job to fail again", async || {
        jobs::find(&app.pool, t, failing)
            .await
            .unwrap()
            .errors
            .len()
            == 2
    })
    .await;

    for endpoint in ["admin/jobs/cancel", "admin/jobs/retry"] {
        let response = admin
            .server_fn(endpoint, &[("job_id", &foreign.to_string())])
            .await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{endpoint}: {}",
            response.body
        );
    }
    assert_eq!(
        jobs::find(&app.pool, other_tenant, foreign)
            .await
            .unwrap()
            .state,
        JobState::Available
    );

    let viewer_email = "viewer@example.com";
    app.user(t, viewer_email, Role::Viewer).await;
    let mut viewer = app.client("198.51.100.61");
    viewer.log_in(viewer_email, PASSWORD).await;
    assert_eq!(
        viewer.get("/admin/jobs").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .server_fn("admin/jobs/retry", &[("job_id", &failing.to_string())])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let _ = stop.send(true);
    worker.await.unwrap();
}

#[tokio::test]
async fn metrics_count_jobs_by_state_and_the_events_workers_publish() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        jobs::enqueue(
            &app.pool,
            TenantId::DEFAULT,
            &NewJob::new("test.ok", json!({})),
        )
        .await
        .unwrap();
    }
    // /metrics answers direct loopback peers when no token or listener is configured.
    let mut operator = app.client("127.0.0.1");
    let before = operator.get("/metrics").await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        before
            .body
            .contains(r#"ferrotape_jobs{kind="test.ok",state="available"} 3"#),
        "{}",
        before.body
    );

    // The listener must be subscribed before the events are sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(ferrotape_worker::runtime::run_registry(
        app.pool.clone(),
        Registry::new().register(Succeeds),
        WorkerConfig {
            poll_interval: Duration::from_millis(50),
            ..WorkerConfig::default()
        },
        stopped,
    ));
    until("the completions to be counted", async || {
        app.client("127.0.0.1")
            .get("/metrics")
            .await
            .body
            .contains(r#"ferrotape_job_events_total{state="completed"} 3"#)
    })
    .await;
    let after = operator.get("/metrics").await.body;
    // Finished jobs are not counted (that would scan the table); the emptied state reads 0.
    assert!(
        after.contains(r#"ferrotape_jobs{kind="test.ok",state="available"} 0"#),
        "{after}"
    );
    let _ = stop.send(true);
    worker.await.unwrap();
}
