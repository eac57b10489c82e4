//! Rollups of playback analytics: the talk-days a write changed (`analytics_dirty`) are
//! recomputed from their views — per hour, per day, per dimension value, and the day's
//! retention curve — with the formulas of `model::analytics` (one definition for every figure).
//! Claimed with `SKIP LOCKED`, so several servers share the work.

use std::collections::{HashMap, HashSet};

use ferrotape_model::analytics::qoe::{self, STARTUP_BUCKETS, ViewFigures};
use ferrotape_model::analytics::ranges;
use sqlx::{PgPool, Postgres, Transaction};
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

use crate::StoreError;

/// Recomputes up to `limit` stale talk-days; returns how many it did.
pub async fn refresh(pool: &PgPool, limit: i64) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await?;
    let stale: Vec<(Uuid, Date, Uuid)> = sqlx::query_as(
        "DELETE FROM analytics_dirty WHERE (talk_id, day) IN (
             SELECT talk_id, day FROM analytics_dirty ORDER BY day LIMIT $1
             FOR UPDATE SKIP LOCKED)
         RETURNING talk_id, day, tenant_id",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    for (talk, day, tenant) in &stale {
        refresh_day(&mut tx, *tenant, *talk, *day).await?;
    }
    tx.commit().await?;
    Ok(stale.len())
}

/// Runs `refresh` until nothing is stale (tests and the benchmark).
pub async fn refresh_all(pool: &PgPool) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let done = refresh(pool, 500).await?;
        if done == 0 {
            return Ok(total);
        }
        total += done;
    }
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    started_at: OffsetDateTime,
    viewer_hash: Option<Vec<u8>>,
    startup_ms: Option<i32>,
    playing_ms: i64,
    rebuffer_count: i32,
    rebuffer_ms: i64,
    bitrate_ms: i64,
    bitrate_time_ms: i64,
    failed: bool,
    furthest: f32,
    watched: String,
    browser: Option<String>,
    os: Option<String>,
    device: Option<String>,
    country: Option<String>,
    referrer_domain: Option<String>,
    embed_origin: Option<String>,
}

impl ViewRow {
    fn figures(&self) -> ViewFigures {
        ViewFigures {
            startup_ms: self.startup_ms.map(|ms| ms.max(0) as u32),
            playing_ms: self.playing_ms.max(0) as u64,
            rebuffer_count: self.rebuffer_count.max(0) as u32,
            rebuffer_ms: self.rebuffer_ms.max(0) as u64,
            failed: self.failed,
            furthest_secs: f64::from(self.furthest),
        }
    }
}

/// What adds up over views (one hour's or one day's).
#[derive(Default)]
struct Bucket {
    views: i32,
    hashes: HashSet<Vec<u8>>,
    without_hash: i32,
    started_views: i32,
    watch_ms: i64,
    playing_ms: i64,
    rebuffer_count: i64,
    rebuffer_ms: i64,
    bitrate_ms: i64,
    bitrate_time_ms: i64,
    completed: i32,
    failed: i32,
    exits_before_start: i32,
    startup_score_sum: f64,
    smoothness_sum: f64,
    histogram: Vec<i64>,
}

impl Bucket {
    fn add(&mut self, view: &ViewRow, duration_secs: f64) {
        let figures = view.figures();
        self.views += 1;
        match &view.viewer_hash {
            Some(hash) => {
                self.hashes.insert(hash.clone());
            }
            None => self.without_hash += 1,
        }
        self.watch_ms += figures.watch_ms() as i64;
        self.playing_ms += view.playing_ms;
        self.rebuffer_count += i64::from(view.rebuffer_count);
        self.rebuffer_ms += view.rebuffer_ms;
        self.bitrate_ms += view.bitrate_ms;
        self.bitrate_time_ms += view.bitrate_time_ms;
        self.completed += i32::from(figures.completed(duration_secs));
        self.failed += i32::from(figures.failed);
        self.exits_before_start += i32::from(figures.exited_before_start());
        if self.histogram.is_empty() {
            self.histogram = vec![0; STARTUP_BUCKETS];
        }
        if let Some(startup) = figures.startup_ms {
            self.started_views += 1;
            self.startup_score_sum += qoe::startup_time_score(f64::from(startup) / 1000.0);
            self.smoothness_sum += figures.smoothness_score().unwrap_or(100.0);
            self.histogram[qoe::startup_bucket(startup)] += 1;
        }
    }

    fn viewers(&self) -> i32 {
        self.hashes.len() as i32 + self.without_hash
    }
}

