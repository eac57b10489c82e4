//! Talks and speakers. Every function takes the tenant and scopes its query to it.

use ferrotape_model::{SpeakerRef, TalkDetail, TalkSummary, TenantId, VideoState};
use sqlx::{PgPool, Postgres, Transaction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

/// The catalog shows at most this many talks per page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// One row of the published-talks query: the talk, its speakers in order, its newest video.
struct PublishedTalkRow {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    recorded_on: Option<Date>,
    published_at: Option<OffsetDateTime>,
    speaker_slugs: Vec<String>,
    speaker_names: Vec<String>,
    duration_ms: Option<i64>,
    video_state: Option<String>,
}

/// Published talks of a tenant, newest first; with `only_slug`, just that talk.
///
/// One checked query serves the catalog and the talk page so both always agree on what
/// "published" means. The newest video is joined laterally so a talk without video appears.
async fn published(
    pool: &PgPool,
    tenant: TenantId,
    only_slug: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<TalkDetail>, StoreError> {
    let rows = sqlx::query_as!(
        PublishedTalkRow,
        r#"
        SELECT t.id, t.slug, t.title, t.description, t.recorded_on, t.published_at,
               ARRAY(SELECT s.slug FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_slugs!",
               ARRAY(SELECT s.name FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_names!",
               v.duration_ms AS "duration_ms?",
               v.state::text AS "video_state?"
        FROM talks t
        LEFT JOIN LATERAL (
            SELECT vv.duration_ms, vv.state FROM videos vv
            WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
            ORDER BY vv.created_at DESC LIMIT 1
        ) v ON true
        WHERE t.tenant_id = $1
          AND t.published_at IS NOT NULL AND t.published_at <= now()
          AND ($2::text IS NULL OR t.slug = $2)
        ORDER BY t.published_at DESC, t.id
        LIMIT $3 OFFSET $4
        "#,
        tenant.0,
        only_slug,
        limit.clamp(1, MAX_PAGE_SIZE),
        offset.max(0),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(PublishedTalkRow::into_detail)
        .collect())
}

impl PublishedTalkRow {
    fn into_detail(self) -> TalkDetail {
        TalkDetail {
            summary: TalkSummary {
                id: self.id,
                slug: self.slug,
                title: self.title,
                speakers: self
                    .speaker_slugs
                    .into_iter()
                    .zip(self.speaker_names)
                    .map(|(slug, name)| SpeakerRef { slug, name })
                    .collect(),
                duration_seconds: self.duration_ms.map(|ms| (ms.max(0) as u64).div_ceil(1000)),
                recorded_on: self.recorded_on,
                // The query only returns published talks.
                published_at: self.published_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            },
            description: self.description,
            video_state: self.video_state.as_deref().and_then(VideoState::parse),
        }
    }
}

/// Published talks, newest first.
pub async fn list_published(
    pool: &PgPool,
    tenant: TenantId,
    limit: i64,
    offset: i64,
) -> Result<Vec<TalkSummary>, StoreError> {
    let talks = published(pool, tenant, None, limit, offset).await?;
    Ok(talks.into_iter().map(|talk| talk.summary).collect())
}

/// One published talk by its slug.
pub async fn find_published(
    pool: &PgPool,
    tenant: TenantId,
    slug: &str,
) -> Result<TalkDetail, StoreError> {
    published(pool, tenant, Some(slug), 1, 0)
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// At most this many talks go into one sitemap (the protocol's limit is 50,000 URLs).
pub const SITEMAP_LIMIT: i64 = 49_000;

/// Every published talk for `sitemap.xml`, newest first, with its newest ready video.
pub async fn sitemap(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<Vec<ferrotape_model::seo::SitemapTalk>, StoreError> {
    use time::format_description::well_known::Rfc3339;
    let rows = sqlx::query!(
        r#"
        SELECT t.slug, t.title, t.description, t.updated_at,
               t.published_at AS "published_at!",
               v.poster_key AS "poster_key?", v.master_key AS "master_key?",
               v.duration_ms AS "duration_ms?"
        FROM talks t
        LEFT JOIN LATERAL (
            SELECT vv.poster_key, vv.master_key, vv.duration_ms FROM videos vv
            WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id AND vv.state = 'ready'
            ORDER BY vv.processed_at DESC NULLS LAST LIMIT 1
        ) v ON true
        WHERE t.tenant_id = $1 AND t.published_at IS NOT NULL AND t.published_at <= now()
        ORDER BY t.published_at DESC, t.id
        LIMIT $2
        "#,
        tenant.0,
        SITEMAP_LIMIT,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ferrotape_model::seo::SitemapTalk {
            slug: row.slug,
            title: row.title,
            description: row.description,
            updated_at: row.updated_at.format(&Rfc3339).unwrap_or_default(),
            published_at: row.published_at.format(&Rfc3339).unwrap_or_default(),
            video: match (row.poster_key, row.master_key) {
                (Some(poster), Some(master)) => Some(ferrotape_model::seo::SitemapVideo {
                    thumbnail_path: format!("/media/{poster}"),
                    content_path: format!("/media/{master}"),
                    duration_secs: row.duration_ms.unwrap_or(0).max(0) as u64 / 1000,
                }),
                _ => None,
            },
        })
        .collect())
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
    let id = sqlx::query_scalar!(
        "INSERT INTO talks (tenant_id, slug, title, description, recorded_on, published_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        tenant.0,
        talk.slug,
        talk.title,
        talk.description,
        talk.recorded_on,
        talk.published_at,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("a talk with the slug `{}`", talk.slug)))?;
    for (position, speaker) in talk.speakers.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO talk_speakers (tenant_id, talk_id, speaker_id, position)
             VALUES ($1, $2, $3, $4)",
            tenant.0,
            id,
            speaker,
            position as i16,
        )
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
    sqlx::query_scalar!(
        "INSERT INTO speakers (tenant_id, slug, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, slug) DO UPDATE SET name = EXCLUDED.name
         RETURNING id",
        tenant.0,
        slug,
        name,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("the speaker `{slug}`")))
}

/// Whether a talk with this slug exists in the tenant (published or not).
pub async fn slug_taken(pool: &PgPool, tenant: TenantId, slug: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM talks WHERE tenant_id = $1 AND slug = $2) AS "taken!""#,
        tenant.0,
        slug,
    )
    .fetch_one(pool)
    .await?)
}
