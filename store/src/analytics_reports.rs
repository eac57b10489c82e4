//! The dashboards' reads: rollup rows summed into `model::analytics::report` figures for a
//! tenant (an admin) or one editor's talks, over a period and the period before it.

use std::collections::BTreeMap;

use ferrotape_model::analytics::report::{
    DimensionRow, Overview, Period, SeriesPoint, TalkFigures, TalkReport, Totals, merge_retention,
};
use sqlx::PgPool;
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

use crate::StoreError;

/// Whose figures: a tenant's, narrowed to the talks `owner` created (editors) when set.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub tenant: Uuid,
    pub owner: Option<Uuid>,
}

/// `[from, to)` in days; a period of up to 3 days is shown by the hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Date,
    pub to: Date,
}

impl Scope {
    /// What `user` may see: the whole tenant for an admin, their own talks for an editor.
    pub fn for_user(user: &crate::accounts::UserRecord) -> Scope {
        Scope {
            tenant: user.tenant.0,
            owner: (user.role != ferrotape_model::Role::Admin).then_some(user.id),
        }
    }
}

impl Range {
    /// The half-open range of the inclusive days a dashboard or CSV was asked for.
    pub fn from_days(days: ferrotape_model::compute::DateRange) -> Range {
        Range {
            from: days.from,
            to: days.to + time::Duration::days(1),
        }
    }

    pub fn hourly(&self) -> bool {
        (self.to - self.from).whole_days() <= 3
    }

    /// The same length of time just before.
    pub fn previous(&self) -> Range {
        let length = self.to - self.from;
        Range {
            from: self.from - length,
            to: self.from,
        }
    }

    fn period(&self) -> Period {
        Period {
            from: self.from.to_string(),
            to: self.to.to_string(),
            hourly: self.hourly(),
        }
    }

    fn start(&self) -> OffsetDateTime {
        self.from.with_time(Time::MIDNIGHT).assume_utc()
    }

    fn end(&self) -> OffsetDateTime {
        self.to.with_time(Time::MIDNIGHT).assume_utc()
    }
}

#[derive(sqlx::FromRow)]
struct BucketRow {
    talk_id: Uuid,
    stamp: String,
    views: i32,
    viewers: i32,
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
    startup_histogram: Vec<i64>,
}

impl BucketRow {
    fn totals(&self) -> Totals {
        let n = |v: i64| v.max(0) as u64;
        Totals {
            views: n(i64::from(self.views)),
            viewers: n(i64::from(self.viewers)),
            started_views: n(i64::from(self.started_views)),
            watch_ms: n(self.watch_ms),
            playing_ms: n(self.playing_ms),
            rebuffer_count: n(self.rebuffer_count),
            rebuffer_ms: n(self.rebuffer_ms),
            bitrate_ms: n(self.bitrate_ms),
            bitrate_time_ms: n(self.bitrate_time_ms),
            completed: n(i64::from(self.completed)),
            failed: n(i64::from(self.failed)),
            exits_before_start: n(i64::from(self.exits_before_start)),
            startup_score_sum: self.startup_score_sum,
            smoothness_sum: self.smoothness_sum,
            startup_histogram: self.startup_histogram.iter().map(|c| n(*c)).collect(),
        }
    }
}

const BUCKET_COLUMNS: &str = "d.talk_id, d.views, d.viewers, d.started_views, d.watch_ms,
    d.playing_ms, d.rebuffer_count, d.rebuffer_ms, d.bitrate_ms, d.bitrate_time_ms, d.completed,
    d.failed, d.exits_before_start, d.startup_score_sum, d.smoothness_sum, d.startup_histogram";

