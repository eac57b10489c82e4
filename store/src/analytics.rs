//! Playback analytics in PostgreSQL: events written in bulk with COPY (through a per-connection
//! staging table, because COPY cannot skip rows it has seen), each write folding its new events
//! into their views (and the viewers' library progress) in the same statement; the daily
//! partitions and salts.

use std::fmt::Write as _;

use sqlx::{PgPool, Postgres, Transaction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

/// One event ready to store: the beacon's fields, checked and placed in time, and the context
/// of the request that carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// UTC day of the browser's own timestamp (the partition, and half the duplicate key).
    pub day: Date,
    pub id: Uuid,
    pub tenant: Uuid,
    pub talk: Uuid,
    pub view: Uuid,
    pub at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub kind: &'static str,
    pub position: Option<f64>,
    pub value: Option<i64>,
    pub height: Option<i32>,
    /// Merged `[start, end)` ranges watched (seconds).
    pub watched: Vec<[f64; 2]>,
    pub fatal: Option<bool>,
    pub detail: Option<String>,
    pub context: ViewContext,
}

/// What the request says about the viewer, stored on the view (never the raw headers).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ViewContext {
    pub viewer_hash: Option<[u8; 16]>,
    pub viewer_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub browser: Option<&'static str>,
    pub os: Option<&'static str>,
    pub device: Option<&'static str>,
    pub country: Option<String>,
    /// Only on `view_start` rows.
    pub referrer_domain: Option<String>,
    pub embed_origin: Option<String>,
}

impl EventRow {
    fn watched_ms(&self) -> i64 {
        let secs: f64 = self.watched.iter().map(|[a, b]| b - a).sum();
        (secs * 1000.0).round() as i64
    }

    /// The furthest point of the talk the event shows the viewer reached.
    fn reach(&self) -> f64 {
        self.watched
            .iter()
            .map(|[_, end]| *end)
            .fold(self.position.unwrap_or(0.0), f64::max)
    }
}

const STAGING_COLUMNS: &str = "day, id, tenant_id, talk_id, view_id, at, received_at, kind, \
    position, value, height, watched, watched_ms, fatal, detail, reach, viewer_hash, viewer_id, \
    user_id, browser, os, device, country, referrer_domain, embed_origin";

/// `rows` as COPY text for `write_copy_text` (the form the server buffers and spools).
pub fn copy_text(rows: &[EventRow]) -> String {
    let mut text = String::with_capacity(rows.len() * 320);
    for row in rows {
        copy_line(&mut text, row);
    }
    text
}

/// Writes `rows` in one transaction; see `write_copy_text`.
pub async fn write_events(pool: &PgPool, rows: &[EventRow]) -> Result<u64, StoreError> {
    write_copy_text(pool, &copy_text(rows)).await
}

/// Writes events rendered by `copy_text` in one transaction: duplicates of events already
/// stored are skipped, and the new events' effects are added to their views. Returns how many
/// events were new.
///
/// A view row belongs to the tenant and talk that created it: events naming someone else's
/// view id change nothing there.
pub async fn write_copy_text(pool: &PgPool, text: &str) -> Result<u64, StoreError> {
    if text.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    stage(&mut tx, text).await?;
    let new = fold(&mut tx).await?;
    tx.commit().await?;
    Ok(new)
}

async fn stage(tx: &mut Transaction<'_, Postgres>, text: &str) -> Result<(), StoreError> {
    // Temporary and per connection; emptied by every commit or rollback.
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS analytics_staging (
             day date, id uuid, tenant_id uuid, talk_id uuid, view_id uuid, at timestamptz,
             received_at timestamptz, kind text, position real, value bigint, height integer,
             watched nummultirange, watched_ms bigint, fatal boolean, detail text, reach real,
             viewer_hash bytea, viewer_id uuid, user_id uuid, browser text, os text,
             device text, country text, referrer_domain text, embed_origin text
         ) ON COMMIT DELETE ROWS",
    )
    .execute(&mut **tx)
    .await?;
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY analytics_staging ({STAGING_COLUMNS}) FROM STDIN"
        ))
        .await?;
    for piece in text.as_bytes().chunks(1 << 20) {
        copy.send(piece).await?;
    }
    copy.finish().await?;
    Ok(())
}

