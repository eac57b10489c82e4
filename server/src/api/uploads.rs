//! The resumable upload protocol (`/api/v1/uploads…`), for the studio's uploader and scripts:
//!
//! 1. `POST /api/v1/uploads` `{file_name, size_bytes, content_type}` → 201 with the upload id,
//!    its video id, `chunk_size` and `chunk_count`.
//! 2. `PUT /api/v1/uploads/{id}/chunks/{n}` with the chunk as the body and its SHA-256 (hex) in
//!    `X-Chunk-Sha256`. Verified before it is kept; resending an identical chunk is fine.
//!    With S3 storage (`direct: true` in the upload's status) the client may instead
//!    `POST …/chunks/{n}/url` `{sha256}` and PUT the chunk to the presigned URL it gets: the
//!    bytes go straight to the bucket, which refuses a body with another SHA-256.
//!    The URL signs the chunk's exact length too: the bucket refuses any other body.
//! 3. `GET /api/v1/uploads/{id}`: which chunks arrived (to resume after a dropped connection).
//!    It keeps answering once storage joined the chunks and once the upload is completed.
//! 4. `POST /api/v1/uploads/{id}/complete`: joins the chunks, probes the file, and either queues
//!    the transcode (200) or says why the file cannot be played (422). Idempotent: completing
//!    a completed upload gives the same answer, so a client that timed out just asks again.
//! 5. `DELETE /api/v1/uploads/{id}`: abandons it.
//!
//! Editors and admins only; an upload belongs to whoever opened it. Opening one is refused
//! with 429 `too_many_open_uploads` when its uploader has too many open, and with 413
//! `storage_quota_exceeded` when the tenant's stored sources would exceed its quota.
//! Every chunk, presign, status and complete request counts as activity: an upload idle for a
//! day is removed by `worker::cleanup`.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrotape_model::Role;
use ferrotape_model::upload::{self, OpenUpload, QuotaExceeded, UploadRejected, UploadStatus};
use ferrotape_store::accounts::UserRecord;
use ferrotape_store::jobs;
use ferrotape_store::media::{MediaError, StoredPart};
use ferrotape_store::uploads::{self, Aborted, CompletedAs, ProbedSource, UploadRecord};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::docs::ErrorBody;
use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a presigned chunk URL stays valid: long enough for a slow link, short enough that
/// a leaked URL soon stops working.
const PRESIGNED_URL_VALIDITY: Duration = Duration::from_secs(3600);

/// A chunk body may be a little over the chunk size only by mistake; refuse anything bigger
/// before reading it.
const CHUNK_BODY_LIMIT: usize = upload::CHUNK_SIZE as usize + 64 * 1024;
const JSON_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open))
        .routes(routes!(status, abort))
        .routes(routes!(complete))
        .routes(routes!(presign_chunk))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(put_chunk))
                .layer(DefaultBodyLimit::max(CHUNK_BODY_LIMIT)),
        )
}

fn rejected(err: UploadRejected) -> ApiError {
    let status = match err {
        UploadRejected::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        UploadRejected::UnsupportedType { .. } | UploadRejected::NoExtension => {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        }
        UploadRejected::Empty => StatusCode::BAD_REQUEST,
    };
    ApiError::Coded(status, err.code(), err.to_string())
}

/// No room for another upload: the uploader must finish or cancel one (429), or the tenant must
/// free storage (413, like a file over the size limit).
fn over_quota(err: QuotaExceeded) -> ApiError {
    let status = match err {
        QuotaExceeded::OpenUploads { .. } => StatusCode::TOO_MANY_REQUESTS,
        QuotaExceeded::Storage { .. } => StatusCode::PAYLOAD_TOO_LARGE,
    };
    ApiError::Coded(status, err.code(), err.to_string())
}

fn media_failure(err: MediaError) -> ApiError {
    tracing::error!(%err, "media storage failed");
    ApiError::Unavailable("media storage")
}

#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", request_body = OpenUpload,
    responses((status = 201, description = "Opened: the chunk plan", body = UploadStatus),
              (status = 400, description = "An empty file", body = ErrorBody),
              (status = 413, description = "Over the size limit or the storage quota", body = ErrorBody),
              (status = 415, description = "Not a video or audio file", body = ErrorBody),
              (status = 429, description = "Too many open uploads", body = ErrorBody)))]
