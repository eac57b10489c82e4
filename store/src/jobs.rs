//! The job queue: enqueue inside the caller's transaction, claim with one `FOR UPDATE SKIP
//! LOCKED` statement, complete in batches, heartbeat, fail with every error kept, rescue expired
//! leases, cancel and retry. The worker runtime (`ferrotape-worker`) drives these.
//!
//! Every update of a claimed job names the attempt it belongs to and the worker that claimed it,
//! so a worker that lost its lease (and whose job another worker has claimed since) can never
//! complete, fail or extend it.

use std::time::Duration;

use ferrotape_model::TenantId;
use ferrotape_model::jobs::{JobState, ResourceClass};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;

use crate::StoreError;

/// The channel workers LISTEN on; the payload is the job kind.
pub const JOBS_CHANNEL: &str = "ferrotape_jobs";
/// State changes of jobs, for whoever shows progress (`{"id", "kind", "state"}`).
pub const JOB_EVENTS_CHANNEL: &str = "ferrotape_job_events";

#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: Value,
    /// 0 (first) to 4.
    pub priority: i16,
    pub max_attempts: i32,
    /// Later than now: the job waits as `scheduled`.
    pub run_at: Option<OffsetDateTime>,
    /// While an unfinished job of the same kind has this key, enqueueing again does nothing.
    pub unique_key: Option<&'a str>,
}

impl<'a> NewJob<'a> {
    pub fn new(kind: &'a str, payload: Value) -> NewJob<'a> {
        NewJob {
            kind,
            payload,
            priority: 2,
            max_attempts: 5,
            run_at: None,
            unique_key: None,
        }
    }
}

/// Adds a job; `None` when an unfinished job with the same kind and unique key exists. Use the
/// caller's transaction so the job exists exactly when the caller's change does; call
/// [`notify_enqueued`] after the commit to wake workers at once.
pub async fn enqueue<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    job: &NewJob<'_>,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar!(
        r#"INSERT INTO jobs (tenant_id, kind, payload, priority, max_attempts, run_at, state,
                             unique_key)
           VALUES ($1, $2, $3, $4, $5, coalesce($6, now()),
                   CASE WHEN $6 > now() THEN 'scheduled'::job_state ELSE 'available'::job_state END,
                   $7)
           ON CONFLICT (kind, unique_key)
               WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled')
               DO NOTHING
           RETURNING id"#,
        tenant.0,
        job.kind,
        job.payload,
        job.priority,
        job.max_attempts,
        job.run_at,
        job.unique_key,
    )
    .fetch_optional(db)
    .await
    .map_err(|e| StoreError::from_write(e, "the job"))
}

/// Wakes listening workers for these kinds (after the enqueueing transaction committed).
pub async fn notify_enqueued(pool: &PgPool, kinds: &[&str]) -> Result<(), StoreError> {
    for kind in kinds {
        sqlx::query!("SELECT pg_notify($1, $2)", JOBS_CHANNEL, *kind)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Wakes workers after enqueues, debounced: kinds enqueued within a few milliseconds of each
/// other share one NOTIFY per kind, so a burst of enqueues costs one round trip, not hundreds.
/// Call [`JobNotifier::enqueued`] after the enqueueing transaction committed.
#[derive(Clone)]
pub struct JobNotifier {
    kinds: tokio::sync::mpsc::UnboundedSender<String>,
}

impl JobNotifier {
    /// How long a notification waits for others to join it.
    pub const WINDOW: Duration = Duration::from_millis(10);

    /// Starts the notifier's task on the current runtime; it ends when every handle is dropped.
    pub fn spawn(pool: PgPool) -> JobNotifier {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut kinds = Vec::new();
            while let Some(first) = rx.recv().await {
                kinds.push(first);
                tokio::time::sleep(Self::WINDOW).await;
                while let Ok(kind) = rx.try_recv() {
                    kinds.push(kind);
                }
                kinds.sort_unstable();
                kinds.dedup();
                let refs: Vec<&str> = kinds.iter().map(String::as_str).collect();
                if let Err(err) = notify_enqueued(&pool, &refs).await {
                    // Workers still poll; they pick the jobs up a little later.
                    tracing::warn!(%err, "cannot notify workers of new jobs");
                }
                kinds.clear();
            }
        });
        JobNotifier { kinds: tx }
    }

    pub fn enqueued(&self, kind: &str) {
        let _ = self.kinds.send(kind.to_owned());
    }
}