async fn fold(tx: &mut Transaction<'_, Postgres>) -> Result<u64, StoreError> {
    let new: (i64,) = sqlx::query_as(
        "WITH fresh AS (
             INSERT INTO analytics_events (day, id, tenant_id, talk_id, view_id, at, received_at,
                 kind, position, value, height, watched, watched_ms, fatal, detail)
             SELECT day, id, tenant_id, talk_id, view_id, at, received_at, kind, position,
                    value, height, watched, watched_ms, fatal, detail
             FROM analytics_staging
             ON CONFLICT DO NOTHING
             RETURNING day, id
         ), new_events AS (
             SELECT s.* FROM analytics_staging s JOIN fresh f USING (day, id)
         ), per_view AS (
             SELECT view_id,
                    min(tenant_id::text)::uuid AS tenant_id,
                    min(talk_id::text)::uuid AS talk_id,
                    min(at) AS started_at,
                    max(at) AS last_at,
                    (array_agg(viewer_hash) FILTER (WHERE viewer_hash IS NOT NULL))[1] AS viewer_hash,
                    (array_agg(viewer_id) FILTER (WHERE viewer_id IS NOT NULL))[1] AS viewer_id,
                    (array_agg(user_id) FILTER (WHERE user_id IS NOT NULL))[1] AS user_id,
                    min(browser) AS browser, min(os) AS os, min(device) AS device,
                    min(country) AS country,
                    min(referrer_domain) AS referrer_domain, min(embed_origin) AS embed_origin,
                    min(value) FILTER (WHERE kind = 'first_frame')::integer AS startup_ms,
                    sum(watched_ms) AS playing_ms,
                    count(*) FILTER (WHERE kind = 'stall')::integer AS rebuffer_count,
                    coalesce(sum(value) FILTER (WHERE kind = 'stall'), 0)::bigint AS rebuffer_ms,
                    coalesce(sum(value * watched_ms) FILTER (WHERE kind IN ('heartbeat', 'exit')
                        AND value > 0), 0)::bigint AS bitrate_ms,
                    coalesce(sum(watched_ms) FILTER (WHERE kind IN ('heartbeat', 'exit')
                        AND value > 0), 0)::bigint AS bitrate_time_ms,
                    count(*) FILTER (WHERE kind = 'quality')::integer AS quality_switches,
                    count(*) FILTER (WHERE kind = 'seek')::integer AS seeks,
                    count(*) FILTER (WHERE kind = 'error')::integer AS errors,
                    coalesce(bool_or(fatal) FILTER (WHERE kind = 'error'), false) AS failed,
                    bool_or(kind = 'end') AS ended,
                    bool_or(kind = 'exit') AS exited,
                    (array_agg(position ORDER BY at DESC) FILTER (WHERE position IS NOT NULL))[1]
                        AS last_position,
                    max(reach) AS furthest,
                    coalesce(range_agg(watched), '{}') AS watched
             FROM new_events
             GROUP BY view_id
         ), upserted AS (
             INSERT INTO analytics_views AS v (id, tenant_id, talk_id, started_at, last_at,
                 viewer_hash, viewer_id, user_id, browser, os, device, country, referrer_domain,
                 embed_origin, startup_ms, playing_ms, rebuffer_count, rebuffer_ms, bitrate_ms,
                 bitrate_time_ms, quality_switches, seeks, errors, failed, ended, exited,
                 last_position, furthest, watched)
             SELECT * FROM per_view
             ON CONFLICT (id) DO UPDATE SET
                 started_at = least(v.started_at, excluded.started_at),
                 last_at = greatest(v.last_at, excluded.last_at),
                 viewer_hash = coalesce(v.viewer_hash, excluded.viewer_hash),
                 viewer_id = coalesce(v.viewer_id, excluded.viewer_id),
                 user_id = coalesce(v.user_id, excluded.user_id),
                 browser = coalesce(v.browser, excluded.browser),
                 os = coalesce(v.os, excluded.os),
                 device = coalesce(v.device, excluded.device),
                 country = coalesce(v.country, excluded.country),
                 referrer_domain = coalesce(v.referrer_domain, excluded.referrer_domain),
                 embed_origin = coalesce(v.embed_origin, excluded.embed_origin),
                 startup_ms = coalesce(v.startup_ms, excluded.startup_ms),
                 playing_ms = v.playing_ms + excluded.playing_ms,
                 rebuffer_count = v.rebuffer_count + excluded.rebuffer_count,
                 rebuffer_ms = v.rebuffer_ms + excluded.rebuffer_ms,
                 bitrate_ms = v.bitrate_ms + excluded.bitrate_ms,
                 bitrate_time_ms = v.bitrate_time_ms + excluded.bitrate_time_ms,
                 quality_switches = v.quality_switches + excluded.quality_switches,
                 seeks = v.seeks + excluded.seeks,
                 errors = v.errors + excluded.errors,
                 failed = v.failed OR excluded.failed,
                 ended = v.ended OR excluded.ended,
                 exited = v.exited OR excluded.exited,
                 last_position = CASE WHEN excluded.last_at >= v.last_at
                     THEN coalesce(excluded.last_position, v.last_position)
                     ELSE v.last_position END,
                 furthest = greatest(v.furthest, excluded.furthest),
                 watched = v.watched + excluded.watched
             WHERE v.tenant_id = excluded.tenant_id AND v.talk_id = excluded.talk_id
             RETURNING v.id, v.tenant_id, v.talk_id, v.started_at, (xmax = 0) AS inserted,
                 v.last_at, v.user_id, v.viewer_id, v.last_position, v.furthest, v.ended
         ), progress AS (
             -- The viewer's library: where each owner (the signed-in user, else the
             -- browser's anonymous id) now is in each talk, from their latest view.
             SELECT DISTINCT ON (owner_kind, owner, u.talk_id)
                    CASE WHEN u.user_id IS NOT NULL THEN 'user' ELSE 'viewer' END AS owner_kind,
                    coalesce(u.user_id, u.viewer_id) AS owner,
                    u.talk_id, u.tenant_id, coalesce(u.last_position, 0) AS position,
                    u.furthest, u.ended, u.last_at, d.duration_ms
             FROM upserted u
             LEFT JOIN LATERAL (
                 SELECT vv.duration_ms FROM videos vv
                 WHERE vv.tenant_id = u.tenant_id AND vv.talk_id = u.talk_id
                   AND vv.duration_ms > 0
                 ORDER BY (vv.state = 'ready') DESC, vv.created_at DESC LIMIT 1
             ) d ON true
             WHERE coalesce(u.user_id, u.viewer_id) IS NOT NULL
             ORDER BY owner_kind, owner, u.talk_id, u.last_at DESC
         ), library AS (
             INSERT INTO library_progress AS l (owner_kind, owner, talk_id, tenant_id,
                 position, at_end, furthest, watched, updated_at)
             SELECT owner_kind, owner, talk_id, tenant_id, position,
                    coalesce(position * 1000 >= $1::float8 * duration_ms, false),
                    furthest,
                    ended OR coalesce(furthest * 1000 >= $1::float8 * duration_ms, false),
                    last_at
             FROM progress
             ON CONFLICT (owner_kind, owner, talk_id) DO UPDATE SET
                 position = CASE WHEN excluded.updated_at >= l.updated_at
                     THEN excluded.position ELSE l.position END,
                 at_end = CASE WHEN excluded.updated_at >= l.updated_at
                     THEN excluded.at_end ELSE l.at_end END,
                 furthest = greatest(l.furthest, excluded.furthest),
                 watched = l.watched OR excluded.watched,
                 updated_at = greatest(l.updated_at, excluded.updated_at)
             WHERE l.tenant_id = excluded.tenant_id
         ), view_events AS (
             -- A new view is a VID_VIEW on the platform's event log.
             INSERT INTO platform_events (tenant_id, kind, talk_id, detail)
             SELECT tenant_id, 'VID_VIEW', talk_id, jsonb_build_object('view', id)
             FROM upserted WHERE inserted
         ), dirty AS (
             -- The rollups of the day each changed view started on are stale now.
             INSERT INTO analytics_dirty (talk_id, day, tenant_id)
             SELECT DISTINCT talk_id, (started_at AT TIME ZONE 'UTC')::date, tenant_id
             FROM upserted
             ON CONFLICT DO NOTHING
         )
         SELECT count(*) FROM new_events",
    )
    .bind(ferrotape_model::library::WATCHED_FRACTION)
    .fetch_one(&mut **tx)
    .await?;
    Ok(new.0 as u64)
}

