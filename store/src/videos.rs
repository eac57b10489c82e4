//! Videos as the studio lists them.

use ferrotape_model::api::ApiVideo;
use ferrotape_model::studio::StudioVideo;
use ferrotape_model::{TenantId, VideoState};
use sqlx::PgPool;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;
use crate::studio_talks::Actor;

/// The channel a database trigger announces every studio-visible video change on
/// (migration `video_events`); the payload is a [`VideoEvent`].
pub const VIDEO_EVENTS_CHANNEL: &str = "ferrotape_video_events";

/// Which video changed, as the trigger announces it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct VideoEvent {
    pub tenant: Uuid,
    pub video: Uuid,
    pub uploaded_by: Option<Uuid>,
    pub deleted: bool,
}

/// The videos `user` uploaded, newest first.
pub async fn list_for_uploader(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    limit: i64,
) -> Result<Vec<StudioVideo>, StoreError> {
    studio_rows(pool, tenant, user, None, false, limit).await
}

/// The videos `user` uploaded that belong to no talk yet, newest first (the studio offers to
/// make a talk of each).
pub async fn orphans_for_uploader(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    limit: i64,
) -> Result<Vec<StudioVideo>, StoreError> {
    studio_rows(pool, tenant, user, None, true, limit).await
}

/// One of the videos `user` uploaded, as the studio lists it.
pub async fn find_for_uploader(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    video: Uuid,
) -> Result<Option<StudioVideo>, StoreError> {
    Ok(studio_rows(pool, tenant, user, Some(video), false, 1)
        .await?
        .into_iter()
        .next())
}

async fn studio_rows(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    only: Option<Uuid>,
    orphans_only: bool,
    limit: i64,
) -> Result<Vec<StudioVideo>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT v.id, coalesce(v.original_name, 'untitled') AS "name!", v.state::text AS "state!",
                  v.progress, extract(epoch FROM v.eta_at - now())::float8 AS eta_secs,
                  v.failure_reason, v.duration_ms, v.size_bytes, v.poster_key, v.created_at,
                  (v.state = 'failed' AND v.source_key IS NOT NULL) AS "can_retry!",
                  (v.state = 'processing' AND v.available_ms IS NOT NULL) AS "playable!",
                  (SELECT u.id FROM uploads u WHERE u.video_id = v.id AND u.state = 'open') AS upload_id
           FROM videos v
           WHERE v.tenant_id = $1 AND v.uploaded_by = $2 AND ($4::uuid IS NULL OR v.id = $4)
             AND (NOT $5 OR v.talk_id IS NULL)
           ORDER BY v.created_at DESC
           LIMIT $3"#,
        tenant.0,
        user,
        limit,
        only,
        orphans_only,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StudioVideo {
            id: row.id,
            name: row.name,
            state: VideoState::parse(&row.state).unwrap_or(VideoState::Failed),
            progress: row.progress,
            eta_secs: row.eta_secs.filter(|s| *s > 0.0).map(|s| s.ceil() as u32),
            failure_reason: row.failure_reason,
            duration_ms: row.duration_ms,
            size_bytes: row.size_bytes,
            upload_id: row.upload_id,
            can_retry: row.can_retry,
            playable: row.playable,
            poster_url: row.poster_key.map(|key| format!("/media/{key}")),
            created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
            captions: Vec::new(),
        })
        .collect())
}