/// Moves `scheduled` and `retryable` jobs whose time has come to `available`.
pub async fn promote_due(pool: &PgPool) -> Result<u64, StoreError> {
    Ok(sqlx::query!(
        "UPDATE jobs SET state = 'available'
         WHERE state IN ('scheduled', 'retryable') AND run_at <= now()"
    )
    .execute(pool)
    .await?
    .rows_affected())
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub tenant: TenantId,
    pub kind: String,
    pub payload: Value,
    pub attempt: i32,
    pub max_attempts: i32,
}

struct ClaimedRow {
    id: i64,
    tenant_id: uuid::Uuid,
    kind: String,
    payload: Value,
    attempt: i32,
    max_attempts: i32,
}

impl From<ClaimedRow> for ClaimedJob {
    fn from(row: ClaimedRow) -> Self {
        ClaimedJob {
            id: row.id,
            tenant: TenantId(row.tenant_id),
            kind: row.kind,
            payload: row.payload,
            attempt: row.attempt,
            max_attempts: row.max_attempts,
        }
    }
}

/// Claims up to `limit` available jobs of these kinds, in priority order, for `worker`, with a
/// lease of `lease`, recording `class` as their resource class. GPU claims also respect
/// `gpu_fleet_cap`, the number of running GPU jobs across every worker: they are serialised by
/// an advisory lock so two workers cannot both take the last slot. CPU claims are one
/// statement.
pub async fn claim(
    pool: &PgPool,
    kinds: &[String],
    class: ResourceClass,
    limit: i64,
    worker: &str,
    lease: Duration,
    gpu_fleet_cap: i64,
) -> Result<Vec<ClaimedJob>, StoreError> {
    if limit <= 0 || kinds.is_empty() {
        return Ok(Vec::new());
    }
    // Only GPU claims count against the fleet-wide cap.
    if class != ResourceClass::Gpu {
        return claim_rows(pool, kinds, class, limit, worker, lease).await;
    }
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('ferrotape.gpu-claim', 0))")
        .execute(&mut *tx)
        .await?;
    let running = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM jobs WHERE state = 'running' AND resource_class = 'gpu'"#
    )
    .fetch_one(&mut *tx)
    .await?;
    let limit = limit.min(gpu_fleet_cap - running);
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let claimed = claim_rows(&mut *tx, kinds, class, limit, worker, lease).await?;
    tx.commit().await?;
    Ok(claimed)
}

async fn claim_rows<'e>(
    db: impl PgExecutor<'e>,
    kinds: &[String],
    class: ResourceClass,
    limit: i64,
    worker: &str,
    lease: Duration,
) -> Result<Vec<ClaimedJob>, StoreError> {
    let rows = sqlx::query_as!(
        ClaimedRow,
        r#"WITH picked AS (
               SELECT id FROM jobs
               WHERE state = 'available' AND kind = ANY($1)
               ORDER BY priority, run_at, id
               LIMIT $3
               FOR UPDATE SKIP LOCKED
           )
           UPDATE jobs j
           SET state = 'running', attempt = j.attempt + 1, attempted_at = now(),
               attempted_by = array_append(j.attempted_by, $4), resource_class = $2,
               lease_until = now() + make_interval(secs => $5)
           FROM picked WHERE j.id = picked.id
           RETURNING j.id, j.tenant_id, j.kind, j.payload, j.attempt, j.max_attempts"#,
        kinds,
        class.as_str(),
        limit,
        worker,
        lease.as_secs_f64(),
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Marks these (id, attempt) pairs completed and announces them on the job-events channel, in
/// one statement; returns how many were still this worker's to complete. Keep batches at or
/// below [`MAX_COMPLETION_BATCH`] (NOTIFY payloads are limited to 8000 bytes).
pub async fn complete(pool: &PgPool, worker: &str, done: &[(i64, i32)]) -> Result<u64, StoreError> {
    if done.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = done.iter().map(|(id, _)| *id).collect();
    let attempts: Vec<i32> = done.iter().map(|(_, attempt)| *attempt).collect();
    let completed = sqlx::query!(
        r#"WITH done AS (
               UPDATE jobs j SET state = 'completed', finalized_at = now(), lease_until = NULL
               FROM unnest($1::bigint[], $2::int[]) AS d(id, attempt)
               WHERE j.id = d.id AND j.attempt = d.attempt AND j.state = 'running'
                 AND j.attempted_by[cardinality(j.attempted_by)] = $4
               RETURNING j.id
           ), announced AS (
               SELECT pg_notify($3, json_build_object('state', 'completed', 'ids', array_agg(id))::text)
               FROM done HAVING count(*) > 0
           )
           SELECT (SELECT count(*) FROM done) AS "count!", (SELECT count(*) FROM announced) AS "announced!""#,
        &ids,
        &attempts,
        JOB_EVENTS_CHANNEL,
        worker,
    )
    .fetch_one(pool)
    .await?;
    Ok(completed.count as u64)
}

