//! Talks as editors write them: create (from an upload or empty), edit with optimistic
//! concurrency, publish, trash and restore, list; the studio's server functions and the REST
//! API both call these, so both enforce the same rules.
//!
//! Who may change a talk: the editor who created it, or an admin of its tenant. Anyone else
//! gets `NotFound`, as if it did not exist.

use ferrotape_model::catalog::{SpeakerRef, TagRef};
use ferrotape_model::studio::StudioVideo;
use ferrotape_model::talk::{
    Chapter, EditableTalk, FieldError, Publication, Speaker, StudioTalk, StudioTalkFilter,
    TalkFields, TalkState,
};
use ferrotape_model::{TenantId, VideoState};
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;

/// The editor acting, as the request established it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: Uuid,
    /// Admins act on every talk of their tenant.
    pub admin: bool,
}

/// At most this many talks per page of the studio's list or the API.
pub const MAX_PAGE: i64 = 200;

/// Creates a talk. With `video` (one of the actor's uploads without a talk) the talk gets that
/// video; without, it waits for one. A talk starts as a draft.
pub async fn create(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    fields: TalkFields,
    video: Option<Uuid>,
) -> Result<Uuid, StoreError> {
    let mut tx = pool.begin().await?;
    let duration_ms = match video {
        Some(video) => Some(claim_video(&mut tx, tenant, actor, video).await?),
        None => None,
    };
    let fields = fields
        .normalized(duration_ms.flatten())
        .map_err(StoreError::Invalid)?;
    let wanted = fields.slug_or_from_title().map_err(StoreError::Invalid)?;
    let slug = if fields.slug.is_some() {
        wanted
    } else {
        free_slug(&mut tx, tenant, &wanted).await?
    };
    let id = sqlx::query_scalar!(
        "INSERT INTO talks (tenant_id, slug, title, created_by) VALUES ($1, $2, $3, $4)
         RETURNING id",
        tenant.0,
        slug,
        fields.title,
        actor.user,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| slug_error(e, &slug))?;
    write_fields(&mut tx, tenant, id, &fields).await?;
    if let Some(video) = video {
        sqlx::query!(
            "UPDATE videos SET talk_id = $3 WHERE tenant_id = $1 AND id = $2",
            tenant.0,
            video,
            id,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Locks one of the actor's videos that has no talk yet; its duration, when probed.
async fn claim_video(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    actor: Actor,
    video: Uuid,
) -> Result<Option<u64>, StoreError> {
    let row = sqlx::query!(
        "SELECT talk_id, uploaded_by, duration_ms FROM videos
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant.0,
        video,
    )
    .fetch_optional(&mut **tx)
    .await?
    .filter(|row| actor.admin || row.uploaded_by == Some(actor.user))
    .ok_or(StoreError::NotFound)?;
    if row.talk_id.is_some() {
        return Err(StoreError::Conflict(
            "this video already belongs to a talk".into(),
        ));
    }
    Ok(row.duration_ms.map(|ms| ms.max(0) as u64))
}

/// `wanted`, or `wanted-2`, `wanted-3`… whichever no talk has (or had).
async fn free_slug(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    wanted: &str,
) -> Result<String, StoreError> {
    let taken: Vec<String> = sqlx::query_scalar!(
        r#"SELECT slug AS "slug!" FROM talks WHERE tenant_id = $1 AND (slug = $2 OR slug LIKE $3)
           UNION ALL
           SELECT slug FROM talk_slug_history WHERE tenant_id = $1 AND (slug = $2 OR slug LIKE $3)"#,
        tenant.0,
        wanted,
        format!("{wanted}-%"),
    )
    .fetch_all(&mut **tx)
    .await?;
    let base: String = wanted
        .chars()
        .take(ferrotape_model::slug::MAX_SLUG_LEN - 6)
        .collect();
    let base = base.trim_end_matches('-');
    Ok(std::iter::once(wanted.to_owned())
        .chain((2..).map(|n| format!("{base}-{n}")))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| wanted.to_owned()))
}

/// A slug refused by the unique constraint or by the history trigger, in words.
fn slug_error(err: sqlx::Error, slug: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.constraint() == Some("talk_slug_history_pkey")
    {
        return StoreError::Invalid(FieldError::new(
            "slug",
            format!("`{slug}` was another talk's address and still leads there: choose another"),
        ));
    }
    match StoreError::from_write(err, "") {
        StoreError::Conflict(_) => StoreError::Invalid(FieldError::new(
            "slug",
            format!("another talk already has the address `{slug}`"),
        )),
        other => other,
    }
}

/// Writes the fields (already normalised) of a talk: its columns, speakers, tags, chapters.
async fn write_fields(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    talk: Uuid,
    fields: &TalkFields,
) -> Result<(), StoreError> {
    let known = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM speakers WHERE tenant_id = $1 AND id = ANY($2)"#,
        tenant.0,
        &fields.speakers,
    )
    .fetch_one(&mut **tx)
    .await?;
    if known != fields.speakers.len() as i64 {
        return Err(StoreError::Invalid(FieldError::new(
            "speakers",
            "a chosen speaker does not exist (any more)",
        )));
    }
    sqlx::query!(
        "DELETE FROM talk_speakers WHERE tenant_id = $1 AND talk_id = $2",
        tenant.0,
        talk
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO talk_speakers (tenant_id, talk_id, speaker_id, position)
         SELECT $1, $2, speaker, (ord - 1)::smallint
         FROM unnest($3::uuid[]) WITH ORDINALITY AS s(speaker, ord)",
        tenant.0,
        talk,
        &fields.speakers,
    )
    .execute(&mut **tx)
    .await?;

    let mut tag_ids = Vec::with_capacity(fields.tags.len());
    for name in &fields.tags {
        let slug = ferrotape_model::talk::tag_slug(name).map_err(StoreError::Invalid)?;
        tag_ids.push(upsert_tag_keeping_name(tx, tenant, &slug, name).await?);
    }
    sqlx::query!(
        "DELETE FROM talk_tags WHERE tenant_id = $1 AND talk_id = $2 AND tag_id <> ALL($3)",
        tenant.0,
        talk,
        &tag_ids,
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO talk_tags (tenant_id, talk_id, tag_id)
         SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING",
        tenant.0,
        talk,
        &tag_ids,
    )
    .execute(&mut **tx)
    .await?;

    sqlx::query!(
        "DELETE FROM talk_chapters WHERE tenant_id = $1 AND talk_id = $2",
        tenant.0,
        talk
    )
    .execute(&mut **tx)
    .await?;
    let starts: Vec<i64> = fields
        .chapters
        .iter()
        .map(|c| i64::try_from(c.start_ms).unwrap_or(i64::MAX))
        .collect();
    let titles: Vec<String> = fields.chapters.iter().map(|c| c.title.clone()).collect();
    sqlx::query!(
        "INSERT INTO talk_chapters (tenant_id, talk_id, start_ms, title)
         SELECT $1, $2, s, t FROM unnest($3::bigint[], $4::text[]) AS c(s, t)",
        tenant.0,
        talk,
        &starts,
        &titles,
    )
    .execute(&mut **tx)
    .await?;

    // Last, so the revision it returns is the talk's final one (the search triggers of the
    // speaker and tag rows above update the talk too).
    sqlx::query!(
        "UPDATE talks SET title = $3, description = $4, language = $5, recorded_on = $6,
                          event = $7, slug = coalesce($8, slug)
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk,
        fields.title,
        fields.description,
        fields.language,
        fields.recorded_on,
        fields.event,
        fields.slug,
    )
    .execute(&mut **tx)
    .await
    .map_err(|e| slug_error(e, fields.slug.as_deref().unwrap_or_default()))?;
    Ok(())
}

/// The tag with this slug; created with this name when new (an existing tag keeps its name:
/// typing "rust" on a talk does not rename the tenant's "Rust").
async fn upsert_tag_keeping_name(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    slug: &str,
    name: &str,
) -> Result<Uuid, StoreError> {
    if let Some(id) = sqlx::query_scalar!(
        "SELECT id FROM tags WHERE tenant_id = $1 AND slug = $2",
        tenant.0,
        slug
    )
    .fetch_optional(&mut **tx)
    .await?
    {
        return Ok(id);
    }
    sqlx::query_scalar!(
        "INSERT INTO tags (tenant_id, slug, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, slug) DO UPDATE SET slug = EXCLUDED.slug
         RETURNING id",
        tenant.0,
        slug,
        name,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("the tag `{name}`")))
}