async fn open(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let Json(input) = Json::<OpenUpload>::from_request(request, &state).await?;
    let limit = uploads::tenant_limit(&state.db, user.tenant)
        .await?
        .map_or(state.uploads.max_bytes, |limit| limit as u64);
    let plan = upload::plan_upload(&input, limit).map_err(rejected)?;
    let mut record = uploads::open(
        &state.db,
        user.tenant,
        user.id,
        &plan,
        &state.uploads.quotas,
    )
    .await?
    .map_err(over_quota)?;
    match state.media.start_upload(&record.target().key).await {
        Ok(Some(multipart_id)) => {
            uploads::set_multipart(&state.db, record.id, &multipart_id).await?;
            record.multipart_id = Some(multipart_id);
        }
        Ok(None) => {}
        Err(err) => {
            uploads::abort(&state.db, &record).await?;
            return Err(media_failure(err));
        }
    }
    tracing::info!(upload = %record.id, video = %record.video_id, size = plan.size_bytes, "upload opened");
    let status = status_of(&state, &record).await?;
    Ok((StatusCode::CREATED, Json(status)).into_response())
}

/// The upload, if it exists in the caller's tenant and is theirs (admins may see any).
async fn owned(state: &AppState, user: &UserRecord, id: &str) -> Result<UploadRecord, ApiError> {
    // A malformed id is just an id that does not exist.
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let record = uploads::find(&state.db, user.tenant, id).await?;
    if record.user_id != user.id && user.role != Role::Admin {
        return Err(ApiError::NotFound);
    }
    Ok(record)
}

/// The source's size when storage already joined the chunks (a `complete` that could not
/// finish): S3 has no multipart upload to list any more, and every chunk is in.
async fn joined_size(state: &AppState, record: &UploadRecord) -> Result<Option<u64>, ApiError> {
    let size = state
        .media
        .object_size(&record.target().key)
        .await
        .map_err(media_failure)?;
    Ok(size.filter(|size| *size == record.size_bytes as u64))
}

/// Every chunk of the upload, as a joined or completed upload holds them.
fn all_chunks(record: &UploadRecord) -> Vec<StoredPart> {
    (0..record.chunk_count as u32)
        .map(|n| StoredPart {
            n,
            size: upload::chunk_len(record.size_bytes as u64, record.chunk_size as u32, n)
                .unwrap_or(0),
            etag: None,
        })
        .collect()
}

/// The chunks that arrived, whole: storage's own list for direct uploads, else the database's
/// records of verified chunks. A part of the wrong size (a client's mistake) does not count.
async fn arrived(state: &AppState, record: &UploadRecord) -> Result<Vec<StoredPart>, ApiError> {
    let parts = match state
        .media
        .listed_parts(&record.target())
        .await
        .map_err(media_failure)?
    {
        Some(parts) => parts,
        None => uploads::chunks(&state.db, record.id)
            .await?
            .into_iter()
            .map(|chunk| StoredPart {
                n: chunk.n as u32,
                size: chunk.size_bytes as u64,
                etag: None,
            })
            .collect(),
    };
    Ok(parts
        .into_iter()
        .filter(|part| {
            upload::chunk_len(record.size_bytes as u64, record.chunk_size as u32, part.n)
                == Some(part.size)
        })
        .collect())
}

async fn status_of(state: &AppState, record: &UploadRecord) -> Result<UploadStatus, ApiError> {
    let chunks = match record.state.as_str() {
        "open" if joined_size(state, record).await?.is_some() => all_chunks(record),
        "open" => arrived(state, record).await?,
        "completed" => all_chunks(record),
        _ => Vec::new(),
    };
    Ok(UploadStatus {
        id: record.id,
        video_id: record.video_id,
        file_name: record.file_name.clone(),
        size_bytes: record.size_bytes as u64,
        chunk_size: record.chunk_size as u32,
        chunk_count: record.chunk_count as u32,
        state: record.state.clone(),
        received: chunks.iter().map(|c| c.n).collect(),
        received_bytes: chunks.iter().map(|c| c.size).sum(),
        direct: record.multipart_id.is_some(),
    })
}