/// One line of COPY's text format.
fn copy_line(out: &mut String, row: &EventRow) {
    let context = &row.context;
    let fields: [Option<String>; 25] = [
        Some(row.day.to_string()),
        Some(row.id.to_string()),
        Some(row.tenant.to_string()),
        Some(row.talk.to_string()),
        Some(row.view.to_string()),
        Some(timestamp(row.at)),
        Some(timestamp(row.received_at)),
        Some(row.kind.to_owned()),
        row.position.map(|p| format!("{p}")),
        row.value.map(|v| v.to_string()),
        row.height.map(|h| h.to_string()),
        (!row.watched.is_empty()).then(|| multirange(&row.watched)),
        Some(row.watched_ms().to_string()),
        row.fatal.map(|f| f.to_string()),
        row.detail.clone(),
        Some(format!("{}", row.reach())),
        context.viewer_hash.map(|h| {
            let mut hex = String::from("\\\\x");
            for byte in h {
                let _ = write!(hex, "{byte:02x}");
            }
            hex
        }),
        context.viewer_id.map(|id| id.to_string()),
        context.user_id.map(|id| id.to_string()),
        context.browser.map(str::to_owned),
        context.os.map(str::to_owned),
        context.device.map(str::to_owned),
        context.country.clone(),
        context.referrer_domain.clone(),
        context.embed_origin.clone(),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match field {
            None => out.push_str("\\N"),
            // The viewer hash is written pre-escaped (`\\x…`, bytea's hex input through COPY).
            Some(text) if i == 16 => out.push_str(text),
            Some(text) => escape_copy_text(out, text),
        }
    }
    out.push('\n');
}