/// The locked row of a talk the actor may change.
struct Locked {
    revision: i64,
    published_at: Option<OffsetDateTime>,
    deleted: bool,
}

async fn lock_talk(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    expected_revision: Option<i64>,
) -> Result<Locked, StoreError> {
    let row = sqlx::query!(
        "SELECT revision, created_by, published_at, deleted_at FROM talks
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant.0,
        talk,
    )
    .fetch_optional(&mut **tx)
    .await?
    .filter(|row| actor.admin || row.created_by == Some(actor.user))
    .ok_or(StoreError::NotFound)?;
    if let Some(expected) = expected_revision
        && expected != row.revision
    {
        return Err(StoreError::Stale {
            current: row.revision,
        });
    }
    Ok(Locked {
        revision: row.revision,
        published_at: row.published_at,
        deleted: row.deleted_at.is_some(),
    })
}

fn refuse_trashed(locked: &Locked) -> Result<(), StoreError> {
    if locked.deleted {
        return Err(StoreError::Conflict(
            "this talk is in the trash: restore it first".into(),
        ));
    }
    Ok(())
}

/// Replaces a talk's fields. With `expected_revision`, a talk changed since (another tab, an
/// API client) is refused with `Stale` and nothing is written. Returns the new revision.
pub async fn update(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    expected_revision: Option<i64>,
    fields: TalkFields,
) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    let locked = lock_talk(&mut tx, tenant, actor, talk, expected_revision).await?;
    refuse_trashed(&locked)?;
    let duration = served_duration_ms(&mut tx, tenant, talk).await?;
    let fields = fields.normalized(duration).map_err(StoreError::Invalid)?;
    write_fields(&mut tx, tenant, talk, &fields).await?;
    let revision = current_revision(&mut tx, tenant, talk).await?;
    tx.commit().await?;
    Ok(revision)
}