/// The most (id, attempt) pairs one [`complete`] call should carry.
pub const MAX_COMPLETION_BATCH: usize = 500;

/// Records a failed attempt. The job becomes `retryable` at `retry_at`, or `discarded` when
/// its attempts are spent. Returns the new state, or `None` if the attempt was no longer ours.
pub async fn fail(
    pool: &PgPool,
    worker: &str,
    id: i64,
    attempt: i32,
    error: &str,
    retry_at: OffsetDateTime,
) -> Result<Option<JobState>, StoreError> {
    let state = sqlx::query_scalar!(
        r#"UPDATE jobs SET
               errors = array_append(errors, jsonb_build_object(
                   'attempt', attempt, 'at', now(), 'error', left($3, 8000))),
               state = CASE WHEN attempt >= max_attempts THEN 'discarded'::job_state
                            ELSE 'retryable'::job_state END,
               finalized_at = CASE WHEN attempt >= max_attempts THEN now() END,
               run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE $4 END,
               lease_until = NULL
           WHERE id = $1 AND attempt = $2 AND state = 'running'
             AND attempted_by[cardinality(attempted_by)] = $5
           RETURNING state::text AS "state!""#,
        id,
        attempt,
        error,
        retry_at,
        worker,
    )
    .fetch_optional(pool)
    .await?;
    Ok(state.as_deref().and_then(JobState::parse))
}

/// Extends the lease of a running attempt. `None` when the attempt is no longer ours (the
/// lease ran out and the job was rescued); `Some(true)` when cancellation was requested.
pub async fn heartbeat(
    pool: &PgPool,
    worker: &str,
    id: i64,
    attempt: i32,
    lease: Duration,
) -> Result<Option<bool>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"UPDATE jobs SET lease_until = now() + make_interval(secs => $3)
           WHERE id = $1 AND attempt = $2 AND state = 'running'
             AND attempted_by[cardinality(attempted_by)] = $4
           RETURNING cancel_requested_at IS NOT NULL AS "cancel!""#,
        id,
        attempt,
        lease.as_secs_f64(),
        worker,
    )
    .fetch_optional(pool)
    .await?)
}