fn escape_copy_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => {}
            c => out.push(c),
        }
    }
}

fn timestamp(at: OffsetDateTime) -> String {
    // Microseconds since the epoch as PostgreSQL reads them, in UTC.
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

fn multirange(ranges: &[[f64; 2]]) -> String {
    let mut text = String::from("{");
    for (i, [start, end]) in ranges.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(text, "[{start},{end})");
    }
    text.push('}');
    text
}

/// Makes sure the daily partitions from `first` to `last` exist; returns how many were made.
pub async fn ensure_partitions(pool: &PgPool, first: Date, last: Date) -> Result<i32, StoreError> {
    let made: (i32,) = sqlx::query_as("SELECT analytics_ensure_partitions($1, $2)")
        .bind(first)
        .bind(last)
        .fetch_one(pool)
        .await?;
    Ok(made.0)
}

/// Drops the partitions of days before `before` (the raw events' retention); views stay.
pub async fn drop_partitions_before(pool: &PgPool, before: Date) -> Result<i32, StoreError> {
    let dropped: (i32,) = sqlx::query_as("SELECT analytics_drop_partitions($1)")
        .bind(before)
        .fetch_one(pool)
        .await?;
    Ok(dropped.0)
}

/// The salt of `day`'s viewer hashes, made on first use (replicas agree through the table).
pub async fn daily_salt(pool: &PgPool, day: Date) -> Result<[u8; 32], StoreError> {
    // Two random UUIDs are 32 random-enough bytes (gen_random_uuid draws from the server's
    // strong random source) without pgcrypto.
    let (salt,): (Vec<u8>,) = sqlx::query_as(
        "WITH made AS (
             INSERT INTO analytics_salts (day, salt)
             VALUES ($1, decode(replace(gen_random_uuid()::text || gen_random_uuid()::text,
                                        '-', ''), 'hex'))
             ON CONFLICT (day) DO NOTHING RETURNING salt)
         SELECT salt FROM made UNION ALL SELECT salt FROM analytics_salts WHERE day = $1
         LIMIT 1",
    )
    .bind(day)
    .fetch_one(pool)
    .await?;
    salt.try_into().map_err(|_| {
        StoreError::Database(sqlx::Error::Protocol(
            "a stored salt is not 32 bytes".into(),
        ))
    })
}

/// Forgets the salts of days before `before`, so those days' hashes can never be recomputed.
pub async fn forget_salts_before(pool: &PgPool, before: Date) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM analytics_salts WHERE day < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// The tenant a talk belongs to, if it exists and is not in the trash (events are accepted
/// for such talks only).
pub async fn talk_tenant(pool: &PgPool, talk: Uuid) -> Result<Option<Uuid>, StoreError> {
    let found: Option<(Uuid,)> =
        sqlx::query_as("SELECT tenant_id FROM talks WHERE id = $1 AND deleted_at IS NULL")
            .bind(talk)
            .fetch_optional(pool)
            .await?;
    Ok(found.map(|(tenant,)| tenant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_break_a_line() {
        let mut out = String::new();
        escape_copy_text(&mut out, "a\tb\nc\\d\re\0f");
        assert_eq!(out, "a\\tb\\nc\\\\d\\re".to_owned() + "f");
    }

    #[test]
    fn ranges_become_a_multirange_literal() {
        assert_eq!(
            multirange(&[[0.0, 9.5], [12.0, 20.25]]),
            "{[0,9.5),[12,20.25)}"
        );
    }

    #[test]
    fn timestamps_are_written_in_utc_with_microseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000).unwrap();
        assert_eq!(timestamp(at), "2025-11-24 16:00:00.123456+00");
    }
}