#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = Uuid, Path, description = "The upload's id")),
    responses((status = 200, description = "Which chunks arrived", body = UploadStatus),
              (status = 404, description = "No such upload of yours", body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<UploadStatus>, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    if record.state == "open" {
        uploads::touch_unless_busy(&state.db, record.id).await?;
    }
    Ok(Json(status_of(&state, &record).await?))
}

/// The caller's open upload `id`, chunk number `n` of it and that chunk's length.
async fn open_chunk(
    state: &AppState,
    extensions: &axum::http::Extensions,
    id: &str,
    n: &str,
) -> Result<(UploadRecord, u32, u64), ApiError> {
    let user = require_role(state, extensions, Role::Editor).await?;
    let record = owned(state, &user, id).await?;
    if record.state != "open" {
        return Err(closed(&record));
    }
    let n: u32 = n.parse().map_err(|_| bad_chunk_number(&record))?;
    let length = upload::chunk_len(record.size_bytes as u64, record.chunk_size as u32, n)
        .ok_or_else(|| bad_chunk_number(&record))?;
    // Waits while a `complete` holds the upload, then finds it closed: nothing is stored for
    // an upload that was completed or removed meanwhile.
    if !uploads::touch(&state.db, record.id).await? {
        let now = uploads::find(&state.db, record.tenant, record.id).await?;
        return Err(closed(&now));
    }
    Ok((record, n, length))
}

#[utoipa::path(put, path = "/api/v1/uploads/{id}/chunks/{n}", tag = "uploads",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The chunk's bytes"),
    params(("id" = Uuid, Path, description = "The upload's id"),
           ("n" = u32, Path, description = "The chunk number, from 0"),
           ("X-Chunk-Sha256" = String, Header, description = "The chunk's SHA-256, 64 hex digits")),
    responses((status = 200, description = "Stored and verified: `{n, duplicate}`"),
              (status = 400, description = "A checksum mismatch, a wrong length or chunk number", body = ErrorBody),
              (status = 404, description = "No such upload of yours", body = ErrorBody),
              (status = 409, description = "The upload is no longer open", body = ErrorBody)))]
async fn put_chunk(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (record, n, expected) = open_chunk(&state, request.extensions(), &id, &n).await?;
    let claimed = claimed_sha256(request.headers())?;
    let body: Bytes = axum::body::to_bytes(request.into_body(), CHUNK_BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::Coded(
                StatusCode::PAYLOAD_TOO_LARGE,
                "chunk_too_large",
                format!("chunk {n} is larger than the chunk size"),
            )
        })?;
    if body.len() as u64 != expected {
        return Err(ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "chunk_size_mismatch",
            format!(
                "chunk {n} must be {expected} bytes; {} arrived (was the connection cut?)",
                body.len()
            ),
        ));
    }
    let body_for_hash = body.clone();
    let actual: [u8; 32] =
        tokio::task::spawn_blocking(move || Sha256::digest(&body_for_hash).into())
            .await
            .map_err(|_| ApiError::Unavailable("hashing"))?;
    if actual != claimed {
        return Err(ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "checksum_mismatch",
            format!(
                "chunk {n} does not match its SHA-256: it was damaged on the way; send it again"
            ),
        ));
    }
    let n = n as i32;
    if let Some(existing) = uploads::chunk(&state.db, record.id, n).await? {
        return if existing.sha256 == actual {
            Ok(Json(json!({ "n": n, "duplicate": true })).into_response())
        } else {
            Err(different_chunk(n))
        };
    }
    match state
        .media
        .write_part(&record.target(), n as u32, body.clone(), &actual)
        .await
    {
        Ok(()) => {}
        Err(MediaError::NotFound(_)) => return Err(already_joined()),
        Err(err) => return Err(media_failure(err)),
    }
    if !uploads::record_chunk(&state.db, record.id, n, body.len() as i32, &actual).await? {
        return Err(different_chunk(n));
    }
    Ok(Json(json!({ "n": n, "duplicate": false })).into_response())
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct PresignRequest {
    /// The chunk's SHA-256 in hex; storage refuses a body with another one.
    sha256: String,
}

/// A presigned URL to PUT chunk `n` to, straight to object storage.
#[utoipa::path(post, path = "/api/v1/uploads/{id}/chunks/{n}/url", tag = "uploads", request_body = PresignRequest,
    params(("id" = Uuid, Path, description = "The upload's id"),
           ("n" = u32, Path, description = "The chunk number, from 0")),
    responses((status = 200, description = "`{url, headers}` to PUT the chunk to"),
              (status = 400, description = "No SHA-256, or a wrong chunk number", body = ErrorBody),
              (status = 409, description = "Storage takes no direct uploads, or the upload is closed", body = ErrorBody)))]
