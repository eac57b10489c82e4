//! Upload sessions and their chunks, and the video rows they create. Every function takes the
//! tenant (or an upload already looked up in it) and scopes its query.

use ferrotape_model::TenantId;
use ferrotape_model::upload::{QuotaExceeded, UploadPlan};
use serde_json::Value;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::jobs::{self, NewJob};
use crate::media::{MediaStore, UploadTarget};

/// The job kind that turns a complete source into HLS (`worker::transcode`).
pub const TRANSCODE_JOB: &str = "transcode";

#[derive(Debug, Clone)]
pub struct UploadRecord {
    pub id: Uuid,
    pub tenant: TenantId,
    pub user_id: Uuid,
    pub video_id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub chunk_size: i32,
    pub chunk_count: i32,
    /// `open`, `completed` or `aborted`.
    pub state: String,
    /// The S3 multipart upload holding the chunks (S3 storage only).
    pub multipart_id: Option<String>,
    pub created_at: OffsetDateTime,
}

impl UploadRecord {
    /// Where this upload's chunks go and the source object they become.
    pub fn target(&self) -> UploadTarget {
        // Only names with an accepted extension are ever stored.
        let extension = ferrotape_model::upload::extension_of(&self.file_name)
            .unwrap_or_else(|| "bin".to_owned());
        UploadTarget {
            key: source_key(self.tenant, self.video_id, &extension),
            parts_prefix: parts_prefix(self.tenant, self.video_id),
            chunk_size: self.chunk_size as u64,
            multipart_id: self.multipart_id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRecord {
    pub n: i32,
    pub size_bytes: i32,
    pub sha256: Vec<u8>,
}

/// The object-key prefix of everything belonging to a video.
pub fn video_prefix(tenant: TenantId, video: Uuid) -> String {
    format!("{}/{video}", tenant.0)
}

/// Where an upload's chunks wait as separate objects (local storage).
pub fn parts_prefix(tenant: TenantId, video: Uuid) -> String {
    format!("{}/upload", video_prefix(tenant, video))
}

/// The uploaded source, `{tenant}/{video}/source/original.{ext}`.
pub fn source_key(tenant: TenantId, video: Uuid, extension: &str) -> String {
    format!(
        "{}/source/original.{extension}",
        video_prefix(tenant, video)
    )
}

/// The largest upload this tenant accepts, if it sets one.
pub async fn tenant_limit(pool: &PgPool, tenant: TenantId) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT max_upload_bytes FROM tenants WHERE id = $1",
        tenant.0
    )
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// Limits on what a user may have open and a tenant may store; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadQuotas {
    /// Uploads one user may have open at once.
    pub open_per_user: Option<u32>,
    /// Bytes of sources one tenant may store, open uploads included (see [`stored_bytes`]).
    pub tenant_storage_bytes: Option<u64>,
}

/// Opens an upload and creates its video (state `uploading`) in one transaction, or says
/// which quota leaves no room for it.
pub async fn open(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    plan: &UploadPlan,
    quotas: &UploadQuotas,
) -> Result<Result<UploadRecord, QuotaExceeded>, StoreError> {
    let mut tx = pool.begin().await?;
    if let Err(exceeded) = check_quotas(&mut tx, tenant, user, plan.size_bytes, quotas).await? {
        return Ok(Err(exceeded));
    }
    let video = sqlx::query_scalar!(
        "INSERT INTO videos (tenant_id, original_name, size_bytes, uploaded_by)
         VALUES ($1, $2, $3, $4) RETURNING id",
        tenant.0,
        plan.file_name,
        plan.size_bytes as i64,
        user,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))?;
    let record = sqlx::query_as!(
        UploadRow,
        r#"INSERT INTO uploads (tenant_id, user_id, video_id, file_name, content_type, size_bytes,
                                chunk_size, chunk_count)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id, tenant_id, user_id, video_id, file_name, content_type, size_bytes,
                     chunk_size, chunk_count, state::text AS "state!", multipart_id, created_at"#,
        tenant.0,
        user,
        video,
        plan.file_name,
        plan.content_type,
        plan.size_bytes as i64,
        plan.chunk_size as i32,
        plan.chunk_count as i32,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the upload"))?;
    tx.commit().await?;
    Ok(Ok(record.into()))
}

