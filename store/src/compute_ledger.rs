//! The compute ledger: what transcode and transcription attempts cost, per tenant and UTC day.
//! The `jobs` trigger of migration 20261204000010 books one `compute_ledger` row per attempt
//! that ends (completed, failed, discarded, cancelled, rescued or given back), with its seconds
//! from the claim to its end; the rows do not reference `jobs`, so the figures outlive the
//! retention job's purge of finished jobs. This module only sums them.

use ferrotape_model::TenantId;
use ferrotape_model::compute::{ComputeLedger, ComputeRow, ComputeTotal, DateRange};
use sqlx::PgPool;
use time::Date;

use crate::StoreError;

#[derive(sqlx::FromRow)]
struct Sum {
    /// NULL on the range's totals (the second grouping set).
    day: Option<Date>,
    kind: String,
    resource_class: String,
    jobs: i64,
    attempts: i64,
    seconds: f64,
}

/// The tenant's work in `range` (both days included): per day, kind and resource class, and
/// per kind and class over the whole range (a job with attempts on two days counts once there).
pub async fn ledger(
    pool: &PgPool,
    tenant: TenantId,
    range: DateRange,
) -> Result<ComputeLedger, StoreError> {
    let sums: Vec<Sum> = sqlx::query_as(
        "SELECT day, kind, resource_class, count(DISTINCT job_id) AS jobs,
                count(*) AS attempts, sum(seconds) AS seconds
         FROM compute_ledger
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3
         GROUP BY GROUPING SETS ((day, kind, resource_class), (kind, resource_class))
         ORDER BY day NULLS LAST, kind, resource_class",
    )
    .bind(tenant.0)
    .bind(range.from)
    .bind(range.to)
    .fetch_all(pool)
    .await?;
    let mut ledger = ComputeLedger {
        range,
        rows: Vec::new(),
        totals: Vec::new(),
    };
    for sum in sums {
        match sum.day {
            Some(day) => ledger.rows.push(ComputeRow {
                day,
                kind: sum.kind,
                resource_class: sum.resource_class,
                jobs: sum.jobs,
                attempts: sum.attempts,
                seconds: sum.seconds,
            }),
            None => ledger.totals.push(ComputeTotal {
                kind: sum.kind,
                resource_class: sum.resource_class,
                jobs: sum.jobs,
                attempts: sum.attempts,
                seconds: sum.seconds,
            }),
        }
    }
    Ok(ledger)
}