/// Rollup rows of the scope in the range: hourly or daily.
async fn buckets(
    pool: &PgPool,
    scope: Scope,
    talk: Option<Uuid>,
    range: Range,
    hourly: bool,
) -> Result<Vec<BucketRow>, StoreError> {
    let sql = if hourly {
        format!(
            "SELECT {BUCKET_COLUMNS}, to_char(d.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"') AS stamp
             FROM analytics_hourly d JOIN talks t ON t.id = d.talk_id AND t.tenant_id = d.tenant_id
             WHERE d.tenant_id = $1 AND d.hour >= $2 AND d.hour < $3
               AND ($4::uuid IS NULL OR t.created_by = $4) AND ($5::uuid IS NULL OR d.talk_id = $5)"
        )
    } else {
        format!(
            "SELECT {BUCKET_COLUMNS}, to_char(d.day, 'YYYY-MM-DD') AS stamp
             FROM analytics_daily d JOIN talks t ON t.id = d.talk_id AND t.tenant_id = d.tenant_id
             WHERE d.tenant_id = $1 AND d.day >= $2::timestamptz::date AND d.day < $3::timestamptz::date
               AND ($4::uuid IS NULL OR t.created_by = $4) AND ($5::uuid IS NULL OR d.talk_id = $5)"
        )
    };
    Ok(sqlx::query_as(&sql)
        .bind(scope.tenant)
        .bind(range.start())
        .bind(range.end())
        .bind(scope.owner)
        .bind(talk)
        .fetch_all(pool)
        .await?)
}

fn sum<'a>(rows: impl IntoIterator<Item = &'a BucketRow>) -> Totals {
    let mut totals = Totals::default();
    for row in rows {
        totals.add(&row.totals());
    }
    totals
}

/// One point per hour or day of the range, zero where nothing was watched (a chart of a
/// quiet month still shows thirty days).
fn series(rows: &[BucketRow], range: Range) -> Vec<SeriesPoint> {
    let hourly = range.hourly();
    let mut by_stamp: BTreeMap<String, Totals> = BTreeMap::new();
    let mut at = range.start();
    let step = if hourly {
        time::Duration::hours(1)
    } else {
        time::Duration::days(1)
    };
    while at < range.end() {
        by_stamp.insert(stamp(at, hourly), Totals::default());
        at += step;
    }
    for row in rows {
        by_stamp
            .entry(row.stamp.clone())
            .or_default()
            .add(&row.totals());
    }
    by_stamp
        .into_iter()
        .map(|(at, totals)| SeriesPoint { at, totals })
        .collect()
}

/// The label the rollup queries give a bucket (`to_char` above).
fn stamp(at: OffsetDateTime, hourly: bool) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    if hourly {
        format!("{}T{:02}:00:00Z", at.date(), at.hour())
    } else {
        at.date().to_string()
    }
}

/// Views with an event in the last 30 s and, for the overview (no `talk`), the viewers of
/// the scope's live streams as their servers last counted them (within 30 s).
pub async fn watching_now(
    pool: &PgPool,
    scope: Scope,
    talk: Option<Uuid>,
) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM analytics_views v JOIN talks t ON t.id = v.talk_id
                 WHERE v.tenant_id = $1 AND v.last_at > now() - interval '30 seconds'
                   AND NOT v.ended AND NOT v.exited
                   AND ($2::uuid IS NULL OR t.created_by = $2)
                   AND ($3::uuid IS NULL OR v.talk_id = $3))
              + CASE WHEN $3::uuid IS NULL THEN
                    (SELECT coalesce(sum(viewers), 0) FROM live_streams
                     WHERE tenant_id = $1 AND ($2::uuid IS NULL OR owner_id = $2)
                       AND state IN ('live', 'reconnecting')
                       AND viewers_at > now() - interval '30 seconds')
                ELSE 0 END",
    )
    .bind(scope.tenant)
    .bind(scope.owner)
    .bind(talk)
    .fetch_one(pool)
    .await?;
    Ok(count.max(0) as u64)
}

#[derive(sqlx::FromRow)]
struct TalkRow {
    id: Uuid,
    title: String,
    slug: String,
}