/// Checks the quotas inside the opening transaction. The tenant's row stays locked until it
/// commits, so two uploads opened at once cannot both take the last room.
async fn check_quotas(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: TenantId,
    user: Uuid,
    size: u64,
    quotas: &UploadQuotas,
) -> Result<Result<(), QuotaExceeded>, StoreError> {
    if quotas == &UploadQuotas::default() {
        return Ok(Ok(()));
    }
    sqlx::query_scalar!(
        "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        tenant.0
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(limit) = quotas.open_per_user {
        let open = sqlx::query_scalar!(
            r#"SELECT count(*) AS "open!" FROM uploads
               WHERE tenant_id = $1 AND user_id = $2 AND state = 'open'"#,
            tenant.0,
            user,
        )
        .fetch_one(&mut **tx)
        .await?;
        if open >= i64::from(limit) {
            return Ok(Err(QuotaExceeded::OpenUploads { limit }));
        }
    }
    if let Some(limit) = quotas.tenant_storage_bytes {
        let used = stored_bytes(&mut **tx, tenant).await?;
        if used.saturating_add(size) > limit {
            return Ok(Err(QuotaExceeded::Storage { limit, used, size }));
        }
    }
    Ok(Ok(()))
}

/// The bytes a tenant's sources take or will take: every video still uploading (the size its
/// upload announced) or holding a stored source. Transcode outputs are not counted: their
/// size follows from the sources (the ladder never upscales) and uploaders cannot change it.
pub async fn stored_bytes<'e>(
    db: impl sqlx::PgExecutor<'e>,
    tenant: TenantId,
) -> Result<u64, StoreError> {
    let used = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(size_bytes), 0)::bigint AS "used!" FROM videos
           WHERE tenant_id = $1 AND (state = 'uploading' OR source_key IS NOT NULL)"#,
        tenant.0,
    )
    .fetch_one(db)
    .await?;
    Ok(used.max(0) as u64)
}

/// Records activity on an open upload (a chunk or a presign request), so the cleanup leaves
/// it alone. Waits while a `complete` holds the upload; `false` when it is no longer open,
/// and then nothing may be stored for it.
pub async fn touch(pool: &PgPool, upload: Uuid) -> Result<bool, StoreError> {
    let touched = sqlx::query!(
        "UPDATE uploads SET last_activity_at = now() WHERE id = $1 AND state = 'open'",
        upload,
    )
    .execute(pool)
    .await?;
    Ok(touched.rows_affected() > 0)
}

/// Records that someone looked at an open upload (a status request). Never waits: an upload a
/// `complete` holds was just touched by it.
pub async fn touch_unless_busy(pool: &PgPool, upload: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE uploads SET last_activity_at = now()
         WHERE id = (SELECT id FROM uploads WHERE id = $1 AND state = 'open'
                     FOR NO KEY UPDATE SKIP LOCKED)",
        upload,
    )
    .execute(pool)
    .await?;
    Ok(())
}

struct UploadRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    video_id: Uuid,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    chunk_size: i32,
    chunk_count: i32,
    state: String,
    multipart_id: Option<String>,
    created_at: OffsetDateTime,
}

impl From<UploadRow> for UploadRecord {
    fn from(row: UploadRow) -> Self {
        UploadRecord {
            id: row.id,
            tenant: TenantId(row.tenant_id),
            user_id: row.user_id,
            video_id: row.video_id,
            file_name: row.file_name,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            chunk_size: row.chunk_size,
            chunk_count: row.chunk_count,
            state: row.state,
            multipart_id: row.multipart_id,
            created_at: row.created_at,
        }
    }
}