async fn current_revision(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    talk: Uuid,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT revision FROM talks WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The duration of the video a talk serves (its newest ready one, else its newest).
async fn served_duration_ms(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    talk: Uuid,
) -> Result<Option<u64>, StoreError> {
    let duration = sqlx::query_scalar!(
        "SELECT duration_ms FROM videos WHERE tenant_id = $1 AND talk_id = $2
         ORDER BY (state = 'ready') DESC, created_at DESC LIMIT 1",
        tenant.0,
        talk,
    )
    .fetch_optional(&mut **tx)
    .await?
    .flatten();
    Ok(duration.map(|ms| ms.max(0) as u64))
}

/// Publishes, schedules, unlists, unpublishes or returns a talk to draft. A talk becomes
/// reachable only with a playable video. Returns the state now and the new revision.
pub async fn set_publication(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    expected_revision: Option<i64>,
    publication: Publication,
) -> Result<(TalkState, i64), StoreError> {
    let mut tx = pool.begin().await?;
    let locked = lock_talk(&mut tx, tenant, actor, talk, expected_revision).await?;
    refuse_trashed(&locked)?;
    let now = OffsetDateTime::now_utc();
    let stored = publication
        .resolve(now, locked.published_at)
        .map_err(StoreError::Invalid)?;
    if stored.state != "draft" && stored.state != "unpublished" {
        let playable = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM videos WHERE tenant_id = $1 AND talk_id = $2
                              AND master_key IS NOT NULL AND state IN ('ready', 'processing'))
               AS "playable!""#,
            tenant.0,
            talk,
        )
        .fetch_one(&mut *tx)
        .await?;
        if !playable {
            return Err(StoreError::Invalid(FieldError::new(
                "state",
                "a talk goes public only with a playable video: add one and wait until it plays",
            )));
        }
    }
    let revision = sqlx::query_scalar!(
        "UPDATE talks SET state = $3::text::talk_state, published_at = $4
         WHERE tenant_id = $1 AND id = $2 RETURNING revision",
        tenant.0,
        talk,
        stored.state,
        stored.published_at,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let state =
        TalkState::from_stored(stored.state, stored.published_at, now).unwrap_or(TalkState::Draft);
    Ok((state, revision.max(locked.revision)))
}