/// From when the media under `{tenant}/{id}/` may be served to anyone. `id` is a video (its
/// talk's publication time; an unlisted talk's video from the epoch on: anyone with the link
/// may watch), a talk (its editor-chosen poster, by the same rule) or a speaker (a public
/// profile photo: always). `None` for a draft's, unpublished or trashed talk's media, a video
/// without a talk, or no such id. One lookup by primary keys (`/media` asks it, through a
/// short in-process cache, for public segments).
pub async fn public_since(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<time::OffsetDateTime>, StoreError> {
    let since = sqlx::query_scalar!(
        r#"SELECT CASE t.state WHEN 'unlisted' THEN 'epoch'::timestamptz
                               WHEN 'public' THEN t.published_at END AS since
           FROM talks t
           WHERE t.tenant_id = $1
             AND (t.id = $2 OR t.id = (SELECT v.talk_id FROM videos v
                                       WHERE v.tenant_id = $1 AND v.id = $2))
           UNION ALL
           SELECT 'epoch'::timestamptz FROM speakers s WHERE s.tenant_id = $1 AND s.id = $2
           LIMIT 1"#,
        tenant.0,
        id,
    )
    .fetch_optional(pool)
    .await?;
    Ok(since.flatten())
}

/// Whether `video` is still transcoding (its playlists may change at any moment).
pub async fn is_processing(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<bool, StoreError> {
    let processing = sqlx::query_scalar!(
        r#"SELECT (state = 'processing') AS "processing!" FROM videos
           WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        video,
    )
    .fetch_optional(pool)
    .await?;
    Ok(processing.unwrap_or(false))
}

/// Where a page of the API's video list starts: after this video (newest first).
pub use crate::studio_talks::ListCursor as VideoCursor;

/// Videos as the API lists them: the actor's uploads (an admin: every video of the tenant),
/// newest first, `limit` after `cursor`, each with its talk and its cursor.
pub async fn list_for_actor(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    only: Option<Uuid>,
    cursor: Option<VideoCursor>,
    limit: i64,
) -> Result<Vec<(ApiVideo, VideoCursor)>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT v.id, coalesce(v.original_name, 'untitled') AS "name!", v.state::text AS "state!",
                  v.progress, extract(epoch FROM v.eta_at - now())::float8 AS eta_secs,
                  v.failure_reason, v.duration_ms, v.size_bytes, v.poster_key, v.created_at,
                  v.talk_id,
                  (v.state = 'processing' AND v.available_ms IS NOT NULL) AS "playable!",
                  (v.state = 'failed' AND v.source_key IS NOT NULL) AS "can_retry!",
                  (SELECT u.id FROM uploads u WHERE u.video_id = v.id AND u.state = 'open') AS upload_id
           FROM videos v
           WHERE v.tenant_id = $1 AND ($2::bool OR v.uploaded_by = $3)
             AND ($4::uuid IS NULL OR v.id = $4)
             AND ($5::timestamptz IS NULL OR (v.created_at, v.id) < ($5, $6))
           ORDER BY v.created_at DESC, v.id DESC
           LIMIT $7"#,
        tenant.0,
        actor.admin,
        actor.user,
        only,
        cursor.map(|c| c.created_at),
        cursor.map(|c| c.id).unwrap_or_else(Uuid::nil),
        limit.clamp(1, crate::studio_talks::MAX_PAGE),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let cursor = VideoCursor {
                created_at: row.created_at,
                id: row.id,
            };
            let video = StudioVideo {
                id: row.id,
                name: row.name,
                state: VideoState::parse(&row.state).unwrap_or(VideoState::Failed),
                progress: row.progress,
                eta_secs: row.eta_secs.filter(|s| *s > 0.0).map(|s| s.ceil() as u32),
                failure_reason: row.failure_reason,
                duration_ms: row.duration_ms,
                size_bytes: row.size_bytes,
                upload_id: row.upload_id,
                can_retry: row.can_retry,
                playable: row.playable,
                poster_url: row.poster_key.map(|key| format!("/media/{key}")),
                created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
                captions: Vec::new(),
            };
            (
                ApiVideo {
                    video,
                    talk_id: row.talk_id,
                },
                cursor,
            )
        })
        .collect())
}

/// One video the actor may see.
pub async fn find_for_actor(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    video: Uuid,
) -> Result<ApiVideo, StoreError> {
    list_for_actor(pool, tenant, actor, Some(video), None, 1)
        .await?
        .pop()
        .map(|(video, _)| video)
        .ok_or(StoreError::NotFound)
}

/// Deletes one of the actor's videos that no talk serves, ready or failed (an upload in
/// progress is cancelled through its upload; a transcode must end first). The caller deletes
/// its stored media under `{tenant}/{video}/`.
pub async fn delete_unserved(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    video: Uuid,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        r#"SELECT v.state::text AS "state!", v.uploaded_by, v.talk_id FROM videos v
           WHERE v.tenant_id = $1 AND v.id = $2 FOR UPDATE"#,
        tenant.0,
        video,
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|row| actor.admin || row.uploaded_by == Some(actor.user))
    .ok_or(StoreError::NotFound)?;
    match row.state.as_str() {
        "uploading" => {
            return Err(StoreError::Conflict(
                "this video is still uploading: cancel its upload (DELETE /api/v1/uploads/{id})"
                    .into(),
            ));
        }
        "processing" => {
            return Err(StoreError::Conflict(
                "this video is being transcoded: delete it once it is ready or has failed".into(),
            ));
        }
        _ => {}
    }
    if let Some(talk) = row.talk_id {
        // The talk's served video, as its pages pick it (the newest ready, else the newest);
        // the talk's row is locked so a concurrent attach cannot change the answer.
        let served = sqlx::query_scalar!(
            "SELECT v.id FROM talks t JOIN videos v ON v.tenant_id = t.tenant_id AND v.talk_id = t.id
             WHERE t.tenant_id = $1 AND t.id = $2
             ORDER BY (v.state = 'ready') DESC, v.created_at DESC LIMIT 1
             FOR UPDATE OF t",
            tenant.0,
            talk,
        )
        .fetch_optional(&mut *tx)
        .await?;
        if served == Some(video) {
            return Err(StoreError::Conflict(
                "a talk serves this video: give the talk another video or delete the talk first"
                    .into(),
            ));
        }
    }
    sqlx::query!(
        "DELETE FROM videos WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        video
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
