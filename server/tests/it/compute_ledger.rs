//! The compute ledger against the real queue, PostgreSQL, ffmpeg and server: every attempt of
//! a transcode or transcription that ends (failed ones too) is booked for its tenant, UTC day,
//! kind and resource class with its seconds; the figures outlive the retention purge of the
//! jobs; the admin page and the CSV show them, escaped, to admins only.

use crate::common;
use crate::platform_events::{clip, signed_in, upload};

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::TestApp;
use ferrotape_model::compute::{ComputeRow, DateRange, format_date};
use ferrotape_model::jobs::ResourceClass;
use ferrotape_model::{Role, TenantId};
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, ClaimedJob, NewJob};
use ferrotape_worker::encoder::EncoderCache;
use ferrotape_worker::transcode::Transcode;
use ferrotape_worker::{JobContext, JobHandler, MediaTools};
use serde_json::json;

async fn claim(pool: &PgPool, kind: &str, class: ResourceClass, worker: &str) -> ClaimedJob {
    let kinds = [kind.to_owned()];
    let lease = Duration::from_secs(600);
    let mut claimed = jobs::claim(pool, &kinds, class, 1, worker, lease, 16)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{worker} claims a {kind} job");
    claimed.remove(0)
}

/// Makes the running attempt of `job` look `secs` seconds old (as if it had been working).
async fn started_ago(pool: &PgPool, job: i64, secs: i32) {
    sqlx::query("UPDATE jobs SET attempted_at = now() - make_interval(secs => $2) WHERE id = $1")
        .bind(job)
        .bind(f64::from(secs))
        .execute(pool)
        .await
        .unwrap();
}

async fn enqueue(pool: &PgPool, tenant: TenantId, kind: &str) -> i64 {
    let job = NewJob::new(kind, json!({ "video_id": uuid::Uuid::new_v4() }));
    jobs::enqueue(pool, tenant, &job).await.unwrap().unwrap()
}

async fn today_of(pool: &PgPool, tenant: TenantId) -> Vec<ComputeRow> {
    let today = time::OffsetDateTime::now_utc().date();
    let range = DateRange {
        from: today,
        to: today,
    };
    ferrotape_store::compute_ledger::ledger(pool, tenant, range)
        .await
        .unwrap()
        .rows
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 0.45
}