/// The overview: totals against the previous period, the series, and every talk's figures
/// (talks without views in the period too, so an editor sees all of theirs).
pub async fn overview(pool: &PgPool, scope: Scope, range: Range) -> Result<Overview, StoreError> {
    let daily = buckets(pool, scope, None, range, false).await?;
    let previous = buckets(pool, scope, None, range.previous(), false).await?;
    let series_rows = if range.hourly() {
        buckets(pool, scope, None, range, true).await?
    } else {
        Vec::new()
    };
    let talks: Vec<TalkRow> = sqlx::query_as(
        "SELECT id, title, slug FROM talks
         WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR created_by = $2)",
    )
    .bind(scope.tenant)
    .bind(scope.owner)
    .fetch_all(pool)
    .await?;
    let mut per_talk: BTreeMap<Uuid, Totals> = BTreeMap::new();
    for row in &daily {
        per_talk.entry(row.talk_id).or_default().add(&row.totals());
    }
    let mut talk_figures: Vec<TalkFigures> = talks
        .into_iter()
        .map(|talk| TalkFigures {
            totals: per_talk.remove(&talk.id).unwrap_or_default(),
            talk: talk.id,
            title: talk.title,
            slug: talk.slug,
        })
        .collect();
    talk_figures.sort_by(|a, b| {
        b.totals
            .watch_ms
            .cmp(&a.totals.watch_ms)
            .then_with(|| a.title.cmp(&b.title))
    });
    Ok(Overview {
        period: range.period(),
        totals: sum(&daily),
        previous: sum(&previous),
        series: series(if range.hourly() { &series_rows } else { &daily }, range),
        talks: talk_figures,
        watching_now: watching_now(pool, scope, None).await?,
    })
}

/// One talk's drill-down; `None` when the talk is not in the scope.
pub async fn talk_report(
    pool: &PgPool,
    scope: Scope,
    talk: Uuid,
    range: Range,
) -> Result<Option<TalkReport>, StoreError> {
    let found: Option<TalkRow> = sqlx::query_as(
        "SELECT id, title, slug FROM talks
         WHERE id = $1 AND tenant_id = $2 AND ($3::uuid IS NULL OR created_by = $3)",
    )
    .bind(talk)
    .bind(scope.tenant)
    .bind(scope.owner)
    .fetch_optional(pool)
    .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let daily = buckets(pool, scope, Some(talk), range, false).await?;
    let previous = buckets(pool, scope, Some(talk), range.previous(), false).await?;
    let series_rows = if range.hourly() {
        buckets(pool, scope, Some(talk), range, true).await?
    } else {
        Vec::new()
    };
    let curves: Vec<(i32, Vec<f32>)> = sqlx::query_as(
        "SELECT views, curve FROM analytics_daily_retention
         WHERE talk_id = $1 AND tenant_id = $2 AND day >= $3 AND day < $4",
    )
    .bind(talk)
    .bind(scope.tenant)
    .bind(range.from)
    .bind(range.to)
    .fetch_all(pool)
    .await?;
    let curves: Vec<(u64, Vec<f64>)> = curves
        .into_iter()
        .map(|(views, curve)| {
            (
                views.max(0) as u64,
                curve.into_iter().map(f64::from).collect(),
            )
        })
        .collect();
    let dimensions: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT dimension, value, sum(views)::bigint, sum(watch_ms)::bigint
         FROM analytics_daily_dimensions
         WHERE talk_id = $1 AND tenant_id = $2 AND day >= $3 AND day < $4
         GROUP BY dimension, value
         ORDER BY dimension, sum(views) DESC, value",
    )
    .bind(talk)
    .bind(scope.tenant)
    .bind(range.from)
    .bind(range.to)
    .fetch_all(pool)
    .await?;
    Ok(Some(TalkReport {
        period: range.period(),
        talk: TalkFigures {
            talk: found.id,
            title: found.title,
            slug: found.slug,
            totals: sum(&daily),
        },
        previous: sum(&previous),
        series: series(if range.hourly() { &series_rows } else { &daily }, range),
        retention: merge_retention(&curves),
        dimensions: dimensions
            .into_iter()
            .map(|(dimension, value, views, watch_ms)| DimensionRow {
                dimension,
                value,
                views: views.max(0) as u64,
                watch_ms: watch_ms.max(0) as u64,
            })
            .collect(),
        watching_now: watching_now(pool, scope, Some(talk)).await?,
    }))
}

/// Views and watch time (ms) of each of `talks` since analytics began (the studio's list).
pub async fn lifetime_figures(
    pool: &PgPool,
    tenant: Uuid,
    talks: &[Uuid],
) -> Result<Vec<(Uuid, u64, u64)>, StoreError> {
    let rows: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "SELECT talk_id, sum(views)::bigint, sum(watch_ms)::bigint FROM analytics_daily
         WHERE tenant_id = $1 AND talk_id = ANY($2) GROUP BY talk_id",
    )
    .bind(tenant)
    .bind(talks)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(talk, views, watch_ms)| (talk, views.max(0) as u64, watch_ms.max(0) as u64))
        .collect())
}
