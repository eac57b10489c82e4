//! The worker runtime: one claim loop per job kind, each bounded by the kind's concurrency (and
//! GPU kinds by the worker's GPU semaphore and the fleet-wide cap), woken by LISTEN/NOTIFY and a
//! poll timer; a heartbeat per running job; completions written in batches; a maintenance loop
//! that promotes due jobs and rescues expired leases; graceful shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrotape_model::jobs::{JobState, ResourceClass};
use ferrotape_store::PgPool;
use ferrotape_store::jobs::{self, ClaimedJob};
use sqlx::postgres::{PgListener, PgPoolOptions};
use time::OffsetDateTime;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::WorkerIdentity;
use crate::config::WorkerConfig;
use crate::handler::{JobContext, JobHandler, Registry};
use crate::retry::unit_random;

/// A kind gets one claim loop per this many concurrent jobs.
const JOBS_PER_CLAIMER: usize = 8;

/// After a full claim, the longest the next claim waits for its share of slots to free up.
const FETCH_COOLDOWN: Duration = Duration::from_millis(2);

/// How a finished attempt ended, as seen by the runtime.
enum Outcome {
    Completed,
    Failed(String),
    Cancelled,
    /// Our lease was lost (the job was rescued and may run elsewhere): write nothing.
    LeaseLost,
    /// Shutdown came before the job finished: give it back.
    Interrupted,
}

struct Shared {
    pool: PgPool,
    /// Claims (and completions) commit asynchronously; see [`queue_pool`].
    queue_pool: PgPool,
    config: WorkerConfig,
    worker_id: String,
    gpu_slots: Arc<Semaphore>,
    completions: mpsc::UnboundedSender<(i64, i32)>,
}

/// Runs the registered handlers until `shutdown` turns true, then finishes or releases the
/// running jobs.
pub async fn run_registry(
    pool: PgPool,
    registry: Registry,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let identity = WorkerIdentity::current();
    let worker_id = format!("{identity}:{:04x}", (unit_random() * 65536.0) as u32);
    tracing::info!(worker = %worker_id, kinds = ?registry.kinds(), gpu_slots = config.gpu_slots, "worker started");

    let (completions_tx, completions_rx) = mpsc::unbounded_channel();
    let claimers: usize = registry
        .handlers()
        .map(|handler| handler.concurrency().max(1).div_ceil(JOBS_PER_CLAIMER))
        .sum();
    let queue_pool = queue_pool(&pool, claimers as u32 + 1);
    let shared = Arc::new(Shared {
        pool: pool.clone(),
        queue_pool: queue_pool.clone(),
        gpu_slots: Arc::new(Semaphore::new(config.gpu_slots)),
        config: config.clone(),
        worker_id: worker_id.clone(),
        completions: completions_tx,
    });
    let completer = tokio::spawn(complete_in_batches(
        queue_pool.clone(),
        worker_id.clone(),
        completions_rx,
    ));

    let wakers: HashMap<&'static str, Arc<Notify>> = registry
        .kinds()
        .into_iter()
        .map(|kind| (kind, Arc::new(Notify::new())))
        .collect();
    let mut loops = JoinSet::new();
    for handler in registry.handlers() {
        let concurrency = handler.concurrency().max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let claimers = concurrency.div_ceil(JOBS_PER_CLAIMER);
        for _ in 0..claimers {
            loops.spawn(claim_loop(
                shared.clone(),
                handler.clone(),
                slots.clone(),
                concurrency.div_ceil(claimers),
                wakers[handler.kind()].clone(),
                shutdown.clone(),
            ));
        }
    }
    if !config.poll_only {
        loops.spawn(listen(pool.clone(), wakers.clone(), shutdown.clone()));
    }
    loops.spawn(maintenance(
        pool.clone(),
        config.clone(),
        wakers,
        shutdown.clone(),
    ));

    stopped(&mut shutdown).await;
    while loops.join_next().await.is_some() {}
    drop(shared);
    let _ = completer.await;
    tracing::info!(worker = %worker_id, "worker stopped");
}

