//! Talks and speakers. Every function takes the tenant and scopes its query to it.

use ferrotape_model::catalog::{SpokenMatch, media_path};
use ferrotape_model::{
    CatalogHit, CatalogQuery, CatalogResults, PlayableVideo, SpeakerRef, TagRef, TalkDetail,
    TalkSummary, TenantId, VideoState,
};
use sqlx::{PgPool, Postgres, Transaction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

/// The catalog shows at most this many talks per page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// One row of the published-talks query: the talk, its speakers in order, its video.
struct PublishedTalkRow {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    recorded_on: Option<Date>,
    published_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
    speaker_slugs: Vec<String>,
    speaker_names: Vec<String>,
    video_id: Option<Uuid>,
    duration_ms: Option<i64>,
    video_state: Option<String>,
    master_key: Option<String>,
    poster_key: Option<String>,
    thumbnails_key: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    listed: bool,
    event: String,
    language: Option<String>,
    chapter_starts: Vec<i64>,
    chapter_titles: Vec<String>,
    available_ms: Option<i64>,
}

/// Which published talk to read.
#[derive(Debug, Clone, Copy)]
enum Selection<'a> {
    Slug(&'a str),
    Id(Uuid),
}

/// A talk anyone with its link may watch (published, or unlisted), by slug or id.
///
/// One checked query serves the watch page, the embed and oEmbed so all agree on what
/// "reachable" means. The video is joined laterally so a talk without video appears; a ready
/// video wins over a newer one still processing, so a re-upload never takes a talk offline,
/// and a processing video that is already playable (interim master) wins over one that is not.
async fn published(
    pool: &PgPool,
    tenant: TenantId,
    selection: Selection<'_>,
) -> Result<Vec<TalkDetail>, StoreError> {
    let (slug, id) = match selection {
        Selection::Slug(slug) => (Some(slug), None),
        Selection::Id(id) => (None, Some(id)),
    };
    let rows = sqlx::query_as!(
        PublishedTalkRow,
        r#"
        SELECT t.id, t.slug, t.title, t.description, t.recorded_on, t.published_at, t.updated_at,
               (t.state = 'public') AS "listed!", t.event, t.language,
               ARRAY(SELECT c.start_ms FROM talk_chapters c
                     WHERE c.tenant_id = t.tenant_id AND c.talk_id = t.id
                     ORDER BY c.start_ms) AS "chapter_starts!",
               ARRAY(SELECT c.title FROM talk_chapters c
                     WHERE c.tenant_id = t.tenant_id AND c.talk_id = t.id
                     ORDER BY c.start_ms) AS "chapter_titles!",
               ARRAY(SELECT s.slug FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_slugs!",
               ARRAY(SELECT s.name FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_names!",
               v.id AS "video_id?",
               v.duration_ms AS "duration_ms?",
               v.state::text AS "video_state?",
               v.master_key AS "master_key?",
               coalesce(t.poster_key, v.poster_key) AS "poster_key?",
               v.thumbnails_key AS "thumbnails_key?",
               v.width AS "width?",
               v.height AS "height?",
               v.available_ms AS "available_ms?"
        FROM talks t
        LEFT JOIN LATERAL (
            SELECT vv.id, vv.duration_ms, vv.state, vv.master_key, vv.poster_key,
                   vv.thumbnails_key, vv.width, vv.height, vv.available_ms
            FROM videos vv
            WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
            ORDER BY (vv.state = 'ready') DESC,
                     (vv.state = 'processing' AND vv.master_key IS NOT NULL) DESC,
                     vv.created_at DESC LIMIT 1
        ) v ON true
        WHERE t.tenant_id = $1
          AND ((t.state = 'public' AND t.published_at <= now()) OR t.state = 'unlisted')
          AND ($2::text IS NULL OR t.slug = $2)
          AND ($3::uuid IS NULL OR t.id = $3)
        "#,
        tenant.0,
        slug,
        id,
    )
    .fetch_all(pool)
    .await?;
    let mut talks: Vec<TalkDetail> = rows
        .into_iter()
        .map(PublishedTalkRow::into_detail)
        .collect();
    for talk in &mut talks {
        if let Some(video) = talk.video.as_mut() {
            video.captions = crate::subtitles::captions_for(pool, tenant, video.id).await?;
            talk.transcript =
                crate::subtitles::transcript_for(pool, tenant, video.id, talk.language.as_deref())
                    .await?;
        }
    }
    Ok(talks)
}

impl PublishedTalkRow {
    fn into_detail(self) -> TalkDetail {
        let video_state = self.video_state.as_deref().and_then(VideoState::parse);
        let poster_url = self.poster_key.as_deref().map(media_path);
        let video = match (video_state, self.video_id, self.master_key.as_deref()) {
            // Processing with a master: the interim one (growing playlists, `available_ms`),
            // or the finished one a re-transcode keeps serving until it switches.
            (Some(VideoState::Ready | VideoState::Processing), Some(id), Some(master)) => {
                Some(PlayableVideo {
                    id,
                    master_url: media_path(master),
                    poster_url: poster_url.clone(),
                    thumbnails_url: self.thumbnails_key.as_deref().map(media_path),
                    width: self.width.and_then(|w| u32::try_from(w).ok()),
                    height: self.height.and_then(|h| u32::try_from(h).ok()),
                    processing: self.available_ms.is_some(),
                    available_seconds: self
                        .available_ms
                        .and_then(|ms| u64::try_from(ms / 1000).ok()),
                    captions: Vec::new(),
                })
            }
            _ => None,
        };
        TalkDetail {
            summary: TalkSummary {
                id: self.id,
                slug: self.slug,
                title: self.title,
                speakers: speaker_refs(self.speaker_slugs, self.speaker_names),
                duration_seconds: duration_seconds(self.duration_ms),
                recorded_on: self.recorded_on,
                // An unlisted talk has no publication time; its page shows the recording date
                // or, failing that, when it was last changed.
                published_at: self.published_at.unwrap_or(self.updated_at),
                poster_url: video.as_ref().and(poster_url),
            },
            description: self.description,
            video_state,
            video,
            updated_at: self.updated_at,
            chapters: self
                .chapter_starts
                .into_iter()
                .zip(self.chapter_titles)
                .map(|(start, title)| ferrotape_model::talk::Chapter {
                    start_ms: start.max(0) as u64,
                    title,
                })
                .collect(),
            listed: self.listed,
            description_html: String::new(),
            event: self.event,
            language: self.language,
            transcript: Vec::new(),
        }
    }
}

/// Speakers from the two parallel arrays the queries select (slugs and names, in order).
pub(crate) fn speaker_refs(slugs: Vec<String>, names: Vec<String>) -> Vec<SpeakerRef> {
    slugs
        .into_iter()
        .zip(names)
        .map(|(slug, name)| SpeakerRef { slug, name })
        .collect()
}

/// Whole seconds, rounded up: a 0.4 s clip is "0:01", not "0:00".
pub(crate) fn duration_seconds(duration_ms: Option<i64>) -> Option<u64> {
    duration_ms.map(|ms| (ms.max(0) as u64).div_ceil(1000))
}

/// One row of the catalog query.
struct CatalogRow {
    id: Uuid,
    slug: String,
    title: String,
    recorded_on: Option<Date>,
    published_at: Option<OffsetDateTime>,
    speaker_slugs: Vec<String>,
    speaker_names: Vec<String>,
    duration_ms: Option<i64>,
    poster_key: Option<String>,
    marked_title: Option<String>,
    marked_excerpt: Option<String>,
    spoken_start_ms: Option<i64>,
    spoken_line: Option<String>,
    total: i64,
}

/// `ts_headline` options: matches between the model's marks, whole title, a short excerpt.
const TITLE_HEADLINE: &str = "StartSel=\u{1}, StopSel=\u{2}, HighlightAll=true";
const EXCERPT_HEADLINE: &str = "StartSel=\u{1}, StopSel=\u{2}, MaxWords=28, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"";

/// A page of the catalog: published talks matching the search text (Postgres full text over
/// title, speakers, tags and description, best matches first) and the tag and speaker
/// filters; newest first without search text. Hits carry highlighted titles and excerpts.
pub async fn catalog(
    pool: &PgPool,
    tenant: TenantId,
    query: &CatalogQuery,
    page_size: u32,
) -> Result<CatalogResults, StoreError> {
    let page_size = i64::from(page_size).clamp(1, MAX_PAGE_SIZE);
    let offset = i64::from(query.page.max(1) - 1).saturating_mul(page_size);
    let rows = catalog_page(pool, tenant, query, page_size, offset).await?;
    let mut total = rows.first().map_or(0, |row| row.total.max(0) as u64);
    if rows.is_empty() && query.page > 1 {
        // Past the last page the window count has no row to ride on; the first match has it.
        let first = catalog_page(pool, tenant, query, 1, 0).await?;
        total = first.first().map_or(0, |row| row.total.max(0) as u64);
    }
    let hits = rows
        .into_iter()
        .map(|row| CatalogHit {
            talk: TalkSummary {
                id: row.id,
                slug: row.slug,
                title: row.title,
                speakers: speaker_refs(row.speaker_slugs, row.speaker_names),
                duration_seconds: duration_seconds(row.duration_ms),
                recorded_on: row.recorded_on,
                published_at: row.published_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
                poster_url: row.poster_key.as_deref().map(media_path),
            },
            marked_title: row.marked_title,
            marked_excerpt: row.marked_excerpt,
            spoken: row
                .spoken_line
                .zip(row.spoken_start_ms)
                .map(|(marked_line, start_ms)| SpokenMatch {
                    marked_line,
                    start_seconds: (start_ms.max(0) / 1000) as u64,
                }),
        })
        .collect();
    let (tags, speakers) = filters(pool, tenant).await?;
    Ok(CatalogResults {
        query: query.clone(),
        hits,
        total,
        page_size: page_size as u32,
        tags,
        speakers,
    })
}

/// `page_size` matching talks from `offset`, each row carrying the count of all matches.
async fn catalog_page(
    pool: &PgPool,
    tenant: TenantId,
    query: &CatalogQuery,
    page_size: i64,
    offset: i64,
) -> Result<Vec<CatalogRow>, StoreError> {
    Ok(sqlx::query_as!(
        CatalogRow,
        r#"
        WITH search AS (
            SELECT CASE WHEN $2::text IS NULL THEN NULL
                        ELSE websearch_to_tsquery('english', $2) END AS q
        ),
        -- Talks whose spoken words match (the transcript lines' own index, once).
        spoken AS (
            SELECT vv.talk_id, max(ts_rank_cd(l.search, search.q)) AS rank
            FROM search
            JOIN transcript_lines l ON l.tenant_id = $1 AND l.search @@ search.q
            JOIN videos vv ON vv.tenant_id = l.tenant_id AND vv.id = l.video_id
            WHERE search.q IS NOT NULL AND vv.talk_id IS NOT NULL
            GROUP BY vv.talk_id
        ),
        -- The page's talks, ranked, with the count of all matches: only cheap columns here,
        -- because the window count makes Postgres compute every matching row's columns.
        page AS (
            SELECT t.id, t.published_at,
                   -- What a talk is about (title, speakers, tags, description) ranks above
                   -- what is said in it.
                   CASE WHEN search.q IS NULL THEN 0
                        ELSE ts_rank_cd(t.search, search.q) + 0.1 * coalesce(spoken.rank, 0)
                   END AS rank,
                   count(*) OVER () AS total
            FROM talks t
            CROSS JOIN search
            LEFT JOIN spoken ON spoken.talk_id = t.id
            WHERE t.tenant_id = $1
              AND t.published_at IS NOT NULL AND t.published_at <= now()
              AND (search.q IS NULL OR t.search @@ search.q OR spoken.talk_id IS NOT NULL)
              AND ($3::text IS NULL OR EXISTS (
                    SELECT 1 FROM talk_tags tt JOIN tags g ON g.tenant_id = tt.tenant_id AND g.id = tt.tag_id
                    WHERE tt.tenant_id = t.tenant_id AND tt.talk_id = t.id AND g.slug = $3))
              AND ($4::text IS NULL OR EXISTS (
                    SELECT 1 FROM talk_speakers ts JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                    WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id AND s.slug = $4))
            ORDER BY rank DESC, t.published_at DESC, t.id
            LIMIT $5 OFFSET $6
        )
        -- Speakers, the video and the highlighted matches for those talks only.
        SELECT t.id, t.slug, t.title, t.recorded_on, t.published_at,
               ARRAY(SELECT s.slug FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_slugs!",
               ARRAY(SELECT s.name FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_names!",
               v.duration_ms AS "duration_ms?",
               coalesce(t.poster_key, v.poster_key) AS "poster_key?",
               CASE WHEN search.q IS NULL THEN NULL
                    ELSE ts_headline('english', t.title, search.q, $7) END AS marked_title,
               CASE WHEN search.q IS NULL OR t.description = '' THEN NULL
                    ELSE ts_headline('english', t.description, search.q, $8) END AS marked_excerpt,
               line.start_ms AS "spoken_start_ms?",
               CASE WHEN line.text IS NULL THEN NULL
                    ELSE ts_headline('english', line.text, search.q, $7) END AS spoken_line,
               page.total AS "total!"
        FROM page
        JOIN talks t ON t.tenant_id = $1 AND t.id = page.id
        CROSS JOIN search
        -- The line that matches best, earliest first, to show and to link to.
        LEFT JOIN LATERAL (
            SELECT l.start_ms, l.text
            FROM transcript_lines l
            JOIN videos vv ON vv.tenant_id = l.tenant_id AND vv.id = l.video_id
            WHERE search.q IS NOT NULL AND l.tenant_id = t.tenant_id AND vv.talk_id = t.id
              AND l.search @@ search.q
            ORDER BY ts_rank_cd(l.search, search.q) DESC, l.start_ms LIMIT 1
        ) line ON true
        LEFT JOIN LATERAL (
            SELECT vv.duration_ms, CASE WHEN vv.state = 'ready' THEN vv.poster_key END AS poster_key
            FROM videos vv
            WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
            ORDER BY (vv.state = 'ready') DESC, vv.created_at DESC LIMIT 1
        ) v ON true
        ORDER BY page.rank DESC, page.published_at DESC, page.id
        "#,
        tenant.0,
        query.q.as_deref(),
        query.tag.as_deref(),
        query.speaker.as_deref(),
        page_size,
        offset,
        TITLE_HEADLINE,
        EXCERPT_HEADLINE,
    )
    .fetch_all(pool)
    .await?)
}

/// Tags and speakers that have at least one published talk, by name.
async fn filters(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<(Vec<TagRef>, Vec<SpeakerRef>), StoreError> {
    let tags = sqlx::query_as!(
        TagRef,
        "SELECT g.slug, g.name FROM tags g
         WHERE g.tenant_id = $1 AND EXISTS (
             SELECT 1 FROM talk_tags tt JOIN talks t ON t.tenant_id = tt.tenant_id AND t.id = tt.talk_id
             WHERE tt.tenant_id = g.tenant_id AND tt.tag_id = g.id
               AND t.published_at IS NOT NULL AND t.published_at <= now())
         ORDER BY g.name",
        tenant.0,
    )
    .fetch_all(pool)
    .await?;
    let speakers = sqlx::query_as!(
        SpeakerRef,
        "SELECT s.slug, s.name FROM speakers s
         WHERE s.tenant_id = $1 AND EXISTS (
             SELECT 1 FROM talk_speakers ts JOIN talks t ON t.tenant_id = ts.tenant_id AND t.id = ts.talk_id
             WHERE ts.tenant_id = s.tenant_id AND ts.speaker_id = s.id
               AND t.published_at IS NOT NULL AND t.published_at <= now())
         ORDER BY s.name",
        tenant.0,
    )
    .fetch_all(pool)
    .await?;
    Ok((tags, speakers))
}

/// A speaker's page: name, bio and photo (talks come from [`catalog`] with the speaker filter).
pub async fn find_speaker(
    pool: &PgPool,
    tenant: TenantId,
    slug: &str,
) -> Result<ferrotape_model::catalog::SpeakerProfile, StoreError> {
    sqlx::query_as!(
        ferrotape_model::catalog::SpeakerProfile,
        r#"SELECT slug, name, bio, '/media/' || photo_key AS "photo_url?"
           FROM speakers WHERE tenant_id = $1 AND slug = $2"#,
        tenant.0,
        slug,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Returns the tag with this slug, creating it on first use.
pub async fn upsert_tag(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    slug: &str,
    name: &str,
) -> Result<Uuid, StoreError> {
    sqlx::query_scalar!(
        "INSERT INTO tags (tenant_id, slug, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, slug) DO UPDATE SET name = EXCLUDED.name
         RETURNING id",
        tenant.0,
        slug,
        name,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("the tag `{slug}`")))
}

/// Tags a talk (idempotent).
pub async fn tag_talk(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    talk: Uuid,
    tag: Uuid,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO talk_tags (tenant_id, talk_id, tag_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        tenant.0,
        talk,
        tag,
    )
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the tag"))?;
    Ok(())
}

/// One published talk by its slug.
pub async fn find_published(
    pool: &PgPool,
    tenant: TenantId,
    slug: &str,
) -> Result<TalkDetail, StoreError> {
    published(pool, tenant, Selection::Slug(slug))
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// One published talk by its id (embeds use ids: they outlive a renamed slug).
pub async fn find_published_by_id(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<TalkDetail, StoreError> {
    published(pool, tenant, Selection::Id(id))
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// The id of a talk (published or not) by its slug.
pub async fn id_by_slug(pool: &PgPool, tenant: TenantId, slug: &str) -> Result<Uuid, StoreError> {
    sqlx::query_scalar!(
        "SELECT id FROM talks WHERE tenant_id = $1 AND slug = $2",
        tenant.0,
        slug,
    )
    .fetch_optional(pool)
    .await?
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
               coalesce(t.poster_key, v.poster_key) AS "poster_key?", v.master_key AS "master_key?",
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
        "INSERT INTO talks (tenant_id, slug, title, description, recorded_on, published_at, state)
         VALUES ($1, $2, $3, $4, $5, $6,
                 CASE WHEN $6::timestamptz IS NULL THEN 'draft' ELSE 'public' END::talk_state)
         RETURNING id",
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