/// A running attempt stopped because cancellation was requested.
pub async fn mark_cancelled(
    pool: &PgPool,
    worker: &str,
    id: i64,
    attempt: i32,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE jobs SET state = 'cancelled', finalized_at = now(), lease_until = NULL
         WHERE id = $1 AND attempt = $2 AND state = 'running'
           AND attempted_by[cardinality(attempted_by)] = $3",
        id,
        attempt,
        worker,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives an unfinished attempt back (graceful shutdown): the job is available again and the
/// attempt does not count.
pub async fn release(pool: &PgPool, worker: &str, id: i64, attempt: i32) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE jobs SET state = 'available', attempt = attempt - 1, lease_until = NULL,
                         run_at = now()
         WHERE id = $1 AND attempt = $2 AND state = 'running'
           AND attempted_by[cardinality(attempted_by)] = $3",
        id,
        attempt,
        worker,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Returns jobs whose lease ran out (their worker crashed or hung) to `retryable` — or
/// `discarded` when their attempts are spent — recording why. Returns how many.
pub async fn rescue_expired(pool: &PgPool, retry_after: Duration) -> Result<u64, StoreError> {
    Ok(sqlx::query!(
        r#"UPDATE jobs SET
               errors = array_append(errors, jsonb_build_object(
                   'attempt', attempt, 'at', now(),
                   'error', 'the worker ' || coalesce(attempted_by[array_length(attempted_by, 1)], '?')
                            || ' stopped renewing its lease (crashed or stuck)')),
               state = CASE WHEN attempt >= max_attempts THEN 'discarded'::job_state
                            ELSE 'retryable'::job_state END,
               finalized_at = CASE WHEN attempt >= max_attempts THEN now() END,
               run_at = now() + make_interval(secs => $1),
               lease_until = NULL
           WHERE state = 'running' AND lease_until < now()"#,
        retry_after.as_secs_f64(),
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// Cancels a job of the tenant: at once if it is not running, by request if it is (its worker
/// stops it at the next heartbeat). Finished jobs are a `Conflict`.
pub async fn cancel(pool: &PgPool, tenant: TenantId, id: i64) -> Result<JobState, StoreError> {
    let state = sqlx::query_scalar!(
        r#"UPDATE jobs SET
               state = CASE WHEN state = 'running' THEN state ELSE 'cancelled'::job_state END,
               finalized_at = CASE WHEN state = 'running' THEN NULL ELSE now() END,
               cancel_requested_at = now()
           WHERE tenant_id = $1 AND id = $2 AND state NOT IN ('completed', 'discarded', 'cancelled')
           RETURNING state::text AS "state!""#,
        tenant.0,
        id,
    )
    .fetch_optional(pool)
    .await?;
    match state.as_deref().and_then(JobState::parse) {
        Some(state) => Ok(state),
        None => match find(pool, tenant, id).await? {
            job if job.state.is_final() => Err(StoreError::Conflict(format!(
                "the job is already {}",
                job.state.as_str()
            ))),
            _ => Err(StoreError::NotFound),
        },
    }
}

/// Runs a discarded or cancelled job again, with one more attempt allowed.
pub async fn retry(pool: &PgPool, tenant: TenantId, id: i64) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'available', run_at = now(), finalized_at = NULL,
                         cancel_requested_at = NULL,
                         max_attempts = greatest(max_attempts, attempt + 1)
         WHERE tenant_id = $1 AND id = $2 AND state IN ('discarded', 'cancelled')",
        tenant.0,
        id,
    )
    .execute(pool)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let job = find(pool, tenant, id).await?;
    Err(StoreError::Conflict(format!(
        "only discarded or cancelled jobs can be retried; this one is {}",
        job.state.as_str()
    )))
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: i64,
    pub tenant: TenantId,
    pub kind: String,
    pub payload: Value,
    pub state: JobState,
    pub priority: i16,
    pub resource_class: String,
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_at: OffsetDateTime,
    pub attempted_by: Vec<String>,
    pub errors: Vec<Value>,
    pub unique_key: Option<String>,
    pub created_at: OffsetDateTime,
    pub finalized_at: Option<OffsetDateTime>,
}

struct JobRow {
    id: i64,
    tenant_id: uuid::Uuid,
    kind: String,
    payload: Value,
    state: String,
    priority: i16,
    resource_class: String,
    attempt: i32,
    max_attempts: i32,
    run_at: OffsetDateTime,
    attempted_by: Vec<String>,
    errors: Vec<Value>,
    unique_key: Option<String>,
    created_at: OffsetDateTime,
    finalized_at: Option<OffsetDateTime>,
}

impl From<JobRow> for JobRecord {
    fn from(row: JobRow) -> Self {
        JobRecord {
            id: row.id,
            tenant: TenantId(row.tenant_id),
            kind: row.kind,
            payload: row.payload,
            state: JobState::parse(&row.state).unwrap_or(JobState::Available),
            priority: row.priority,
            resource_class: row.resource_class,
            attempt: row.attempt,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            attempted_by: row.attempted_by,
            errors: row.errors,
            unique_key: row.unique_key,
            created_at: row.created_at,
            finalized_at: row.finalized_at,
        }
    }
}

impl JobRecord {
    /// What the admin page shows of the job.
    pub fn summary(&self) -> ferrotape_model::jobs::JobSummary {
        ferrotape_model::jobs::JobSummary {
            id: self.id,
            kind: self.kind.clone(),
            state: self.state,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            last_worker: self.attempted_by.last().cloned(),
            errors: self
                .errors
                .iter()
                .map(|e| {
                    format!(
                        "attempt {} at {}: {}",
                        e["attempt"],
                        e["at"].as_str().unwrap_or("?"),
                        e["error"].as_str().unwrap_or("?")
                    )
                })
                .collect(),
            created_at: self.created_at,
        }
    }
}

pub async fn find(pool: &PgPool, tenant: TenantId, id: i64) -> Result<JobRecord, StoreError> {
    sqlx::query_as!(
        JobRow,
        r#"SELECT id, tenant_id, kind, payload, state::text AS "state!", priority, resource_class,
                  attempt, max_attempts, run_at, attempted_by, errors AS "errors!: Vec<Value>",
                  unique_key, created_at, finalized_at
           FROM jobs WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        id,
    )
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(StoreError::NotFound)
}

/// The tenant's jobs, newest first, optionally of one state and/or kind.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    state: Option<JobState>,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRecord>, StoreError> {
    let rows = sqlx::query_as!(
        JobRow,
        r#"SELECT id, tenant_id, kind, payload, state::text AS "state!", priority, resource_class,
                  attempt, max_attempts, run_at, attempted_by, errors AS "errors!: Vec<Value>",
                  unique_key, created_at, finalized_at
           FROM jobs
           WHERE tenant_id = $1 AND ($2::text IS NULL OR state::text = $2)
             AND ($3::text IS NULL OR kind = $3)
           ORDER BY id DESC LIMIT $4"#,
        tenant.0,
        state.map(JobState::as_str),
        kind,
        limit.clamp(1, 500),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// (kind, state, count) for the tenant, or for every tenant (metrics) with `None`.
pub async fn counts(
    pool: &PgPool,
    tenant: Option<TenantId>,
) -> Result<Vec<(String, JobState, i64)>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT kind, state::text AS "state!", count(*) AS "count!" FROM jobs
           WHERE $1::uuid IS NULL OR tenant_id = $1
           GROUP BY kind, state ORDER BY kind, state"#,
        tenant.map(|t| t.0),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| JobState::parse(&r.state).map(|s| (r.kind, s, r.count)))
        .collect())
}