/// Claims jobs of one kind whenever there is room, and runs each in its own task. A kind with
/// a high concurrency gets several of these loops sharing its `slots`, so one claim can be in
/// flight while another loop's jobs run (claims are commit-latency bound).
async fn claim_loop(
    shared: Arc<Shared>,
    handler: Arc<dyn JobHandler>,
    slots: Arc<Semaphore>,
    share: usize,
    waker: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let kind = handler.kind();
    let class = handler.resource_class();
    let kinds = vec![kind.to_owned()];
    let mut running = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        // Permits first, then the claim: a job is only ever claimed with a slot to run in.
        let mut grants: Vec<[Option<OwnedSemaphorePermit>; 2]> = take_permits(&slots, share)
            .into_iter()
            .map(|permit| [Some(permit), None])
            .collect();
        if class == ResourceClass::Gpu {
            let gpu = take_permits(&shared.gpu_slots, grants.len());
            grants.truncate(gpu.len());
            for (grant, permit) in grants.iter_mut().zip(gpu) {
                grant[1] = Some(permit);
            }
        }
        let room = grants.len();
        let mut claimed_all = false;
        if room > 0 {
            match jobs::claim(
                &shared.queue_pool,
                &kinds,
                class,
                room as i64,
                &shared.worker_id,
                shared.config.lease,
                shared.config.gpu_fleet_cap,
            )
            .await
            {
                Ok(batch) => {
                    claimed_all = batch.len() == room;
                    // Unused grants drop here, giving their permits back.
                    for (job, grant) in batch.into_iter().zip(grants) {
                        running.spawn(run_one(
                            shared.clone(),
                            handler.clone(),
                            job,
                            grant,
                            shutdown.clone(),
                        ));
                    }
                }
                Err(err) => tracing::error!(%err, kind, "claiming jobs failed; retrying"),
            }
        }
        // Reap finished tasks so the set does not grow.
        while running.try_join_next().is_some() {}
        if claimed_all {
            // More may be waiting. Claim again once this loop's share of slots is free, or
            // after a short cooldown: short jobs then come in full batches (one statement for
            // many jobs) while long jobs wait at most the cooldown for their next claim.
            let refill = share;
            let cooldown = tokio::time::sleep(FETCH_COOLDOWN);
            tokio::pin!(cooldown);
            loop {
                tokio::select! {
                    Some(_) = running.join_next() => {
                        if slots.available_permits() >= refill {
                            break;
                        }
                    }
                    () = &mut cooldown => break,
                    () = stopped(&mut shutdown) => break,
                }
            }
            continue;
        }
        tokio::select! {
            () = waker.notified() => {}
            () = tokio::time::sleep(shared.config.poll_interval) => {}
            Some(_) = running.join_next(), if room == 0 => {}
            () = stopped(&mut shutdown) => break,
        }
    }
    // Shutdown: running jobs get the grace period, then are released (see run_one).
    while running.join_next().await.is_some() {}
}

/// Up to `want` permits, without waiting.
fn take_permits(semaphore: &Arc<Semaphore>, want: usize) -> Vec<OwnedSemaphorePermit> {
    (0..want)
        .map_while(|_| semaphore.clone().try_acquire_owned().ok())
        .collect()
}

/// Runs one attempt with a heartbeat, and records how it ended.
async fn run_one(
    shared: Arc<Shared>,
    handler: Arc<dyn JobHandler>,
    job: ClaimedJob,
    _slots: [Option<OwnedSemaphorePermit>; 2],
    mut shutdown: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempt, worker = %shared.worker_id);
    async move {
        let (id, attempt, kind) = (job.id, job.attempt, job.kind.clone());
        let started = std::time::Instant::now();
        let mut task = tokio::spawn(handler.run(JobContext {
            job: job.clone(),
            pool: shared.pool.clone(),
            worker: shared.worker_id.clone(),
        }));
        let mut heartbeat = tokio::time::interval(shared.config.lease / 3);
        heartbeat.tick().await;
        let mut grace_deadline: Option<tokio::time::Instant> = None;
        let outcome = loop {
            let grace = async {
                match grace_deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                joined = &mut task => break match joined {
                    Ok(Ok(())) => Outcome::Completed,
                    Ok(Err(message)) => Outcome::Failed(message),
                    Err(err) if err.is_panic() => Outcome::Failed(format!("the job panicked: {}", panic_message(err.into_panic()))),
                    Err(err) => Outcome::Failed(format!("the job task ended abnormally: {err}")),
                },
                _ = heartbeat.tick() => match jobs::heartbeat(&shared.pool, &shared.worker_id, id, attempt, shared.config.lease).await {
                    Ok(Some(false)) => {}
                    Ok(Some(true)) => { task.abort(); break Outcome::Cancelled; }
                    Ok(None) => { task.abort(); break Outcome::LeaseLost; }
                    Err(err) => tracing::warn!(%err, "heartbeat failed; the lease may run out"),
                },
                () = stopped(&mut shutdown), if grace_deadline.is_none() => {
                    grace_deadline = Some(tokio::time::Instant::now() + shared.config.shutdown_grace);
                }
                () = grace => { task.abort(); break Outcome::Interrupted; }
            }
        };
        observe(&kind, &outcome, started.elapsed());
        record(&shared, id, attempt, &kind, outcome).await;
    }
    .instrument(span)
    .await
}

/// Job duration and outcome per kind (`ferrotape_job_duration_seconds`, a histogram; the
/// transcode's is `kind="transcode"`), through the `metrics` facade: the server's recorder
/// exports them at /metrics, a standalone worker without one drops them.
fn observe(kind: &str, outcome: &Outcome, took: std::time::Duration) {
    let outcome = match outcome {
        Outcome::Completed => "completed",
        Outcome::Failed(_) => "failed",
        Outcome::Cancelled => "cancelled",
        Outcome::LeaseLost => "lease_lost",
        Outcome::Interrupted => "interrupted",
    };
    metrics::histogram!(
        "ferrotape_job_duration_seconds",
        "kind" => kind.to_owned(),
        "outcome" => outcome,
    )
    .record(took.as_secs_f64());
}

