//! Queue throughput: no-op jobs claimed and completed per second by the worker runtime with 1,
//! 4 and 16 concurrent handlers, next to a bare SQL loop running the same claim and complete
//! statements (`ferrotape_store::jobs::{claim, complete}`) from 16 connections.
//! Run through `bench/queue`, which starts a private PostgreSQL and sets DATABASE_URL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotape_model::jobs::ResourceClass;
use ferrotape_store::{PgPool, db, jobs};
use ferrotape_worker::runtime::run_registry;
use ferrotape_worker::{JobContext, JobFuture, JobHandler, Registry, WorkerConfig};

const KIND: &str = "bench.noop";

struct Noop(usize);

impl JobHandler for Noop {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn concurrency(&self) -> usize {
        self.0
    }
    fn run(&self, _ctx: JobContext) -> JobFuture {
        Box::pin(async { Ok(()) })
    }
}

async fn fill(pool: &PgPool, jobs: i64) {
    sqlx::query("TRUNCATE jobs").execute(pool).await.unwrap();
    sqlx::query(
        "INSERT INTO jobs (tenant_id, kind) SELECT '00000000-0000-0000-0000-000000000001', $1
         FROM generate_series(1, $2)",
    )
    .bind(KIND)
    .bind(jobs)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE jobs")
        .execute(pool)
        .await
        .unwrap();
}

/// Whether jobs are still waiting or running (two partial-index probes, so watching costs the
/// database next to nothing).
async fn unfinished(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'available')
             OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn runtime_rate(pool: &PgPool, concurrency: usize, jobs: i64) -> f64 {
    fill(pool, jobs).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(50),
        ..WorkerConfig::default()
    };
    let started = Instant::now();
    let worker = tokio::spawn(run_registry(
        pool.clone(),
        Registry::new().register(Noop(concurrency)),
        config,
        stopped,
    ));
    while unfinished(pool).await {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    worker.await.unwrap();
    let completed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'completed'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(completed, jobs, "every job completed exactly once");
    jobs as f64 / elapsed.as_secs_f64()
}

async fn bare_rate(pool: &PgPool, connections: usize, batch: i64, jobs: i64) -> f64 {
    fill(pool, jobs).await;
    let kinds = Arc::new(vec![KIND.to_owned()]);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..connections {
        let pool = pool.clone();
        let kinds = kinds.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let claimed = jobs::claim(
                    &pool,
                    &kinds,
                    ResourceClass::Cpu,
                    batch,
                    &format!("bare-{n}"),
                    Duration::from_secs(30),
                    0,
                )
                .await
                .unwrap();
                if claimed.is_empty() {
                    return;
                }
                let done: Vec<(i64, i32)> = claimed.iter().map(|j| (j.id, j.attempt)).collect();
                jobs::complete(&pool, &format!("bare-{n}"), &done)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    jobs as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (bench/queue sets it)");
    let jobs: i64 = std::env::var("QUEUE_BENCH_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let pool = db::connect(url.parse().unwrap(), 40).await.unwrap();
    db::migrate(&pool).await.unwrap();
    println!("queue_bench_jobs = {jobs}");

    // This VM's figures swing by ±30 % from run to run (autovacuum, a noisy neighbour): every
    // figure is the median of three runs, the baseline's runs interleaved with the runtime's.
    let mut bare = Vec::new();
    let mut by_concurrency: Vec<(usize, Vec<f64>)> = [1, 4, 16].map(|c| (c, Vec::new())).into();
    for _ in 0..RUNS {
        bare.push(bare_rate(&pool, 16, 10, jobs).await);
        for (concurrency, rates) in &mut by_concurrency {
            // A single handler does one job per claim round trip: a fifth of the jobs measures
            // its rate as well, in a fifth of the time.
            let count = if *concurrency == 1 { jobs / 5 } else { jobs };
            rates.push(runtime_rate(&pool, *concurrency, count).await);
        }
    }
    let bare = median(bare);
    println!("queue_bare_sql_jobs_per_s_16 = {bare:.0}");
    let mut rate_16 = 0.0;
    for (concurrency, rates) in by_concurrency {
        let rate = median(rates);
        println!("queue_jobs_per_s_{concurrency} = {rate:.0}");
        rate_16 = rate;
    }
    println!("queue_vs_bare_sql = {:.2}", rate_16 / bare);
}

const RUNS: usize = 3;

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}
