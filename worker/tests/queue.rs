//! The queue and the runtime against a real PostgreSQL, in one process: exactly-once
//! completion across workers, retries with back-off ending in `discarded`, panics, unique jobs,
//! cancellation, transactional enqueue, scheduling, graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_model::jobs::JobState;
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, NewJob};
use ferrotape_store::test_support::TestDatabase;
use ferrotape_worker::retry::RetryPolicy;
use ferrotape_worker::runtime::run_registry;
use ferrotape_worker::{JobContext, JobFuture, JobHandler, Registry, WorkerConfig};
use serde_json::json;
use tokio::sync::watch;

const T: TenantId = TenantId::DEFAULT;

fn fast_config() -> WorkerConfig {
    WorkerConfig {
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(50),
        retry: RetryPolicy {
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
        },
        shutdown_grace: Duration::from_millis(300),
        ..WorkerConfig::default()
    }
}

/// A running worker; stopped (gracefully) on drop of the sender or with `stop`.
struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    fn start(pool: &PgPool, registry: Registry, config: WorkerConfig) -> Worker {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_registry(pool.clone(), registry, config, stopped));
        Worker { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
    }
}

/// Records each run in `job_runs` (a table of the test's own).
struct Record;

impl JobHandler for Record {
    fn kind(&self) -> &'static str {
        "test.record"
    }
    fn concurrency(&self) -> usize {
        8
    }
    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(async move {
            sqlx::query("INSERT INTO job_runs (job_id, attempt) VALUES ($1, $2)")
                .bind(ctx.job.id)
                .bind(ctx.job.attempt)
                .execute(&ctx.pool)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        })
    }
}

struct AlwaysFails;

impl JobHandler for AlwaysFails {
    fn kind(&self) -> &'static str {
        "test.fails"
    }
    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(async move { Err(format!("boom on attempt {}", ctx.job.attempt)) })
    }
}

struct Panics;

impl JobHandler for Panics {
    fn kind(&self) -> &'static str {
        "test.panics"
    }
    fn run(&self, _ctx: JobContext) -> JobFuture {
        Box::pin(async move { panic!("the handler exploded") })
    }
}

/// Sleeps `{"ms"}` and counts how many runs started.
struct Sleeps(Arc<AtomicUsize>);

impl JobHandler for Sleeps {
    fn kind(&self) -> &'static str {
        "test.sleeps"
    }
    fn run(&self, ctx: JobContext) -> JobFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let ms = ctx.job.payload["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        })
    }
}

async fn enqueue(pool: &PgPool, job: NewJob<'_>) -> i64 {
    jobs::enqueue(pool, T, &job).await.unwrap().unwrap()
}