async fn refresh_day(
    tx: &mut Transaction<'_, Postgres>,
    tenant: Uuid,
    talk: Uuid,
    day: Date,
) -> Result<(), StoreError> {
    let start = day.with_time(Time::MIDNIGHT).assume_utc();
    let end = start + time::Duration::days(1);
    let duration_ms: Option<i64> = sqlx::query_scalar(
        "SELECT max(duration_ms)::bigint FROM videos WHERE talk_id = $1 AND duration_ms IS NOT NULL",
    )
    .bind(talk)
    .fetch_one(&mut **tx)
    .await?;
    let duration_secs = duration_ms.unwrap_or(0) as f64 / 1000.0;
    let views: Vec<ViewRow> = sqlx::query_as(
        "SELECT started_at, viewer_hash, startup_ms, playing_ms, rebuffer_count, rebuffer_ms,
                bitrate_ms, bitrate_time_ms, failed, furthest, watched::text AS watched,
                browser, os, device, country, referrer_domain, embed_origin
         FROM analytics_views
         WHERE talk_id = $1 AND tenant_id = $2 AND started_at >= $3 AND started_at < $4",
    )
    .bind(talk)
    .bind(tenant)
    .bind(start)
    .bind(end)
    .fetch_all(&mut **tx)
    .await?;

    let mut daily = Bucket::default();
    let mut hourly: HashMap<u8, Bucket> = HashMap::new();
    let mut dimensions: HashMap<(&'static str, String), (i32, i64)> = HashMap::new();
    let mut watched: Vec<Vec<[f64; 2]>> = Vec::with_capacity(views.len());
    for view in &views {
        daily.add(view, duration_secs);
        hourly
            .entry(view.started_at.to_offset(time::UtcOffset::UTC).hour())
            .or_default()
            .add(view, duration_secs);
        let watch_ms = view.figures().watch_ms() as i64;
        for (dimension, value) in [
            ("browser", &view.browser),
            ("os", &view.os),
            ("device", &view.device),
            ("country", &view.country),
            ("referrer", &view.referrer_domain),
            ("embed", &view.embed_origin),
        ] {
            if let Some(value) = value {
                let entry = dimensions
                    .entry((dimension, value.clone()))
                    .or_insert((0, 0));
                entry.0 += 1;
                entry.1 += watch_ms;
            }
        }
        watched.push(parse_multirange(&view.watched));
    }

    sqlx::query("DELETE FROM analytics_hourly WHERE talk_id = $1 AND hour >= $2 AND hour < $3")
        .bind(talk)
        .bind(start)
        .bind(end)
        .execute(&mut **tx)
        .await?;
    for (hour, bucket) in &hourly {
        let at = start + time::Duration::hours(i64::from(*hour));
        insert_bucket(
            tx,
            "analytics_hourly",
            "hour",
            tenant,
            talk,
            Stamp::Hour(at),
            bucket,
        )
        .await?;
    }
    sqlx::query("DELETE FROM analytics_daily WHERE talk_id = $1 AND day = $2")
        .bind(talk)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM analytics_daily_dimensions WHERE talk_id = $1 AND day = $2")
        .bind(talk)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM analytics_daily_retention WHERE talk_id = $1 AND day = $2")
        .bind(talk)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    if views.is_empty() {
        return Ok(());
    }
    insert_bucket(
        tx,
        "analytics_daily",
        "day",
        tenant,
        talk,
        Stamp::Day(day),
        &daily,
    )
    .await?;
    for ((dimension, value), (count, watch_ms)) in &dimensions {
        sqlx::query(
            "INSERT INTO analytics_daily_dimensions
                 (tenant_id, talk_id, day, dimension, value, views, watch_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(talk)
        .bind(day)
        .bind(*dimension)
        .bind(value)
        .bind(*count)
        .bind(*watch_ms)
        .execute(&mut **tx)
        .await?;
    }
    let duration = duration_secs.ceil().max(0.0) as u32;
    let curve: Vec<f32> = ranges::retention_curve(duration, watched.iter().map(Vec::as_slice))
        .into_iter()
        .map(|share| share as f32)
        .collect();
    sqlx::query(
        "INSERT INTO analytics_daily_retention (tenant_id, talk_id, day, views, duration_secs, curve)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(talk)
    .bind(day)
    .bind(views.len() as i32)
    .bind(duration as i32)
    .bind(&curve)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

enum Stamp {
    Hour(OffsetDateTime),
    Day(Date),
}

async fn insert_bucket(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    column: &str,
    tenant: Uuid,
    talk: Uuid,
    stamp: Stamp,
    bucket: &Bucket,
) -> Result<(), StoreError> {
    // `table` and `column` are our own constants.
    let sql = format!(
        "INSERT INTO {table} (tenant_id, talk_id, {column}, views, viewers, started_views,
             watch_ms, playing_ms, rebuffer_count, rebuffer_ms, bitrate_ms, bitrate_time_ms,
             completed, failed, exits_before_start, startup_score_sum, smoothness_sum,
             startup_histogram)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    );
    let query = sqlx::query(&sql).bind(tenant).bind(talk);
    let query = match stamp {
        Stamp::Hour(at) => query.bind(at),
        Stamp::Day(day) => query.bind(day),
    };
    query
        .bind(bucket.views)
        .bind(bucket.viewers())
        .bind(bucket.started_views)
        .bind(bucket.watch_ms)
        .bind(bucket.playing_ms)
        .bind(bucket.rebuffer_count)
        .bind(bucket.rebuffer_ms)
        .bind(bucket.bitrate_ms)
        .bind(bucket.bitrate_time_ms)
        .bind(bucket.completed)
        .bind(bucket.failed)
        .bind(bucket.exits_before_start)
        .bind(bucket.startup_score_sum)
        .bind(bucket.smoothness_sum)
        .bind(&bucket.histogram)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `{[0,10),[30,41.5)}` (PostgreSQL's text form of a nummultirange) as ranges.
fn parse_multirange(text: &str) -> Vec<[f64; 2]> {
    text.trim_matches(|c| c == '{' || c == '}')
        .split("),")
        .filter_map(|range| {
            let range = range.trim_matches(|c| matches!(c, '[' | '(' | ')' | ']'));
            let (start, end) = range.split_once(',')?;
            Some([start.trim().parse().ok()?, end.trim().parse().ok()?])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiranges_read_back() {
        assert_eq!(parse_multirange("{}"), Vec::<[f64; 2]>::new());
        assert_eq!(
            parse_multirange("{[0,10),[30,41.5)}"),
            vec![[0.0, 10.0], [30.0, 41.5]]
        );
        assert_eq!(parse_multirange("{[2.25,3)}"), vec![[2.25, 3.0]]);
    }
}
