//! Platform events: the append-only `platform_events` log (migration 20261204000010). The video
//! and job triggers record uploads, transcode starts, ready videos and failures in the
//! transaction of the change; [`record`] is for what no trigger sees (VID_VIEW from the
//! analytics ingestion). Every new row is announced on [`PLATFORM_EVENTS_CHANNEL`]. Rows are
//! never changed or deleted except by `retention::delete_platform_events`.

use ferrotape_model::TenantId;
use ferrotape_model::platform_events::{PlatformEvent, PlatformEventKind};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// The channel the insert trigger NOTIFYs; the payload is a [`Announced`] as JSON.
pub const PLATFORM_EVENTS_CHANNEL: &str = "ferrotape_platform_events";

/// A new event, as the trigger announces it (listeners read the row itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Announced {
    pub tenant: Uuid,
    pub id: i64,
    pub kind: String,
}

/// Appends an event for `tenant`. Pass the caller's transaction (or connection) so the event
/// exists exactly when the change it reports does; listeners hear of it after the commit.
/// `detail` must be a JSON object of at most 4 KiB (the table's CHECK; otherwise `Conflict`).
///
/// ```ignore
/// platform_events::record(&mut *tx, tenant, PlatformEventKind::VidView, Some(video),
///                         Some(talk), &json!({"view": view_id})).await?;
/// ```
pub async fn record<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    kind: PlatformEventKind,
    video: Option<Uuid>,
    talk: Option<Uuid>,
    detail: &Value,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO platform_events (tenant_id, kind, video_id, talk_id, detail)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(tenant.0)
    .bind(kind.as_str())
    .bind(video)
    .bind(talk)
    .bind(detail)
    .fetch_one(db)
    .await
    .map_err(|e| StoreError::from_write(e, "the platform event"))
}

/// Which of a tenant's events a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<PlatformEventKind>,
    /// Occurred at or after.
    pub from: Option<OffsetDateTime>,
    /// Occurred before.
    pub to: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    occurred_at: OffsetDateTime,
    video_id: Option<Uuid>,
    talk_id: Option<Uuid>,
    detail: Value,
}

impl Row {
    fn into_event(self) -> Option<PlatformEvent> {
        Some(PlatformEvent {
            id: self.id,
            kind: PlatformEventKind::parse(&self.kind)?,
            occurred_at: self.occurred_at,
            video_id: self.video_id,
            talk_id: self.talk_id,
            detail: self.detail,
        })
    }
}

fn events(rows: Vec<Row>) -> Vec<PlatformEvent> {
    rows.into_iter().filter_map(Row::into_event).collect()
}

const COLUMNS: &str = "id, kind, occurred_at, video_id, talk_id, detail";

/// The tenant's events newest first, `limit` of them after `before` (the last item of the
/// previous page: its time and id), through `(tenant_id[, kind], occurred_at DESC, id DESC)`.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    filter: &Filter,
    before: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> Result<Vec<PlatformEvent>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM platform_events
         WHERE tenant_id = $1 AND ($2::text IS NULL OR kind = $2)
           AND ($3::timestamptz IS NULL OR occurred_at >= $3)
           AND ($4::timestamptz IS NULL OR occurred_at < $4)
           AND ($5::timestamptz IS NULL OR (occurred_at, id) < ($5, $6))
         ORDER BY occurred_at DESC, id DESC LIMIT $7"
    ))
    .bind(tenant.0)
    .bind(filter.kind.map(PlatformEventKind::as_str))
    .bind(filter.from)
    .bind(filter.to)
    .bind(before.map(|(at, _)| at))
    .bind(before.map_or(0, |(_, id)| id))
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?;
    Ok(events(rows))
}

/// The tenant's events after `after` in id order (oldest first), at most `limit`: what a
/// reconnecting event stream missed.
pub async fn after(
    pool: &PgPool,
    tenant: TenantId,
    after: i64,
    kind: Option<PlatformEventKind>,
    limit: i64,
) -> Result<Vec<PlatformEvent>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM platform_events
         WHERE tenant_id = $1 AND id > $2 AND ($3::text IS NULL OR kind = $3)
         ORDER BY id LIMIT $4"
    ))
    .bind(tenant.0)
    .bind(after)
    .bind(kind.map(PlatformEventKind::as_str))
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?;
    Ok(events(rows))
}

/// One of the tenant's events (an announced one, for the stream).
pub async fn find(
    pool: &PgPool,
    tenant: TenantId,
    id: i64,
) -> Result<Option<PlatformEvent>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM platform_events WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(Row::into_event))
}