pub async fn find(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<UploadRecord, StoreError> {
    sqlx::query_as!(
        UploadRow,
        r#"SELECT id, tenant_id, user_id, video_id, file_name, content_type, size_bytes,
                  chunk_size, chunk_count, state::text AS "state!", multipart_id, created_at
           FROM uploads WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        id,
    )
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(StoreError::NotFound)
}

/// Remembers the S3 multipart upload that storage started for this upload.
pub async fn set_multipart(
    pool: &PgPool,
    upload: Uuid,
    multipart_id: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE uploads SET multipart_id = $2 WHERE id = $1",
        upload,
        multipart_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The chunks that arrived, in order.
pub async fn chunks(pool: &PgPool, upload: Uuid) -> Result<Vec<ChunkRecord>, StoreError> {
    Ok(sqlx::query_as!(
        ChunkRecord,
        "SELECT n, size_bytes, sha256 FROM upload_chunks WHERE upload_id = $1 ORDER BY n",
        upload,
    )
    .fetch_all(pool)
    .await?)
}

pub async fn chunk(pool: &PgPool, upload: Uuid, n: i32) -> Result<Option<ChunkRecord>, StoreError> {
    Ok(sqlx::query_as!(
        ChunkRecord,
        "SELECT n, size_bytes, sha256 FROM upload_chunks WHERE upload_id = $1 AND n = $2",
        upload,
        n,
    )
    .fetch_optional(pool)
    .await?)
}

/// Records a stored chunk. Two racing copies of the same chunk both succeed; a chunk that
/// arrived meanwhile with other content wins and `false` is returned.
pub async fn record_chunk(
    pool: &PgPool,
    upload: Uuid,
    n: i32,
    size: i32,
    sha256: &[u8],
) -> Result<bool, StoreError> {
    let stored: Vec<u8> = sqlx::query_scalar!(
        r#"WITH inserted AS (
               INSERT INTO upload_chunks (upload_id, n, size_bytes, sha256)
               SELECT $1, $2, $3, $4 FROM uploads WHERE id = $1 AND state = 'open'
               ON CONFLICT (upload_id, n) DO NOTHING
               RETURNING sha256
           )
           SELECT sha256 AS "sha256!" FROM inserted
           UNION ALL
           SELECT sha256 FROM upload_chunks WHERE upload_id = $1 AND n = $2
           LIMIT 1"#,
        upload,
        n,
        size,
        sha256,
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::from_write(e, "the chunk"))?
    .ok_or(StoreError::Conflict(
        "the upload is no longer open".to_owned(),
    ))?;
    Ok(stored == sha256)
}

/// What ffprobe found in a complete source.
#[derive(Debug, Clone)]
pub struct ProbedSource {
    pub source_key: String,
    pub probe: Value,
    pub duration_ms: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

/// An upload being completed. Its row stays locked (`FOR NO KEY UPDATE`) until the outcome is
/// recorded, which makes `complete` safe against everything else touching the upload:
/// the cleanup and a cancel skip a locked upload (so they never remove chunks or a joined source
/// from under a `complete`), a chunk arriving meanwhile waits and then finds the upload closed,
/// and a second `complete` (a client retrying after a timeout) waits for the first one's outcome
/// and answers the same. Dropping it unrecorded (joining or probing could not run) changes
/// nothing; completing again picks up where it stopped.
pub struct Completion {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// The upload as it is now that it is locked (another request may have completed it).
    pub upload: UploadRecord,
}

/// What a completed upload became, as its `complete` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletedAs {
    /// The source was playable; `state` is its video's state now.
    Playable {
        state: String,
        duration_ms: Option<i64>,
    },
    /// The source could not be played, for this reason.
    Unplayable { reason: String },
}

/// Locks the caller's upload `id` for completing it (waiting while another `complete` holds
/// it) and records the activity.
pub async fn begin_completion(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Completion, StoreError> {
    let mut tx = pool.begin().await?;
    let upload = sqlx::query_as!(
        UploadRow,
        r#"UPDATE uploads SET last_activity_at = now()
           WHERE tenant_id = $1 AND id = $2
           RETURNING id, tenant_id, user_id, video_id, file_name, content_type, size_bytes,
                     chunk_size, chunk_count, state::text AS "state!", multipart_id, created_at"#,
        tenant.0,
        id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?
    .into();
    Ok(Completion { tx, upload })
}

impl Completion {
    /// The source is complete and playable: the upload is finished, the video moves to
    /// `processing` and a transcode job is enqueued, all in one transaction. Returns the job
    /// id; call [`jobs::notify_enqueued`] after it to wake workers.
    pub async fn playable(mut self, source: &ProbedSource) -> Result<i64, StoreError> {
        finish_open(&mut self.tx, &self.upload).await?;
        let job = start_processing(
            &mut self.tx,
            self.upload.tenant,
            self.upload.video_id,
            source,
        )
        .await?;
        self.tx.commit().await?;
        Ok(job)
    }

    /// The source is complete but not playable: the upload is finished and the video fails
    /// with `reason` (shown in the studio).
    pub async fn unplayable(mut self, reason: &str) -> Result<(), StoreError> {
        finish_open(&mut self.tx, &self.upload).await?;
        fail_uploading(
            &mut *self.tx,
            self.upload.tenant,
            self.upload.video_id,
            reason,
        )
        .await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// What an already completed upload became (a retried `complete` answers the same).
    pub async fn completed_as(&mut self) -> Result<CompletedAs, StoreError> {
        let video = sqlx::query!(
            r#"SELECT state::text AS "state!", probe IS NOT NULL AS "probed!", duration_ms,
                      failure_reason
               FROM videos WHERE tenant_id = $1 AND id = $2"#,
            self.upload.tenant.0,
            self.upload.video_id,
        )
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(if video.probed {
            CompletedAs::Playable {
                state: video.state,
                duration_ms: video.duration_ms,
            }
        } else {
            CompletedAs::Unplayable {
                reason: video
                    .failure_reason
                    .unwrap_or_else(|| "this file cannot be played".to_owned()),
            }
        })
    }
}

/// Marks the locked open upload completed.
async fn finish_open(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    upload: &UploadRecord,
) -> Result<(), StoreError> {
    let finished = sqlx::query!(
        "UPDATE uploads SET state = 'completed', finished_at = now()
         WHERE id = $1 AND tenant_id = $2 AND state = 'open'",
        upload.id,
        upload.tenant.0,
    )
    .execute(&mut **tx)
    .await?;
    if finished.rows_affected() == 0 {
        return Err(StoreError::Conflict(
            "the upload was already completed or cancelled".to_owned(),
        ));
    }
    Ok(())
}

/// Records the probed source of a video, moves it to `processing` and enqueues its transcode.
async fn start_processing(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: TenantId,
    video: Uuid,
    source: &ProbedSource,
) -> Result<i64, StoreError> {
    sqlx::query!(
        "UPDATE videos SET state = 'processing', source_key = $3, probe = $4, duration_ms = $5,
                           width = $6, height = $7, progress = 0
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        video,
        source.source_key,
        source.probe,
        source.duration_ms,
        source.width,
        source.height,
    )
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))?;
    enqueue_transcode(tx, tenant, video).await
}

/// A video imported from a file (`ferrotape import-video`), attached to a talk, in state
/// `uploading` until [`finish_import`] records its source.
pub async fn begin_import(
    pool: &PgPool,
    tenant: TenantId,
    talk: Uuid,
    file_name: &str,
    size_bytes: u64,
) -> Result<Uuid, StoreError> {
    sqlx::query_scalar!(
        "INSERT INTO videos (tenant_id, talk_id, original_name, size_bytes)
         VALUES ($1, $2, $3, $4) RETURNING id",
        tenant.0,
        talk,
        file_name,
        i64::try_from(size_bytes).unwrap_or(i64::MAX),
    )
    .fetch_one(pool)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))
}