async fn presign_chunk(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (record, n, length) = open_chunk(&state, request.extensions(), &id, &n).await?;
    let Json(input) = Json::<PresignRequest>::from_request(request, &state).await?;
    let sha256 = upload::parse_sha256(&input.sha256).ok_or_else(|| {
        ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "checksum_missing",
            "send the chunk's SHA-256 as 64 hex digits in `sha256`".into(),
        )
    })?;
    let presigned = state
        .media
        .presign_part(&record.target(), n, length, &sha256, PRESIGNED_URL_VALIDITY)
        .await
        .map_err(media_failure)?
        .ok_or_else(|| {
            ApiError::Coded(
                StatusCode::CONFLICT,
                "direct_upload_unavailable",
                format!("this server stores chunks itself: PUT chunk {n} to /api/v1/uploads/{id}/chunks/{n}"),
            )
        })?;
    let headers: serde_json::Map<String, serde_json::Value> = presigned
        .headers
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(value)))
        .collect();
    Ok(Json(json!({
        "method": "PUT",
        "url": presigned.url,
        "headers": headers,
        "expires_in_secs": PRESIGNED_URL_VALIDITY.as_secs(),
    }))
    .into_response())
}

/// The upload was completed or aborted (perhaps by another tab) and takes nothing more.
fn closed(record: &UploadRecord) -> ApiError {
    ApiError::Coded(
        StatusCode::CONFLICT,
        "upload_closed",
        format!("this upload is already {}", record.state),
    )
}

/// A chunk for an upload whose chunks storage already joined (a `complete` ran).
fn already_joined() -> ApiError {
    ApiError::Coded(
        StatusCode::CONFLICT,
        "upload_closed",
        "every chunk of this upload already arrived and was joined: complete it".to_owned(),
    )
}

fn bad_chunk_number(record: &UploadRecord) -> ApiError {
    ApiError::Coded(
        StatusCode::BAD_REQUEST,
        "bad_chunk_number",
        format!(
            "chunks are numbered 0 to {} for this upload",
            record.chunk_count - 1
        ),
    )
}

fn different_chunk(n: i32) -> ApiError {
    ApiError::Coded(
        StatusCode::CONFLICT,
        "chunk_conflict",
        format!("chunk {n} already arrived with different content: is this the same file?"),
    )
}

fn claimed_sha256(headers: &HeaderMap) -> Result<[u8; 32], ApiError> {
    headers
        .get("x-chunk-sha256")
        .and_then(|value| value.to_str().ok())
        .and_then(upload::parse_sha256)
        .ok_or_else(|| {
            ApiError::Coded(
                StatusCode::BAD_REQUEST,
                "checksum_missing",
                "send the chunk's SHA-256 as 64 hex digits in the X-Chunk-Sha256 header".into(),
            )
        })
}

#[utoipa::path(post, path = "/api/v1/uploads/{id}/complete", tag = "uploads",
    params(("id" = Uuid, Path, description = "The upload's id")),
    responses((status = 200, description = "Joined and probed: the video is transcoding"),
              (status = 409, description = "Chunks are missing", body = ErrorBody),
              (status = 422, description = "The file is not playable media (`not_playable`)", body = ErrorBody)))]
async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    // From here until its outcome is recorded the upload is ours alone: the cleanup and a
    // cancel skip it, a second `complete` waits for this one (see `uploads::Completion`).
    let mut completion = uploads::begin_completion(&state.db, user.tenant, record.id).await?;
    let record = completion.upload.clone();
    match record.state.as_str() {
        "open" => {}
        "completed" => return Ok(completed(&record, completion.completed_as().await?)),
        _ => return Err(closed(&record)),
    }
    let source_key = record.target().key;
    // Joined by an earlier attempt whose probe could not run: probe again, nothing else.
    let size = match joined_size(&state, &record).await? {
        Some(size) => size,
        None => match join_chunks(&state, &record).await? {
            Ok(size) => size,
            Err(missing) => return Ok(missing),
        },
    };
    if size != record.size_bytes as u64 {
        tracing::error!(upload = %record.id, size, expected = record.size_bytes, "assembled size differs");
        return Err(ApiError::Unavailable("media storage"));
    }
    // With S3 this reads the ranges ffprobe needs, not the whole source (`store::probe_copy`).
    let scratch = tempfile::tempdir().map_err(|_| ApiError::Unavailable("scratch space"))?;
    let probe_path = state
        .media
        .probe_path(&source_key, size, scratch.path())
        .await
        .map_err(media_failure)?;
    match ferrotape_worker::probe::probe(&state.tools.ffprobe, &probe_path).await {
        Ok(probe) => {
            let source = probed_source(source_key, probe);
            let job = completion.playable(&source).await?;
            wake_workers(&state.db).await;
            tracing::info!(upload = %record.id, video = %record.video_id, job, "upload complete; transcode queued");
            let outcome = CompletedAs::Playable {
                state: "processing".to_owned(),
                duration_ms: Some(source.duration_ms),
            };
            Ok(completed(&record, outcome))
        }
        Err(ferrotape_worker::probe::ProbeError::NotPlayable(reason)) => {
            completion.unplayable(&reason).await?;
            tracing::info!(upload = %record.id, %reason, "upload is not playable");
            // Nothing can use it (retrying needs a playable source), so it is not kept.
            // Deleted after the video failed: a failed delete leaves an orphan, not a lie.
            if let Some((folder, _)) = source_key.rsplit_once('/')
                && let Err(err) = state.media.delete_prefix(folder).await
            {
                tracing::warn!(%err, upload = %record.id, "cannot delete an unplayable source");
            }
            Ok(completed(&record, CompletedAs::Unplayable { reason }))
        }
        Err(err) => {
            tracing::error!(%err, "probing an upload failed");
            // The chunks are joined and kept; completing again retries the probe.
            Err(ApiError::Unavailable("media probing"))
        }
    }
}

