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
        Self::start_in(
            db,
            &std::env::temp_dir().join("ferrotape-fleet-test"),
            extra,
        )
    }

    /// A worker whose local media lives under `data_dir/media`.
    fn start_in(db: &TestDatabase, data_dir: &std::path::Path, extra: &[&str]) -> WorkerProcess {
        let child = Command::new(BIN)
            .env("DATABASE_URL", db.url())
            .env("FERROTAPE_LOG", "warn")
            .env("FERROTAPE_DATA_DIR", data_dir)
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

/// A worker SIGKILLed in the middle of a transcode (its ffmpeg dies with it) loses its lease;
/// another worker redoes the job and the video ends ready with exactly one set of outputs.
#[tokio::test]
async fn a_transcode_of_a_killed_worker_is_redone_and_the_video_ends_ready() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let data = tempfile::tempdir().unwrap();
    let tenant = TenantId::DEFAULT;
    let video: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO videos (tenant_id, original_name) VALUES ($1, 'long.mp4') RETURNING id",
    )
    .bind(tenant.0)
    .fetch_one(pool)
    .await
    .unwrap();
    let key = ferrotape_store::uploads::source_key(tenant, video, "mp4");
    let source = data.path().join("media").join(&key);
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
        ])
        .args([
            "-f", "lavfi", "-i", "sine", "-t", "20", "-c:v", "libx264", "-preset",
        ])
        .args(["ultrafast", "-c:a", "aac", "-shortest"])
        .arg(&source)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success());
    let probe = ferrotape_worker::probe::probe(std::path::Path::new("ffprobe"), &source)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE videos SET state = 'processing', source_key = $2, probe = $3,
                duration_ms = $4 WHERE id = $1",
    )
    .bind(video)
    .bind(&key)
    .bind(&probe.raw)
    .bind((probe.duration_secs * 1000.0) as i64)
    .execute(pool)
    .await
    .unwrap();
    jobs::enqueue(
        pool,
        tenant,
        &NewJob::new(
            ferrotape_store::uploads::TRANSCODE_JOB,
            json!({ "video_id": video }),
        ),
    )
    .await
    .unwrap();

    let mut doomed = WorkerProcess::start_in(&db, data.path(), &[]);
    wait_for(
        pool,
        "ffmpeg to report progress",
        "SELECT count(*) FROM videos WHERE progress > 0",
        Duration::from_secs(120),
    )
    .await;
    doomed.kill();

    let _survivor = WorkerProcess::start_in(&db, data.path(), &[]);
    wait_for(
        pool,
        "the video to be ready",
        "SELECT count(*) FROM videos WHERE state = 'ready'",
        Duration::from_secs(240),
    )
    .await;
    let job: (i32, i64) = sqlx::query_as(
        "SELECT attempt, cardinality(errors)::bigint FROM jobs WHERE kind = 'transcode'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(job, (2, 1), "the killed attempt and the one that finished");

    let master: String = sqlx::query_scalar("SELECT master_key FROM videos WHERE id = $1")
        .bind(video)
        .fetch_one(pool)
        .await
        .unwrap();
    let prefix = ferrotape_store::uploads::video_prefix(tenant, video);
    assert_eq!(
        master,
        format!("{prefix}/v2/hls/master.m3u8"),
        "the second attempt's own outputs"
    );
    // The switch to v2 happens before the superseded outputs are deleted: give the deletion
    // a moment instead of racing it.
    let listing = || {
        let mut stored: Vec<String> = std::fs::read_dir(data.path().join("media").join(&prefix))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        stored.sort();
        stored
    };
    let mut stored = listing();
    for _ in 0..300 {
        if stored == ["source", "v2"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = listing();
    }
    assert_eq!(
        stored,
        ["source", "v2"],
        "the killed attempt's outputs were deleted"
    );
    let hls = data.path().join("media").join(&prefix).join("v2/hls");
    let mut entries: Vec<String> = std::fs::read_dir(&hls)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["360p", "480p", "720p", "master.m3u8"],
        "one set of outputs"
    );
    let files = std::fs::read_dir(hls.join("720p")).unwrap().count();
    assert_eq!(
        files,
        2 + 4,
        "init, playlist and four segments; nothing left over"
    );
}
