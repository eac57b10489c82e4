//! `ferrotape-worker` processes sharing one database: a worker killed with SIGKILL mid-job has
//! its job rescued and completed by another, and the fleet-wide GPU cap holds across processes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, NewJob};
use ferrotape_store::test_support::TestDatabase;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_ferrotape-worker");

struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(db: &TestDatabase, extra: &[&str]) -> WorkerProcess {
        let child = Command::new(BIN)
            .env("DATABASE_URL", db.url())
            .env("FERROTAPE_LOG", "warn")
            // Local media storage for the transcode kind, outside the source tree.
            .env(
                "FERROTAPE_DATA_DIR",
                std::env::temp_dir().join("ferrotape-fleet-test"),
            )
            .args([
                "--job-lease-secs",
                "3",
                "--poll-interval-ms",
                "100",
                "--retry-base-secs",
                "0.1",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        WorkerProcess(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL: no chance to release anything
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn wait_for(pool: &PgPool, what: &str, sql: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while scalar(pool, sql).await == 0 {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_job_of_a_killed_worker_is_rescued_and_completed_once_by_another() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let id = jobs::enqueue(
        pool,
        TenantId::DEFAULT,
        &NewJob::new("diagnostic.sleep", json!({ "ms": 1500 })),
    )
    .await
    .unwrap()
    .unwrap();

    let mut doomed = WorkerProcess::start(&db, &[]);
    wait_for(
        pool,
        "the first worker to run the job",
        "SELECT count(*) FROM jobs WHERE state = 'running' AND kind LIKE 'diagnostic.%'",
        Duration::from_secs(20),
    )
    .await;
    doomed.kill();

    let _survivor = WorkerProcess::start(&db, &[]);
    wait_for(
        pool,
        "the job to complete",
        "SELECT count(*) FROM jobs WHERE state = 'completed' AND kind LIKE 'diagnostic.%'",
        Duration::from_secs(30),
    )
    .await;

    let job = jobs::find(pool, TenantId::DEFAULT, id).await.unwrap();
    assert_eq!(job.attempt, 2, "killed attempt + the one that completed");
    assert_eq!(job.attempted_by.len(), 2);
    assert_ne!(
        job.attempted_by[0], job.attempted_by[1],
        "another worker finished it"
    );
    assert_eq!(job.errors.len(), 1, "{:?}", job.errors);
    assert!(
        job.errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("stopped renewing its lease"),
        "{:?}",
        job.errors
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT count(*) FROM jobs WHERE kind LIKE 'diagnostic.%'"
        )
        .await,
        1,
        "one job, one completed record"
    );
}

#[tokio::test]
async fn the_fleet_wide_gpu_cap_holds_across_worker_processes() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    // Each worker could run 2 at once (4 together); the fleet cap says 3.
    let settings = ["--gpu-slots", "2", "--gpu-fleet-cap", "3"];
    let _a = WorkerProcess::start(&db, &settings);
    let _b = WorkerProcess::start(&db, &settings);
    // Both up (listening) before any job exists: on a busy machine one could otherwise start
    // after the other has done most of the work, and the cap would never be reached.
    wait_for(
        pool,
        "both workers to listen",
        "SELECT (count(*) >= 2)::int::bigint FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        Duration::from_secs(30),
    )
    .await;
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..9 {
        jobs::enqueue(
            &mut *tx,
            TenantId::DEFAULT,
            &NewJob::new("diagnostic.gpu_sleep", json!({ "ms": 700 })),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut most = 0;
    loop {
        let running = scalar(
            pool,
            "SELECT count(*) FROM jobs WHERE state = 'running' AND resource_class = 'gpu'",
        )
        .await;
        most = most.max(running);
        assert!(running <= 3, "{running} GPU jobs ran at once");
        if scalar(
            pool,
            "SELECT count(*) FROM jobs WHERE state <> 'completed' AND kind LIKE 'diagnostic.%'",
        )
        .await
            == 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "the GPU jobs did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(most, 3, "the cap was reached, not just respected");
    let workers = scalar(
        pool,
        "SELECT count(DISTINCT split_part(attempted_by[1], ':', 2)) FROM jobs WHERE kind LIKE 'diagnostic.%'",
    )
    .await;
    assert_eq!(workers, 2, "both workers took GPU jobs");
}