#[tokio::test]
async fn attempts_are_booked_per_tenant_day_and_kind_survive_the_purge_and_reach_page_and_csv() {
    let app = TestApp::spawn().await;
    let pool = &app.pool;
    let a = TenantId::DEFAULT;
    let b = common::insert_tenant(pool, "beta").await;
    sqlx::query("UPDATE tenants SET name = $2 WHERE id = $1")
        .bind(a.0)
        .bind("Acme, \"Video\" Inc")
        .execute(pool)
        .await
        .unwrap();

    // Tenant A: a transcode whose first attempt fails after 90 s and whose second completes
    // after 30 s: one job, two attempts, 120 s — the failed attempt's compute counts.
    let transcode = enqueue(pool, a, "transcode").await;
    let first = claim(pool, "transcode", ResourceClass::Gpu, "host:1:w1").await;
    started_ago(pool, transcode, 90).await;
    let state = jobs::fail(
        pool,
        "host:1:w1",
        transcode,
        first.attempt,
        "boom",
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!(state.map(|s| s.as_str()), Some("retryable"));
    jobs::promote_due(pool).await.unwrap();
    let second = claim(pool, "transcode", ResourceClass::Gpu, "host:1:w2").await;
    assert_eq!(second.attempt, 2);
    started_ago(pool, transcode, 30).await;
    assert_eq!(
        jobs::complete(pool, "host:1:w2", &[(transcode, 2)])
            .await
            .unwrap(),
        1
    );

    // Tenant B: a transcription cancelled after 45 s on the speech class.
    let transcribe = enqueue(pool, b, "transcribe").await;
    let job = claim(pool, "transcribe", ResourceClass::Speech, "host:2:w1").await;
    started_ago(pool, transcribe, 45).await;
    jobs::mark_cancelled(pool, "host:2:w1", transcribe, job.attempt)
        .await
        .unwrap();

    // Work of kinds the ledger does not meter is not booked.
    let other = enqueue(pool, a, "uploads.cleanup").await;
    let job = claim(pool, "uploads.cleanup", ResourceClass::Cpu, "host:1:w3").await;
    started_ago(pool, other, 60).await;
    jobs::complete(pool, "host:1:w3", &[(other, job.attempt)])
        .await
        .unwrap();

    let check = |rows: Vec<ComputeRow>, kind: &str, class: &str, attempts: i64, secs: f64| {
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row.day, time::OffsetDateTime::now_utc().date());
        assert_eq!(
            (row.kind.as_str(), row.resource_class.as_str()),
            (kind, class)
        );
        assert_eq!((row.jobs, row.attempts), (1, attempts), "{row:?}");
        assert!(close(row.seconds, secs), "{row:?}");
    };
    check(today_of(pool, a).await, "transcode", "gpu", 2, 120.0);
    check(today_of(pool, b).await, "transcribe", "speech", 1, 45.0);

    // The retention job purges the finished jobs; the ledger keeps the figures.
    let purged = ferrotape_store::retention::delete_finished_jobs(
        pool,
        time::OffsetDateTime::now_utc() + time::Duration::days(1),
        100,
    )
    .await
    .unwrap();
    assert_eq!(purged, 3);
    let jobs_left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE id = ANY($1)")
        .bind(vec![transcode, transcribe, other])
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(jobs_left, 0);
    check(today_of(pool, a).await, "transcode", "gpu", 2, 120.0);
    check(today_of(pool, b).await, "transcribe", "speech", 1, 45.0);
    // And it is append-only like the events.
    let err = sqlx::query("UPDATE compute_ledger SET seconds = 0")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    // The CSV: header, one line for A's day (tenant name escaped), nothing of B's.
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin, "10.0.0.2").await;
    let today = format_date(time::OffsetDateTime::now_utc().date());
    let csv = admin
        .get(&format!(
            "/api/v1/admin/compute.csv?from={today}&to={today}"
        ))
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        csv.headers["content-disposition"],
        format!("attachment; filename=\"compute-{today}-to-{today}.csv\"").as_str()
    );
    let lines: Vec<&str> = csv.body.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{:?}", csv.body);
    assert_eq!(
        lines[0],
        "tenant,day,kind,resource_class,jobs,attempts,seconds"
    );
    let row = lines[1]
        .strip_prefix("\"Acme, \"\"Video\"\" Inc\",")
        .unwrap_or_else(|| panic!("the tenant name is quoted: {}", lines[1]));
    let fields: Vec<&str> = row.split(',').collect();
    assert_eq!(fields[..5], [today.as_str(), "transcode", "gpu", "1", "2"]);
    assert!(close(fields[5].parse().unwrap(), 120.0), "{row}");
    assert_eq!(lines[2], "");
    // Another range holds no rows; a bad one is a 400.
    let empty = admin
        .get("/api/v1/admin/compute.csv?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(
        empty.body,
        "tenant,day,kind,resource_class,jobs,attempts,seconds\r\n"
    );
    let bad = admin.get("/api/v1/admin/compute.csv?from=2026-13-01").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["code"], "invalid_range");

    // The admin page shows the day's row and the totals, and links the same CSV.
    let page = admin
        .get(&format!("/admin/compute?from={today}&to={today}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body;
    assert!(
        html.contains(&format!("Compute per day and kind, {today} to {today}")),
        "{html}"
    );
    assert!(
        html.contains(&format!("<time datetime=\"{today}\">{today}</time>")),
        "{html}"
    );
    assert!(
        html.contains("<td>transcode</td><td>gpu</td><td>1</td><td>2</td>"),
        "{html}"
    );
    assert!(html.contains("2 min 00 s"), "{html}");
    assert!(html.contains(">All compute</th>"), "{html}");
    assert!(
        html.contains(&format!(
            "href=\"/api/v1/admin/compute.csv?from={today}&amp;to={today}\""
        )),
        "{html}"
    );
    assert!(
        !html.contains("transcribe"),
        "another tenant's work is not shown: {html}"
    );
    // The range form works without JavaScript: a plain GET form.
    assert!(
        html.contains("<form method=\"get\" action=\"/admin/compute\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"/admin/compute\""),
        "linked from the admin navigation"
    );

    // Editors get the refusal, not the figures.
    let mut editor = signed_in(&app, "ed@example.com", Role::Editor, "10.0.0.1").await;
    let refused = editor
        .get(&format!("/admin/compute?from={today}&to={today}"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("2 min 00 s"));
}

#[tokio::test]
async fn a_real_transcode_is_booked_with_the_seconds_it_took() {
    let app = TestApp::spawn().await;
    let mut editor = signed_in(&app, "ed@example.com", Role::Editor, "10.0.0.1").await;
    let tmp = tempfile::tempdir().unwrap();
    let (done, video) = upload(&mut editor, "talk.mp4", &clip(tmp.path())).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    let job = claim(&app.pool, "transcode", ResourceClass::Gpu, "host:1:w1").await;
    let id = (job.id, job.attempt);
    let started = Instant::now();
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
            worker: "host:1:w1".to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(
        jobs::complete(&app.pool, "host:1:w1", &[id]).await.unwrap(),
        1
    );
    let took = started.elapsed().as_secs_f64();
    let state: String = sqlx::query_scalar("SELECT state::text FROM videos WHERE id = $1::uuid")
        .bind(&video)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "ready");

    let rows = today_of(&app.pool, TenantId::DEFAULT).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].jobs, rows[0].attempts), (1, 1));
    // Booked from the claim to the completion: at least what we measured inside that span,
    // and not much more.
    assert!(
        rows[0].seconds >= took * 0.95 && rows[0].seconds <= took + 3.0,
        "booked {} s, the attempt took {took} s",
        rows[0].seconds
    );
}
