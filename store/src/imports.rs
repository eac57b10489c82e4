//! Videos whose source a job fetches or makes instead of an uploader sending it: the demo
//! talks' generated clips (`demo.video`) and URL imports (`import`). The video row exists from
//! the start (state `uploading`, attached to its talk) so the studio and the watch page show
//! it; the job then hands a file to the normal probe → transcode path
//! ([`crate::uploads::finish_import`]) or fails the video with a reason. Every function takes
//! the tenant and scopes its query.

use ferrotape_model::TenantId;
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::StoreError;
use crate::jobs::{self, NewJob};

/// The job kind that generates a demo talk's clip (`worker::demo_video`).
pub const DEMO_VIDEO_JOB: &str = "demo.video";

/// The job kind that downloads a video from a URL (`worker::import`).
pub const IMPORT_JOB: &str = "import";

/// What [`queue_video_job`] creates.
#[derive(Debug, Clone)]
pub struct SourceJob<'a> {
    pub talk: Uuid,
    /// The editor who asked for it (the studio lists the video to them); `None` for the demo.
    pub uploaded_by: Option<Uuid>,
    /// What the studio calls the video until its source is known.
    pub name: &'a str,
    pub kind: &'a str,
    /// The job's payload; `video_id` is added.
    pub payload: Value,
    pub max_attempts: i32,
}

/// Creates a video (state `uploading`) attached to `job.talk` and the job that will produce its
/// source, in the caller's transaction; returns the video and job ids. Call
/// [`jobs::notify_enqueued`] after the commit.
pub async fn queue_video_job(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    job: &SourceJob<'_>,
) -> Result<(Uuid, i64), StoreError> {
    let video = sqlx::query_scalar!(
        "INSERT INTO videos (tenant_id, talk_id, original_name, uploaded_by)
         VALUES ($1, $2, left($3, 255), $4) RETURNING id",
        tenant.0,
        job.talk,
        job.name,
        job.uploaded_by,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))?;
    let mut payload = job.payload.clone();
    if let Value::Object(fields) = &mut payload {
        fields.insert("video_id".into(), Value::String(video.to_string()));
    }
    let key = video.to_string();
    let id = jobs::enqueue(
        &mut **tx,
        tenant,
        &NewJob {
            max_attempts: job.max_attempts,
            unique_key: Some(&key),
            ..NewJob::new(job.kind, payload)
        },
    )
    .await?
    .ok_or_else(|| StoreError::Conflict("this video's job is already queued".to_owned()))?;
    Ok((video, id))
}

/// Whether `talk` has a video in any state (the demo seed gives a clip only to talks without).
pub async fn talk_has_video<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    talk: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM videos WHERE tenant_id = $1 AND talk_id = $2) AS "some!""#,
        tenant.0,
        talk,
    )
    .fetch_one(db)
    .await?)
}

/// The state of a video a source job works for (`None`: deleted meanwhile).
pub async fn video_state(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT state::text AS "state!" FROM videos WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        video,
    )
    .fetch_optional(pool)
    .await?)
}

/// Records the size and name of the source a job obtained (the tenant's storage count reads
/// the size) while the video is still `uploading`.
pub async fn record_source_file(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
    name: &str,
    size_bytes: u64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE videos SET original_name = left($3, 255), size_bytes = $4
         WHERE tenant_id = $1 AND id = $2 AND state = 'uploading'",
        tenant.0,
        video,
        name,
        i64::try_from(size_bytes.max(1)).unwrap_or(i64::MAX),
    )
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))?;
    Ok(())
}