async fn state_of(pool: &PgPool, id: i64) -> jobs::JobRecord {
    jobs::find(pool, T, id).await.unwrap()
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_job_completes_exactly_once_across_competing_workers() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    sqlx::query("CREATE TABLE job_runs (job_id bigint NOT NULL, attempt int NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
    const JOBS: i64 = 600;
    let mut tx = pool.begin().await.unwrap();
    for n in 0..JOBS {
        jobs::enqueue(&mut *tx, T, &NewJob::new("test.record", json!({ "n": n })))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let workers: Vec<Worker> = (0..4)
        .map(|_| Worker::start(pool, Registry::new().register(Record), fast_config()))
        .collect();
    wait_until("every job completed", Duration::from_secs(60), || async {
        count(pool, "SELECT count(*) FROM jobs WHERE state = 'completed'").await == JOBS
    })
    .await;
    for worker in workers {
        worker.stop().await;
    }
    assert_eq!(count(pool, "SELECT count(*) FROM job_runs").await, JOBS);
    assert_eq!(
        count(pool, "SELECT count(DISTINCT job_id) FROM job_runs").await,
        JOBS
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM jobs WHERE attempt <> 1 OR finalized_at IS NULL"
        )
        .await,
        0
    );
    let participating = count(pool, "SELECT count(DISTINCT attempted_by[1]) FROM jobs").await;
    assert!(
        participating >= 2,
        "only {participating} worker(s) took part"
    );
}

#[tokio::test]
async fn failures_back_off_and_end_discarded_with_every_error_kept() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let id = enqueue(
        pool,
        NewJob {
            max_attempts: 3,
            ..NewJob::new("test.fails", json!({}))
        },
    )
    .await;
    let worker = Worker::start(pool, Registry::new().register(AlwaysFails), fast_config());
    wait_until(
        "the job to be discarded",
        Duration::from_secs(20),
        || async { state_of(pool, id).await.state == JobState::Discarded },
    )
    .await;
    worker.stop().await;

    let job = state_of(pool, id).await;
    assert_eq!(job.attempt, 3);
    assert!(job.finalized_at.is_some());
    assert_eq!(job.errors.len(), 3, "{:?}", job.errors);
    for (n, error) in job.errors.iter().enumerate() {
        assert_eq!(error["attempt"], n as i64 + 1);
        assert_eq!(error["error"], format!("boom on attempt {}", n + 1));
    }
    // The waits grow: the second retry waited at least the first one's minimum doubled.
    let at = |n: usize| {
        time::OffsetDateTime::parse(
            job.errors[n]["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let first_wait = at(1) - at(0);
    let second_wait = at(2) - at(1);
    assert!(
        first_wait >= time::Duration::milliseconds(100),
        "{first_wait}"
    );
    assert!(
        second_wait >= time::Duration::milliseconds(200),
        "{second_wait}"
    );

    // An admin retry gives it one more attempt.
    jobs::retry(pool, T, id).await.unwrap();
    assert_eq!(state_of(pool, id).await.state, JobState::Available);
    assert!(
        jobs::retry(pool, T, id).await.is_err(),
        "only finished jobs can be retried"
    );
}

#[tokio::test]
async fn a_panic_is_an_attempt_error_not_a_dead_worker() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let panicking = enqueue(
        pool,
        NewJob {
            max_attempts: 1,
            ..NewJob::new("test.panics", json!({}))
        },
    )
    .await;
    let fine = enqueue(pool, NewJob::new("test.sleeps", json!({ "ms": 1 }))).await;
    let worker = Worker::start(
        pool,
        Registry::new()
            .register(Panics)
            .register(Sleeps(Arc::default())),
        fast_config(),
    );
    wait_until("both jobs finished", Duration::from_secs(20), || async {
        state_of(pool, panicking).await.state == JobState::Discarded
            && state_of(pool, fine).await.state == JobState::Completed
    })
    .await;
    worker.stop().await;
    let job = state_of(pool, panicking).await;
    assert_eq!(
        job.errors[0]["error"],
        "the job panicked: the handler exploded"
    );
}

#[tokio::test]
async fn unique_jobs_are_deduplicated_until_they_finish() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let job = || NewJob {
        unique_key: Some("video-42"),
        ..NewJob::new("test.sleeps", json!({ "ms": 1 }))
    };
    let first = jobs::enqueue(pool, T, &job()).await.unwrap();
    assert!(first.is_some());
    assert_eq!(jobs::enqueue(pool, T, &job()).await.unwrap(), None);
    let other_key = NewJob {
        unique_key: Some("video-43"),
        ..job()
    };
    assert!(jobs::enqueue(pool, T, &other_key).await.unwrap().is_some());

    let worker = Worker::start(
        pool,
        Registry::new().register(Sleeps(Arc::default())),
        fast_config(),
    );
    wait_until(
        "the first job to complete",
        Duration::from_secs(20),
        || async { state_of(pool, first.unwrap()).await.state == JobState::Completed },
    )
    .await;
    worker.stop().await;
    assert!(
        jobs::enqueue(pool, T, &job()).await.unwrap().is_some(),
        "a finished job no longer blocks its key"
    );
}

#[tokio::test]
async fn cancelled_jobs_never_run_or_stop_while_running() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let started = Arc::new(AtomicUsize::new(0));
    let waiting = enqueue(
        pool,
        NewJob {
            run_at: Some(time::OffsetDateTime::now_utc() + time::Duration::seconds(1)),
            ..NewJob::new("test.sleeps", json!({ "ms": 1 }))
        },
    )
    .await;
    assert_eq!(state_of(pool, waiting).await.state, JobState::Scheduled);
    assert_eq!(
        jobs::cancel(pool, T, waiting).await.unwrap(),
        JobState::Cancelled
    );

    let long = enqueue(pool, NewJob::new("test.sleeps", json!({ "ms": 60_000 }))).await;
    let worker = Worker::start(
        pool,
        Registry::new().register(Sleeps(started.clone())),
        fast_config(),
    );
    wait_until("the long job to run", Duration::from_secs(10), || async {
        state_of(pool, long).await.state == JobState::Running
    })
    .await;
    assert_eq!(
        jobs::cancel(pool, T, long).await.unwrap(),
        JobState::Running
    );
    // The worker notices at its next heartbeat (every lease/3 = 1 s).
    wait_until(
        "the running job to be cancelled",
        Duration::from_secs(5),
        || async { state_of(pool, long).await.state == JobState::Cancelled },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    worker.stop().await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the scheduled job never ran"
    );
    assert_eq!(state_of(pool, waiting).await.state, JobState::Cancelled);
    assert!(
        jobs::cancel(pool, T, long).await.is_err(),
        "finished jobs cannot be cancelled"
    );
    // Another tenant's job is not found.
    assert!(matches!(
        jobs::cancel(pool, TenantId(uuid::Uuid::from_u128(99)), long).await,
        Err(ferrotape_store::StoreError::NotFound)
    ));
}