/// Moves a talk to the trash: nobody can reach it any more, and it can be restored for
/// [`ferrotape_model::talk::TRASH_DAYS`] days (a draft stays a draft, anything else comes
/// back unpublished).
pub async fn trash(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    expected_revision: Option<i64>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let locked = lock_talk(&mut tx, tenant, actor, talk, expected_revision).await?;
    if locked.deleted {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE talks SET deleted_at = now(), published_at = NULL,
                          state = CASE WHEN state = 'draft' THEN 'draft' ELSE 'unpublished' END::talk_state
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes a talk out of the trash.
pub async fn restore(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    lock_talk(&mut tx, tenant, actor, talk, None).await?;
    sqlx::query!(
        "UPDATE talks SET deleted_at = NULL WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NOT NULL",
        tenant.0,
        talk,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a talk another video (one of the actor's uploads without a talk). The talk keeps its
/// address and goes on serving its current video until the new one is ready.
pub async fn attach_video(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    video: Uuid,
) -> Result<(), StoreError> {
    attach_video_expecting(pool, tenant, actor, talk, video, None).await
}

/// [`attach_video`], refused with `Stale` (nothing written) when the talk's revision is no
/// longer `expected_revision`.
pub async fn attach_video_expecting(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    video: Uuid,
    expected_revision: Option<i64>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let locked = lock_talk(&mut tx, tenant, actor, talk, expected_revision).await?;
    refuse_trashed(&locked)?;
    claim_video(&mut tx, tenant, actor, video).await?;
    sqlx::query!(
        "UPDATE videos SET talk_id = $3 WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        video,
        talk,
    )
    .execute(&mut *tx)
    .await?;
    // The talk changed (its ETag must too).
    sqlx::query!(
        "UPDATE talks SET updated_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets (or with `None` clears) the editor's poster of a talk; returns the key it replaced.
pub async fn set_poster(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    poster_key: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let mut tx = pool.begin().await?;
    let locked = lock_talk(&mut tx, tenant, actor, talk, None).await?;
    refuse_trashed(&locked)?;
    let previous = sqlx::query_scalar!(
        "SELECT poster_key FROM talks WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE talks SET poster_key = $3 WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk,
        poster_key,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(previous.filter(|p| Some(p.as_str()) != poster_key))
}

/// What a poster can be chosen from: the talk's own poster now, and the video it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosterSources {
    /// The editor's poster, if one is set.
    pub poster_key: Option<String>,
    /// The served video's master playlist and duration, once it has outputs.
    pub video: Option<VideoOutputs>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoOutputs {
    pub master_key: String,
    pub duration_ms: u64,
}

/// The poster sources of a talk the actor may change (`NotFound` otherwise). The video is the
/// one the watch page plays: the newest ready one, else the newest with playlists.
pub async fn poster_sources(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
) -> Result<PosterSources, StoreError> {
    let row = sqlx::query!(
        r#"SELECT t.created_by, t.poster_key, v.master_key AS "master_key?",
                  v.duration_ms AS "duration_ms?"
           FROM talks t
           LEFT JOIN LATERAL (
               SELECT vv.master_key, vv.duration_ms FROM videos vv
               WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
                 AND vv.master_key IS NOT NULL
               ORDER BY (vv.state = 'ready') DESC, vv.created_at DESC LIMIT 1
           ) v ON true
           WHERE t.tenant_id = $1 AND t.id = $2"#,
        tenant.0,
        talk,
    )
    .fetch_optional(pool)
    .await?
    .filter(|row| actor.admin || row.created_by == Some(actor.user))
    .ok_or(StoreError::NotFound)?;
    Ok(PosterSources {
        poster_key: row.poster_key,
        video: match (row.master_key, row.duration_ms) {
            (Some(master_key), Some(ms)) => Some(VideoOutputs {
                master_key,
                duration_ms: ms.max(0) as u64,
            }),
            _ => None,
        },
    })
}

/// One row of the studio's talk list.
struct StudioRow {
    id: Uuid,
    slug: String,
    title: String,
    state: String,
    published_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    owner: Option<String>,
    revision: i64,
    speaker_slugs: Vec<String>,
    speaker_names: Vec<String>,
    tag_slugs: Vec<String>,
    tag_names: Vec<String>,
    video_id: Option<Uuid>,
    video_name: Option<String>,
    video_state: Option<String>,
    video_progress: Option<f32>,
    video_eta_secs: Option<f64>,
    video_failure: Option<String>,
    video_duration_ms: Option<i64>,
    video_size: Option<i64>,
    video_poster_key: Option<String>,
    video_created_at: Option<OffsetDateTime>,
    video_can_retry: Option<bool>,
    video_playable: Option<bool>,
    video_upload_id: Option<Uuid>,
}

/// Where a page of the list starts: after this talk (newest created first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

/// The talks the actor may change (an admin: all of the tenant's), newest first, filtered;
/// `limit` rows after `cursor`. Each row carries its cursor.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    filter: &StudioTalkFilter,
    cursor: Option<ListCursor>,
    limit: i64,
) -> Result<Vec<(StudioTalk, ListCursor)>, StoreError> {
    studio_rows(pool, tenant, actor, filter, None, cursor, limit).await
}

/// One talk as the studio's list shows it (in the trash or not).
pub async fn find(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
) -> Result<StudioTalk, StoreError> {
    let filter = StudioTalkFilter::default();
    let mut rows = studio_rows(pool, tenant, actor, &filter, Some(talk), None, 1).await?;
    rows.pop().map(|(talk, _)| talk).ok_or(StoreError::NotFound)
}

async fn studio_rows(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    filter: &StudioTalkFilter,
    only: Option<Uuid>,
    cursor: Option<ListCursor>,
    limit: i64,
) -> Result<Vec<(StudioTalk, ListCursor)>, StoreError> {
    // Stored states a requested one covers; scheduled and published split by time below.
    let stored_state = filter.state.map(|s| match s {
        TalkState::Scheduled | TalkState::Published => "public",
        other => other.as_str(),
    });
    // Only the two public states split by time; asking `published_at > now()` of any other
    // state would compare NULL and list nothing.
    let want_scheduled = filter.state.and_then(|s| match s {
        TalkState::Scheduled => Some(true),
        TalkState::Published => Some(false),
        _ => None,
    });
    let words = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
    let rows = sqlx::query_as!(
        StudioRow,
        r#"
        SELECT t.id, t.slug, t.title, t.state::text AS "state!", t.published_at, t.updated_at,
               t.deleted_at, t.created_at, u.display_name AS "owner?", t.revision,
               ARRAY(SELECT s.slug FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_slugs!",
               ARRAY(SELECT s.name FROM talk_speakers ts
                     JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
                     WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id
                     ORDER BY ts.position, s.name) AS "speaker_names!",
               ARRAY(SELECT g.slug FROM talk_tags tt
                     JOIN tags g ON g.tenant_id = tt.tenant_id AND g.id = tt.tag_id
                     WHERE tt.tenant_id = t.tenant_id AND tt.talk_id = t.id
                     ORDER BY g.name) AS "tag_slugs!",
               ARRAY(SELECT g.name FROM talk_tags tt
                     JOIN tags g ON g.tenant_id = tt.tenant_id AND g.id = tt.tag_id
                     WHERE tt.tenant_id = t.tenant_id AND tt.talk_id = t.id
                     ORDER BY g.name) AS "tag_names!",
               v.id AS "video_id?", v.original_name AS "video_name?",
               v.state::text AS "video_state?", v.progress AS "video_progress?",
               extract(epoch FROM v.eta_at - now())::float8 AS "video_eta_secs?",
               v.failure_reason AS "video_failure?", v.duration_ms AS "video_duration_ms?",
               v.size_bytes AS "video_size?", v.poster_key AS "video_poster_key?",
               v.created_at AS "video_created_at?",
               (v.state = 'failed' AND v.source_key IS NOT NULL) AS "video_can_retry?",
               (v.state = 'processing' AND v.available_ms IS NOT NULL) AS "video_playable?",
               (SELECT up.id FROM uploads up WHERE up.video_id = v.id AND up.state = 'open')
                   AS "video_upload_id?"
        FROM talks t
        LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.created_by
        LEFT JOIN LATERAL (
            SELECT vv.* FROM videos vv
            WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
            ORDER BY vv.created_at DESC LIMIT 1
        ) v ON true
        WHERE t.tenant_id = $1
          AND ($2::bool OR t.created_by = $3)
          AND ($4::uuid IS NULL OR t.id = $4)
          AND ($5::bool IS NULL OR (t.deleted_at IS NOT NULL) = $5)
          AND ($6::text IS NULL OR t.state::text = $6)
          AND ($7::bool IS NULL OR (t.published_at > now()) = $7)
          AND ($8::text IS NULL OR t.title ILIKE $8 OR t.slug ILIKE $8)
          AND ($9::timestamptz IS NULL OR (t.created_at, t.id) < ($9, $10))
        ORDER BY t.created_at DESC, t.id DESC
        LIMIT $11
        "#,
        tenant.0,
        actor.admin,
        actor.user,
        only,
        // One talk by id: wherever it is.
        only.is_none().then_some(filter.trash),
        stored_state,
        want_scheduled,
        words,
        cursor.map(|c| c.created_at),
        cursor.map(|c| c.id).unwrap_or_else(Uuid::nil),
        limit.clamp(1, MAX_PAGE),
    )
    .fetch_all(pool)
    .await?;
    let now = OffsetDateTime::now_utc();
    Ok(rows
        .into_iter()
        .map(|row| {
            let cursor = ListCursor {
                created_at: row.created_at,
                id: row.id,
            };
            (row.into_talk(now), cursor)
        })
        .collect())
}

impl StudioRow {
    fn into_talk(self, now: OffsetDateTime) -> StudioTalk {
        let video = match (self.video_id, self.video_state.as_deref()) {
            (Some(id), Some(state)) => Some(StudioVideo {
                id,
                name: self.video_name.unwrap_or_else(|| "untitled".into()),
                state: VideoState::parse(state).unwrap_or(VideoState::Failed),
                progress: self.video_progress.unwrap_or(0.0),
                eta_secs: self
                    .video_eta_secs
                    .filter(|s| *s > 0.0)
                    .map(|s| s.ceil() as u32),
                failure_reason: self.video_failure,
                duration_ms: self.video_duration_ms,
                size_bytes: self.video_size,
                upload_id: self.video_upload_id,
                can_retry: self.video_can_retry.unwrap_or(false),
                playable: self.video_playable.unwrap_or(false),
                poster_url: self.video_poster_key.map(|key| format!("/media/{key}")),
                created_at: self
                    .video_created_at
                    .and_then(|at| at.format(&Rfc3339).ok())
                    .unwrap_or_default(),
                captions: Vec::new(),
            }),
            _ => None,
        };
        StudioTalk {
            id: self.id,
            slug: self.slug,
            title: self.title,
            state: TalkState::from_stored(&self.state, self.published_at, now)
                .unwrap_or(TalkState::Draft),
            published_at: self.published_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
            owner: self.owner,
            speakers: self
                .speaker_slugs
                .into_iter()
                .zip(self.speaker_names)
                .map(|(slug, name)| SpeakerRef { slug, name })
                .collect(),
            tags: self
                .tag_slugs
                .into_iter()
                .zip(self.tag_names)
                .map(|(slug, name)| TagRef { slug, name })
                .collect(),
            video,
            revision: self.revision,
        }
    }
}

/// Everything the talk editor shows. Media URLs are plain `/media/…` paths; callers sign them
/// for preview.
pub async fn editable(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
) -> Result<EditableTalk, StoreError> {
    let summary = find(pool, tenant, actor, talk).await?;
    let row = sqlx::query!(
        r#"SELECT t.description, t.language, t.recorded_on, t.event, t.poster_key,
                  v.duration_ms AS "duration_ms?", v.poster_key AS "video_poster?",
                  v.thumbnails_key AS "thumbnails_key?", v.master_key AS "master_key?"
           FROM talks t
           LEFT JOIN LATERAL (
               SELECT vv.duration_ms, vv.poster_key, vv.thumbnails_key, vv.master_key
               FROM videos vv WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
               ORDER BY (vv.state = 'ready') DESC, vv.created_at DESC LIMIT 1
           ) v ON true
           WHERE t.tenant_id = $1 AND t.id = $2"#,
        tenant.0,
        talk,
    )
    .fetch_one(pool)
    .await?;
    let speakers = sqlx::query!(
        "SELECT s.id, s.slug, s.name, s.bio, s.links, s.photo_key, s.revision
         FROM talk_speakers ts JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
         WHERE ts.tenant_id = $1 AND ts.talk_id = $2 ORDER BY ts.position, s.name",
        tenant.0,
        talk,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|s| Speaker {
        id: s.id,
        slug: s.slug,
        name: s.name,
        bio: s.bio,
        links: s.links,
        photo_url: s.photo_key.map(|key| format!("/media/{key}")),
        revision: s.revision,
    })
    .collect();
    let chapters = sqlx::query!(
        "SELECT start_ms, title FROM talk_chapters WHERE tenant_id = $1 AND talk_id = $2
         ORDER BY start_ms",
        tenant.0,
        talk,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|c| Chapter {
        start_ms: c.start_ms.max(0) as u64,
        title: c.title,
    })
    .collect();
    let custom_poster = row.poster_key.is_some();
    Ok(EditableTalk {
        talk: summary,
        description: row.description,
        language: row.language,
        recorded_on: row.recorded_on,
        event: row.event,
        speakers,
        chapters,
        duration_ms: row.duration_ms.map(|ms| ms.max(0) as u64),
        poster_url: row
            .poster_key
            .or(row.video_poster)
            .map(|key| format!("/media/{key}")),
        custom_poster,
        thumbnails_url: row.thumbnails_key.map(|key| format!("/media/{key}")),
        master_url: row.master_key.map(|key| format!("/media/{key}")),
    })
}

/// The current slug of the reachable talk that once had `old_slug`, for a 301.
pub async fn redirect_for_old_slug(
    pool: &PgPool,
    tenant: TenantId,
    old_slug: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT t.slug FROM talk_slug_history h
         JOIN talks t ON t.tenant_id = h.tenant_id AND t.id = h.talk_id
         WHERE h.tenant_id = $1 AND h.slug = $2
           AND ((t.state = 'public' AND t.published_at <= now()) OR t.state = 'unlisted')",
        tenant.0,
        old_slug,
    )
    .fetch_optional(pool)
    .await?)
}

/// A talk purged from the trash, with what its media must lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedTalk {
    pub tenant: TenantId,
    pub talk: Uuid,
    /// Its videos, now deleted: their prefixes `{tenant}/{video}/` are to be removed.
    pub videos: Vec<Uuid>,
}

/// Deletes up to `batch` talks that have been in the trash since before `cutoff`, with their
/// videos' rows; the caller deletes their stored media. `SKIP LOCKED`, so two workers never
/// purge one talk twice.
pub async fn purge_trashed(
    pool: &PgPool,
    cutoff: OffsetDateTime,
    batch: i64,
) -> Result<Vec<PurgedTalk>, StoreError> {
    let mut tx = pool.begin().await?;
    let talks = sqlx::query!(
        "SELECT tenant_id, id FROM talks WHERE deleted_at < $1
         ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        cutoff,
        batch,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut purged = Vec::with_capacity(talks.len());
    for talk in talks {
        let videos = sqlx::query_scalar!(
            "DELETE FROM videos WHERE tenant_id = $1 AND talk_id = $2 RETURNING id",
            talk.tenant_id,
            talk.id,
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM talks WHERE tenant_id = $1 AND id = $2",
            talk.tenant_id,
            talk.id
        )
        .execute(&mut *tx)
        .await?;
        purged.push(PurgedTalk {
            tenant: TenantId(talk.tenant_id),
            talk: talk.id,
            videos,
        });
    }
    tx.commit().await?;
    Ok(purged)
}

/// A video a talk no longer serves, deleted; its stored media is the caller's to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedVideo {
    pub tenant: TenantId,
    pub video: Uuid,
}

/// Deletes up to `batch` videos replaced on their talk: an older video of a talk whose newer
/// video has been ready since before `ready_before` (the grace lets players that loaded the old
/// playlist finish). `SKIP LOCKED`, so two workers never remove one video twice.
pub async fn remove_replaced_videos(
    pool: &PgPool,
    ready_before: OffsetDateTime,
    batch: i64,
) -> Result<Vec<RemovedVideo>, StoreError> {
    let rows = sqlx::query!(
        "DELETE FROM videos WHERE id IN (
             SELECT old.id FROM videos old
             WHERE old.talk_id IS NOT NULL AND EXISTS (
                 SELECT 1 FROM videos newer
                 WHERE newer.tenant_id = old.tenant_id AND newer.talk_id = old.talk_id
                   AND newer.state = 'ready' AND newer.created_at > old.created_at
                   AND newer.processed_at < $1)
             LIMIT $2 FOR UPDATE OF old SKIP LOCKED)
         RETURNING tenant_id, id",
        ready_before,
        batch,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| RemovedVideo {
            tenant: TenantId(row.tenant_id),
            video: row.id,
        })
        .collect())
}