/// The imported source is stored and playable: the video moves to `processing` and its
/// transcode is queued. Returns the job id; call [`jobs::notify_enqueued`] after it.
pub async fn finish_import(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
    source: &ProbedSource,
) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    let job = start_processing(&mut tx, tenant, video, source).await?;
    tx.commit().await?;
    Ok(job)
}

/// The imported file could not be stored: the video fails with `reason`.
pub async fn fail_import(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    fail_uploading(pool, tenant, video, reason).await
}

/// The video's transcode job (one waiting or running per video); part of the caller's
/// transaction. Call [`jobs::notify_enqueued`] after the commit to wake workers.
async fn enqueue_transcode(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: TenantId,
    video: Uuid,
) -> Result<i64, StoreError> {
    jobs::enqueue(
        &mut **tx,
        tenant,
        &NewJob {
            max_attempts: 3,
            unique_key: Some(&video.to_string()),
            ..NewJob::new(TRANSCODE_JOB, serde_json::json!({ "video_id": video }))
        },
    )
    .await?
    .ok_or_else(|| StoreError::Conflict("a transcode of this video is already queued".to_owned()))
}

/// Runs a failed video's transcode again from its stored source: the video goes back to
/// `processing` and a job is queued, in one transaction. Editors may retry their own uploads,
/// admins any in their tenant. Returns the job id.
pub async fn retry_transcode(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    any_uploader: bool,
    video: Uuid,
) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query!(
        r#"SELECT state::text AS "state!", source_key IS NOT NULL AS "has_source!"
           FROM videos WHERE tenant_id = $1 AND id = $2 AND (uploaded_by = $3 OR $4)
           FOR UPDATE"#,
        tenant.0,
        video,
        user,
        any_uploader,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    if current.state != "failed" {
        return Err(StoreError::Conflict(format!(
            "only a failed video can be retried; this one is {}",
            current.state
        )));
    }
    if !current.has_source {
        return Err(StoreError::Conflict(
            "the uploaded file itself cannot be played, so retrying cannot help: upload the recording again"
                .to_owned(),
        ));
    }
    sqlx::query!(
        "UPDATE videos SET state = 'processing', failure_reason = NULL, progress = 0, eta_at = NULL
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        video,
    )
    .execute(&mut *tx)
    .await?;
    let job = enqueue_transcode(&mut tx, tenant, video).await?;
    tx.commit().await?;
    Ok(job)
}