async fn record(shared: &Shared, id: i64, attempt: i32, kind: &str, outcome: Outcome) {
    let pool = &shared.pool;
    let result = match outcome {
        Outcome::Completed => {
            let _ = shared.completions.send((id, attempt));
            Ok(())
        }
        Outcome::Failed(message) => {
            let delay = shared.config.retry.delay(attempt, unit_random());
            let retry_at = OffsetDateTime::now_utc() + delay;
            match jobs::fail(pool, &shared.worker_id, id, attempt, &message, retry_at).await {
                Ok(Some(state)) => {
                    tracing::warn!(error = %message, next = state.as_str(), ?delay, "job failed");
                    jobs::publish_event(pool, id, kind, state).await
                }
                Ok(None) => Ok(()),
                Err(err) => Err(err),
            }
        }
        Outcome::Cancelled => {
            tracing::info!("job cancelled while running");
            match jobs::mark_cancelled(pool, &shared.worker_id, id, attempt).await {
                Ok(()) => jobs::publish_event(pool, id, kind, JobState::Cancelled).await,
                Err(err) => Err(err),
            }
        }
        Outcome::LeaseLost => {
            tracing::warn!("the job's lease was lost (rescued elsewhere); its result is dropped");
            Ok(())
        }
        Outcome::Interrupted => {
            tracing::info!("shutdown: the job is given back to the queue");
            jobs::release(pool, &shared.worker_id, id, attempt).await
        }
    };
    if let Err(err) = result {
        tracing::error!(%err, "cannot record the job's outcome; its lease will expire and it will be rescued");
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Connections for claims and completions, committing with `synchronous_commit = off`: they do
/// not wait for their WAL flush, which is most of a claim's round trip. This is safe because
/// only a crash of PostgreSQL itself can lose such a commit (the last fraction of a second of
/// them), and both losses end in a job running again, never in a lost job:
/// - a lost completion leaves the job `running` under its claim; it is rescued after its lease.
/// - a lost claim makes the job available again. Another worker may claim the same attempt
///   number, so every later write also names the worker (`attempted_by`'s last entry): the
///   first worker's next heartbeat finds the attempt is no longer its own and stops the job,
///   just as when a lease runs out.
///
/// A claim also becomes durable with the next synchronous commit on the server, e.g. the first
/// write of the job's handler. Enqueues, heartbeats, failures, cancellations and everything a
/// handler writes keep full durability.
fn queue_pool(pool: &PgPool, connections: u32) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("synchronous_commit", "off")]);
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options)
}

/// Writes completions in batches: whatever has arrived since the last write, in one statement
/// that also announces them to listeners.
async fn complete_in_batches(
    pool: PgPool,
    worker_id: String,
    mut done: mpsc::UnboundedReceiver<(i64, i32)>,
) {
    let mut batch = Vec::with_capacity(256);
    while done.recv_many(&mut batch, jobs::MAX_COMPLETION_BATCH).await > 0 {
        if let Err(err) = jobs::complete(&pool, &worker_id, &batch).await {
            tracing::error!(%err, jobs = batch.len(), "cannot mark jobs completed; they will be rescued and run again");
        }
        batch.clear();
    }
}

/// LISTENs for enqueued kinds and wakes their claim loops. Polling covers any gap.
async fn listen(
    pool: PgPool,
    wakers: HashMap<&'static str, Arc<Notify>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut listener = match PgListener::connect_with(&pool).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(%err, "cannot LISTEN for new jobs; polling only");
            return;
        }
    };
    if let Err(err) = listener.listen(jobs::JOBS_CHANNEL).await {
        tracing::warn!(%err, "cannot LISTEN for new jobs; polling only");
        return;
    }
    loop {
        tokio::select! {
            received = listener.recv() => match received {
                Ok(notification) => {
                    if let Some(waker) = wakers.get(notification.payload()) {
                        waker.notify_one();
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "LISTEN connection lost; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            () = stopped(&mut shutdown) => return,
        }
    }
}

/// Promotes due scheduled/retryable jobs and rescues expired leases, then wakes the claimers.
async fn maintenance(
    pool: PgPool,
    config: WorkerConfig,
    wakers: HashMap<&'static str, Arc<Notify>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = config.poll_interval.min(config.lease / 2);
    loop {
        let rescued = jobs::rescue_expired(&pool, config.retry.base).await;
        let promoted = jobs::promote_due(&pool).await;
        match (rescued, promoted) {
            (Ok(rescued), Ok(promoted)) => {
                if rescued > 0 {
                    tracing::warn!(
                        rescued,
                        "returned jobs whose worker stopped renewing their lease"
                    );
                }
                if promoted > 0 {
                    wakers.values().for_each(|w| w.notify_one());
                }
            }
            (Err(err), _) | (_, Err(err)) => tracing::error!(%err, "queue maintenance failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
}

/// Resolves once shutdown was requested (the watch guard is dropped here: it is not `Send`).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