/// What `/metrics` reports of the queue, all tenants: exact counts of the unfinished states
/// and of discarded jobs, each read through its partial index (never a scan of the finished
/// jobs, which the retention job keeps bounded anyway), and the planner's estimate of all rows.
pub struct QueueGauges {
    pub by_kind_and_state: Vec<(String, JobState, i64)>,
    pub rows_estimate: i64,
}

pub async fn queue_gauges(pool: &PgPool) -> Result<QueueGauges, StoreError> {
    // One branch per partial index (claim, due, lease, discarded), so each is an index scan.
    let rows = sqlx::query!(
        r#"SELECT kind AS "kind!", state::text AS "state!", count(*) AS "count!" FROM (
               SELECT kind, state FROM jobs WHERE state = 'available'
               UNION ALL SELECT kind, state FROM jobs WHERE state IN ('scheduled', 'retryable')
               UNION ALL SELECT kind, state FROM jobs WHERE state = 'running'
               UNION ALL SELECT kind, state FROM jobs WHERE state = 'discarded'
           ) live
           GROUP BY kind, state ORDER BY kind, state"#,
    )
    .fetch_all(pool)
    .await?;
    let rows_estimate = sqlx::query_scalar!(
        r#"SELECT greatest(reltuples, 0)::bigint AS "estimate!" FROM pg_class
           WHERE oid = 'jobs'::regclass"#
    )
    .fetch_one(pool)
    .await?;
    Ok(QueueGauges {
        by_kind_and_state: rows
            .into_iter()
            .filter_map(|r| JobState::parse(&r.state).map(|s| (r.kind, s, r.count)))
            .collect(),
        rows_estimate,
    })
}

/// Tells listeners (the server, for progress) that a job changed state.
pub async fn publish_event(
    pool: &PgPool,
    id: i64,
    kind: &str,
    state: JobState,
) -> Result<(), StoreError> {
    let event = serde_json::json!({ "id": id, "kind": kind, "state": state.as_str() });
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        JOB_EVENTS_CHANNEL,
        event.to_string()
    )
    .execute(pool)
    .await?;
    Ok(())
}