/// A video still `uploading` fails with `reason` (shown in the studio).
async fn fail_uploading<'e>(
    db: impl sqlx::PgExecutor<'e>,
    tenant: TenantId,
    video: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE videos SET state = 'failed', failure_reason = left($3, 4000)
         WHERE tenant_id = $1 AND id = $2 AND state = 'uploading'",
        tenant.0,
        video,
        reason,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What [`abort`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aborted {
    /// The upload, its video and chunk records are gone: remove what storage holds.
    Removed,
    /// A `complete` is joining or probing it right now.
    Busy,
    /// It was already completed or cancelled.
    NotOpen,
}

/// How long a cancel waits for a chunk request holding the upload's row for an instant; a
/// `complete` holds it far longer and makes the cancel answer [`Aborted::Busy`].
const ABORT_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '3s'";

/// Cancels an open upload: the video row (and with it the upload and its chunk records) is
/// deleted. The caller removes the stored chunks with [`discard_stored`], but only on
/// [`Aborted::Removed`]: anything else means the files belong to someone else now.
pub async fn abort(pool: &PgPool, upload: &UploadRecord) -> Result<Aborted, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(ABORT_LOCK_TIMEOUT).execute(&mut *tx).await?;
    let open = sqlx::query_scalar!(
        "SELECT id FROM uploads WHERE id = $1 AND tenant_id = $2 AND state = 'open' FOR UPDATE",
        upload.id,
        upload.tenant.0,
    )
    .fetch_optional(&mut *tx)
    .await;
    match open {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Aborted::NotOpen),
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
            return Ok(Aborted::Busy);
        }
        Err(err) => return Err(err.into()),
    }
    let deleted = sqlx::query!(
        "DELETE FROM videos WHERE tenant_id = $1 AND id = $2 AND state = 'uploading'",
        upload.tenant.0,
        upload.video_id,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(if deleted.rows_affected() > 0 {
        Aborted::Removed
    } else {
        Aborted::NotOpen
    })
}

/// PostgreSQL's `lock_not_available`: a `lock_timeout` or `NOWAIT` gave up.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Cancels up to `limit` open uploads nobody touched since `idle_since`, in one statement, and
/// returns exactly those: their rows are gone, and the caller removes their stored chunks with
/// [`discard_stored`]. An upload a `complete` (or a chunk request) holds at that moment is
/// skipped: it is not idle.
pub async fn abort_idle(
    pool: &PgPool,
    idle_since: OffsetDateTime,
    limit: i64,
) -> Result<Vec<UploadRecord>, StoreError> {
    Ok(sqlx::query_as!(
        UploadRow,
        r#"WITH idle AS (
               SELECT id, tenant_id, user_id, video_id, file_name, content_type, size_bytes,
                      chunk_size, chunk_count, state, multipart_id, created_at
               FROM uploads WHERE state = 'open' AND last_activity_at < $1
               ORDER BY last_activity_at LIMIT $2
               FOR UPDATE SKIP LOCKED
           ), removed AS (
               DELETE FROM videos v USING idle
               WHERE v.tenant_id = idle.tenant_id AND v.id = idle.video_id
                 AND v.state = 'uploading'
               RETURNING v.id
           )
           SELECT idle.id AS "id!", idle.tenant_id AS "tenant_id!", idle.user_id AS "user_id!",
                  idle.video_id AS "video_id!", idle.file_name AS "file_name!",
                  idle.content_type AS "content_type!", idle.size_bytes AS "size_bytes!",
                  idle.chunk_size AS "chunk_size!", idle.chunk_count AS "chunk_count!",
                  idle.state::text AS "state!", idle.multipart_id,
                  idle.created_at AS "created_at!"
           FROM idle JOIN removed ON removed.id = idle.video_id"#,
        idle_since,
        limit,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Into::into)
    .collect())
}

/// Removes whatever an upload that will never complete stored: its S3 multipart upload and
/// every object under its video. Call it only for uploads [`abort`] or [`abort_idle`] removed;
/// failures are only logged, since the upload is already gone for its owner.
pub async fn discard_stored(media: &dyn MediaStore, upload: &UploadRecord) {
    if let Err(err) = media.abort_upload(&upload.target()).await {
        tracing::warn!(%err, upload = %upload.id, "cannot abort an upload's stored chunks");
    }
    let prefix = video_prefix(upload.tenant, upload.video_id);
    if let Err(err) = media.delete_prefix(&prefix).await {
        tracing::warn!(%err, %prefix, "cannot remove an aborted upload's files");
    }
}
