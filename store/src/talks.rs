//! Talks and speakers. Every function takes the tenant and scopes its query to it.

use ferrotape_model::{SpeakerRef, TalkDetail, TalkSummary, TenantId, VideoState};
use sqlx::{PgPool, Postgres, Row, Transaction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

/// The catalog shows at most this many talks per page.
pub const MAX_PAGE_SIZE: i64 = 100;

const SUMMARY_COLUMNS: &str = r#"
    t.id, t.slug, t.title, t.description, t.recorded_on, t.published_at,
    ARRAY(SELECT s.slug FROM talk_speakers ts
          JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
          WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
          ORDER BY ts.position, s.name) AS speaker_slugs,
    ARRAY(SELECT s.name FROM talk_speakers ts
          JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
          WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
          ORDER BY ts.position, s.name) AS speaker_names,
    v.duration_ms, v.state::text AS video_state
"#;

/// The newest video of each talk, joined laterally so a talk without video still appears.
const NEWEST_VIDEO: &str = r#"
    LEFT JOIN LATERAL (
        SELECT vv.duration_ms, vv.state FROM videos vv
        WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
        ORDER BY vv.created_at DESC LIMIT 1
    ) v ON true
"#;

/// Published talks, newest first.
pub async fn list_published(
    pool: &PgPool,
    tenant: TenantId,
    limit: i64,
    offset: i64,
) -> Result<Vec<TalkSummary>, StoreError> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM talks t {NEWEST_VIDEO}
         WHERE t.tenant_id = $1 AND t.published_at IS NOT NULL AND t.published_at <= now()
         ORDER BY t.published_at DESC, t.id
         LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant.0)
        .bind(limit.clamp(1, MAX_PAGE_SIZE))
        .bind(offset.max(0))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok(detail_from_row(row)?.summary))
        .collect()
}

/// One published talk by its slug.
pub async fn find_published(
    pool: &PgPool,
    tenant: TenantId,
    slug: &str,
) -> Result<TalkDetail, StoreError> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM talks t {NEWEST_VIDEO}
         WHERE t.tenant_id = $1 AND t.slug = $2
           AND t.published_at IS NOT NULL AND t.published_at <= now()"
    );
    let row = sqlx::query(&sql)
        .bind(tenant.0)
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)?;
    detail_from_row(&row)
}

fn detail_from_row(row: &sqlx::postgres::PgRow) -> Result<TalkDetail, StoreError> {
    let slugs: Vec<String> = row.try_get("speaker_slugs")?;
    let names: Vec<String> = row.try_get("speaker_names")?;
    let duration_ms: Option<i64> = row.try_get("duration_ms")?;
    let video_state: Option<String> = row.try_get("video_state")?;
    Ok(TalkDetail {
        summary: TalkSummary {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            title: row.try_get("title")?,
            speakers: slugs
                .into_iter()
                .zip(names)
                .map(|(slug, name)| SpeakerRef { slug, name })
                .collect(),
            duration_seconds: duration_ms.map(|ms| (ms.max(0) as u64).div_ceil(1000)),
            recorded_on: row.try_get("recorded_on")?,
            published_at: row.try_get("published_at")?,
        },
        description: row.try_get("description")?,
        video_state: video_state.as_deref().and_then(VideoState::parse),
    })
}

/// What an editor (or the demo seeder) provides to create a talk.
#[derive(Debug, Clone)]
pub struct NewTalk {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub recorded_on: Option<Date>,
    pub published_at: Option<OffsetDateTime>,
    /// Speaker ids in order of appearance; each must belong to the same tenant.
    pub speakers: Vec<Uuid>,
}

pub async fn create_talk(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    talk: &NewTalk,
) -> Result<Uuid, StoreError> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO talks (tenant_id, slug, title, description, recorded_on, published_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant.0)
    .bind(&talk.slug)
    .bind(&talk.title)
    .bind(&talk.description)
    .bind(talk.recorded_on)
    .bind(talk.published_at)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("a talk with the slug `{}`", talk.slug)))?;
    for (position, speaker) in talk.speakers.iter().enumerate() {
        sqlx::query("INSERT INTO talk_speakers (tenant_id, talk_id, speaker_id, position) VALUES ($1, $2, $3, $4)")
            .bind(tenant.0)
            .bind(id)
            .bind(speaker)
            .bind(position as i16)
            .execute(&mut **tx)
            .await
            .map_err(|e| StoreError::from_write(e, "the speaker"))?;
    }
    Ok(id)
}

/// Returns the speaker with this slug, creating it on first use.
pub async fn upsert_speaker(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    slug: &str,
    name: &str,
) -> Result<Uuid, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO speakers (tenant_id, slug, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, slug) DO UPDATE SET name = EXCLUDED.name
         RETURNING id",
    )
    .bind(tenant.0)
    .bind(slug)
    .bind(name)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("the speaker `{slug}`")))
}

/// Whether a talk with this slug exists in the tenant (published or not).
pub async fn slug_taken(pool: &PgPool, tenant: TenantId, slug: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM talks WHERE tenant_id = $1 AND slug = $2)",
        )
        .bind(tenant.0)
        .bind(slug)
        .fetch_one(pool)
        .await?,
    )
}
