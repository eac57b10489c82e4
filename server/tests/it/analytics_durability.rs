//! The analytics pipeline against a PostgreSQL of its own, stopped and started under it: events
//! accepted while the database is away are written when it is back, and events the database
//! cannot take before shutdown are spooled to disk and written by the next start. Nothing
//! accepted is lost.

use std::time::Duration;

use ferrotape_server::analytics::pipeline::Pipeline;
use ferrotape_server::analytics::spool::Spool;
use ferrotape_store::PgPool;
use ferrotape_store::analytics::{EventRow, ViewContext, copy_text};
use ferrotape_store::embedded::EmbeddedPostgres;
use time::OffsetDateTime;
use uuid::Uuid;

fn heartbeats(view: Uuid, count: usize) -> (String, u32) {
    let now = OffsetDateTime::now_utc();
    let rows: Vec<EventRow> = (0..count)
        .map(|i| EventRow {
            day: now.date(),
            id: Uuid::new_v4(),
            tenant: ferrotape_model::TenantId::DEFAULT.0,
            talk: Uuid::from_u128(2),
            view,
            at: now,
            received_at: now,
            kind: "heartbeat",
            position: Some(i as f64 * 10.0),
            value: Some(800_000),
            height: None,
            watched: vec![[i as f64 * 10.0, (i + 1) as f64 * 10.0]],
            fatal: None,
            detail: None,
            context: ViewContext::default(),
        })
        .collect();
    (copy_text(&rows), count as u32)
}

async fn count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM analytics_events")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_survive_a_postgres_restart_and_a_shutdown_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let cluster_dir = dir.path().join("pg");
    let spool_dir = tempfile::tempdir().unwrap();
    // The cluster's thread must outlive it (the kernel stops postgres when its parent
    // thread exits): this test's own thread starts it each time.
    let cluster = EmbeddedPostgres::start(&cluster_dir, None).unwrap();
    let port = cluster.port();
    cluster.ensure_database("ferrotape").await.unwrap();
    let pool = ferrotape_store::db::connect(cluster.connect_options("ferrotape"), 4)
        .await
        .unwrap();
    ferrotape_store::db::migrate(&pool).await.unwrap();

    let pipeline = Pipeline::start(
        pool.clone(),
        10_000,
        Spool::new(spool_dir.path().to_owned()),
    );
    let view = Uuid::new_v4();
    let (text, n) = heartbeats(view, 5);
    pipeline.offer(text, n).await.unwrap();
    wait_until("the first events are written", || pipeline.buffered() == 0).await;
    assert_eq!(count(&pool).await, 5);

    // PostgreSQL goes away (a fast shutdown, as a restart does) while viewers keep sending.
    cluster.stop().unwrap();
    let (text, n) = heartbeats(view, 7);
    pipeline
        .offer(text, n)
        .await
        .expect("accepted without the database");
    let (text, n) = heartbeats(view, 3);
    pipeline
        .offer(text, n)
        .await
        .expect("accepted without the database");
    let counters = pipeline.counters.clone();
    wait_until("a write has failed", || {
        counters
            .write_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    })
    .await;
    assert_eq!(pipeline.buffered(), 10, "held, not dropped");

    let cluster = EmbeddedPostgres::start_on_port(&cluster_dir, None, Some(port)).unwrap();
    wait_until("the held events are written", || pipeline.buffered() == 0).await;
    assert_eq!(count(&pool).await, 15);

    // Down again, and the server is stopped before it returns: the events go to the spool.
    cluster.stop().unwrap();
    let (text, n) = heartbeats(view, 4);
    pipeline.offer(text, n).await.unwrap();
    pipeline.shut_down(Duration::from_millis(500)).await;
    assert_eq!(
        pipeline
            .counters
            .spooled
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
    let (text, n) = heartbeats(view, 1);
    assert!(
        pipeline.offer(text, n).await.is_err(),
        "nothing is taken once stopping"
    );
    let spooled: Vec<_> = std::fs::read_dir(spool_dir.path()).unwrap().collect();
    assert_eq!(spooled.len(), 1, "one spool file");

    // The next start writes the spool first, then removes it.
    let cluster = EmbeddedPostgres::start_on_port(&cluster_dir, None, Some(port)).unwrap();
    let next = Pipeline::start(
        pool.clone(),
        10_000,
        Spool::new(spool_dir.path().to_owned()),
    );
    let replayed = next.counters.clone();
    wait_until("the spool is written", || {
        replayed.replayed.load(std::sync::atomic::Ordering::Relaxed) == 4
    })
    .await;
    assert_eq!(count(&pool).await, 19);
    assert_eq!(std::fs::read_dir(spool_dir.path()).unwrap().count(), 0);
    let playing: i64 = sqlx::query_scalar("SELECT playing_ms FROM analytics_views WHERE id = $1")
        .bind(view)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(playing, 19 * 10_000, "every event counted once in its view");
    next.shut_down(Duration::from_secs(5)).await;
    pool.close().await;
    cluster.stop().unwrap();
}