/// The answer of `complete`, the first time and every time after.
fn completed(record: &UploadRecord, outcome: CompletedAs) -> Response {
    match outcome {
        CompletedAs::Playable { state, duration_ms } => Json(json!({
            "video_id": record.video_id,
            "state": state,
            "duration_ms": duration_ms,
        }))
        .into_response(),
        CompletedAs::Unplayable { reason } => {
            ApiError::Coded(StatusCode::UNPROCESSABLE_ENTITY, "not_playable", reason)
                .into_response()
        }
    }
}

/// Joins the upload's chunks into its source object: its size, or the 409 naming the chunks
/// that have not arrived.
async fn join_chunks(
    state: &AppState,
    record: &UploadRecord,
) -> Result<Result<u64, Response>, ApiError> {
    let parts = arrived(state, record).await?;
    let missing: Vec<u32> = (0..record.chunk_count as u32)
        .filter(|n| parts.binary_search_by_key(n, |p| p.n).is_err())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(u32::to_string).collect();
        return Ok(Err((
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!(
                    "{} of {} chunks have not arrived yet (missing: {}{})",
                    missing.len(),
                    record.chunk_count,
                    shown.join(", "),
                    if missing.len() > shown.len() { ", …" } else { "" }
                ),
                "code": "chunks_missing",
                "missing": missing,
            })),
        )
            .into_response()));
    }

    state
        .media
        .finish_upload(&record.target(), &parts)
        .await
        .map(Ok)
        .map_err(media_failure)
}

/// What the database records of a probed source.
pub(crate) fn probed_source(
    source_key: String,
    probe: ferrotape_worker::probe::Probe,
) -> ProbedSource {
    ProbedSource {
        source_key,
        duration_ms: (probe.duration_secs * 1000.0).round() as i64,
        width: probe.video.as_ref().map(|v| v.width as i32),
        height: probe.video.as_ref().map(|v| v.height as i32),
        probe: probe.raw,
    }
}

/// Tells idle workers a transcode is queued (they poll anyway, so failing only costs latency).
pub(crate) async fn wake_workers(pool: &ferrotape_store::PgPool) {
    if let Err(err) = jobs::notify_enqueued(pool, &[uploads::TRANSCODE_JOB]).await {
        tracing::warn!(%err, "cannot wake workers; they will find the job by polling");
    }
}

#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = Uuid, Path, description = "The upload's id")),
    responses((status = 204, description = "Cancelled; its stored chunks are deleted"),
              (status = 404, description = "No such upload of yours", body = ErrorBody),
              (status = 409, description = "Being completed right now, or closed", body = ErrorBody)))]
async fn abort(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    match uploads::abort(&state.db, &record).await? {
        Aborted::Removed => {
            uploads::discard_stored(&*state.media, &record).await;
            Ok(StatusCode::NO_CONTENT)
        }
        Aborted::Busy => Err(ApiError::Coded(
            StatusCode::CONFLICT,
            "upload_busy",
            "this upload is being completed right now and can no longer be cancelled; \
             delete the video once it appears in the studio"
                .to_owned(),
        )),
        Aborted::NotOpen => {
            let now = uploads::find(&state.db, record.tenant, record.id).await?;
            Err(closed(&now))
        }
    }
}