#[tokio::test]
async fn an_enqueue_rolled_back_with_its_transaction_leaves_no_job() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let mut tx = pool.begin().await.unwrap();
    jobs::enqueue(&mut *tx, T, &NewJob::new("test.sleeps", json!({})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(pool, "SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn shutdown_gives_unfinished_jobs_back_without_spending_an_attempt() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let id = enqueue(pool, NewJob::new("test.sleeps", json!({ "ms": 60_000 }))).await;
    let worker = Worker::start(
        pool,
        Registry::new().register(Sleeps(Arc::default())),
        fast_config(),
    );
    wait_until("the job to run", Duration::from_secs(10), || async {
        state_of(pool, id).await.state == JobState::Running
    })
    .await;
    let stopping = Instant::now();
    worker.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopping.elapsed()
    );
    let job = state_of(pool, id).await;
    assert_eq!(job.state, JobState::Available);
    assert_eq!(job.attempt, 0);
}

#[tokio::test]
async fn higher_priority_jobs_are_claimed_first() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let low = enqueue(
        pool,
        NewJob {
            priority: 4,
            ..NewJob::new("test.sleeps", json!({}))
        },
    )
    .await;
    let high = enqueue(
        pool,
        NewJob {
            priority: 0,
            ..NewJob::new("test.sleeps", json!({}))
        },
    )
    .await;
    let claimed = jobs::claim(
        pool,
        &["test.sleeps".to_owned()],
        ferrotape_model::jobs::ResourceClass::Cpu,
        1,
        "test",
        Duration::from_secs(30),
        0,
    )
    .await
    .unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [high]);
    assert_ne!(high, low);
}

#[tokio::test]
async fn a_burst_of_enqueues_wakes_workers_with_one_notification_per_kind() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let mut listener = sqlx::postgres::PgListener::connect_with(pool)
        .await
        .unwrap();
    listener.listen(jobs::JOBS_CHANNEL).await.unwrap();
    let notifier = jobs::JobNotifier::spawn(pool.clone());
    let kind = |n: usize| {
        if n.is_multiple_of(2) {
            "test.a"
        } else {
            "test.b"
        }
    };
    let mut tx = pool.begin().await.unwrap();
    for n in 0..50 {
        jobs::enqueue(&mut *tx, T, &NewJob::new(kind(n), json!({})))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    for n in 0..50 {
        notifier.enqueued(kind(n));
    }
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while let Ok(Ok(notification)) = tokio::time::timeout_at(deadline.into(), listener.recv()).await
    {
        received.push(notification.payload().to_owned());
    }
    received.sort();
    assert_eq!(
        received,
        ["test.a", "test.b"],
        "50 enqueues, one notification per kind"
    );
}

/// Claims commit asynchronously, so a crash of PostgreSQL may forget one: the job becomes
/// available again and another worker claims the same attempt number. The first worker must
/// then be unable to extend, complete, fail or release it.
#[tokio::test]
async fn a_forgotten_claim_fences_out_its_first_worker() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let id = enqueue(pool, NewJob::new("test.sleeps", json!({}))).await;
    let kinds = ["test.sleeps".to_owned()];
    let claim = |worker: &'static str| {
        jobs::claim(
            pool,
            &kinds,
            ferrotape_model::jobs::ResourceClass::Cpu,
            1,
            worker,
            Duration::from_secs(30),
            0,
        )
    };
    let first = claim("worker-a").await.unwrap();
    assert_eq!(first[0].attempt, 1);
    // What a lost (never flushed) claim looks like after PostgreSQL restarts.
    sqlx::query(
        "UPDATE jobs SET state = 'available', attempt = 0, attempted_at = NULL,
                attempted_by = '{}', lease_until = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    let second = claim("worker-b").await.unwrap();
    assert_eq!((second[0].id, second[0].attempt), (id, 1));

    let lease = Duration::from_secs(30);
    assert_eq!(
        jobs::heartbeat(pool, "worker-a", id, 1, lease)
            .await
            .unwrap(),
        None,
        "the first worker learns its lease is gone"
    );
    assert_eq!(
        jobs::complete(pool, "worker-a", &[(id, 1)]).await.unwrap(),
        0
    );
    let retry_at = time::OffsetDateTime::now_utc();
    assert_eq!(
        jobs::fail(pool, "worker-a", id, 1, "boom", retry_at)
            .await
            .unwrap(),
        None
    );
    jobs::release(pool, "worker-a", id, 1).await.unwrap();
    jobs::mark_cancelled(pool, "worker-a", id, 1).await.unwrap();
    let job = state_of(pool, id).await;
    assert_eq!((job.state, job.attempt), (JobState::Running, 1));

    assert_eq!(
        jobs::heartbeat(pool, "worker-b", id, 1, lease)
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(
        jobs::complete(pool, "worker-b", &[(id, 1)]).await.unwrap(),
        1
    );
    assert_eq!(state_of(pool, id).await.state, JobState::Completed);
}
