//! Videos as the studio lists them.

use ferrotape_model::studio::StudioVideo;
use ferrotape_model::{TenantId, VideoState};
use sqlx::PgPool;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;

/// The videos `user` uploaded, newest first.
pub async fn list_for_uploader(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    limit: i64,
) -> Result<Vec<StudioVideo>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT v.id, coalesce(v.original_name, 'untitled') AS "name!", v.state::text AS "state!",
                  v.progress, extract(epoch FROM v.eta_at - now())::float8 AS eta_secs,
                  v.failure_reason, v.duration_ms, v.size_bytes, v.poster_key, v.created_at,
                  (SELECT u.id FROM uploads u WHERE u.video_id = v.id AND u.state = 'open') AS upload_id
           FROM videos v
           WHERE v.tenant_id = $1 AND v.uploaded_by = $2
           ORDER BY v.created_at DESC
           LIMIT $3"#,
        tenant.0,
        user,
        limit,
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
            poster_url: row.poster_key.map(|key| format!("/media/{key}")),
            created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
        })
        .collect())
}
