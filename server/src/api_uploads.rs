//! The resumable upload protocol (`/api/v1/uploads…`), for the studio's uploader and scripts:
//!
//! 1. `POST /api/v1/uploads` `{file_name, size_bytes, content_type}` → 201 with the upload id,
//!    its video id, `chunk_size` and `chunk_count`.
//! 2. `PUT /api/v1/uploads/{id}/chunks/{n}` with the chunk as the body and its SHA-256 (hex) in
//!    `X-Chunk-Sha256`. Verified before it is kept; resending an identical chunk is fine.
//! 3. `GET /api/v1/uploads/{id}`: which chunks arrived (to resume after a dropped connection).
//! 4. `POST /api/v1/uploads/{id}/complete`: joins the chunks, probes the file, and either queues
//!    the transcode (200) or says why the file cannot be played (422).
//! 5. `DELETE /api/v1/uploads/{id}`: abandons it.
//!
//! Editors and admins only; an upload belongs to whoever opened it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ferrotape_model::upload::{
    self, DEFAULT_MAX_UPLOAD_BYTES, OpenUpload, UploadRejected, UploadStatus,
};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::accounts::UserRecord;
use ferrotape_store::jobs;
use ferrotape_store::media::MediaError;
use ferrotape_store::uploads::{self, ProbedSource, UploadRecord};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;

/// A chunk body may be a little over the chunk size only by mistake; refuse anything bigger
/// before reading it.
const CHUNK_BODY_LIMIT: usize = upload::CHUNK_SIZE as usize + 64 * 1024;
const JSON_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/uploads", post(open))
        .route("/api/v1/uploads/{id}", get(status).delete(abort))
        .route("/api/v1/uploads/{id}/complete", post(complete))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(
            Router::new()
                .route("/api/v1/uploads/{id}/chunks/{n}", put(put_chunk))
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

fn media_failure(err: MediaError) -> ApiError {
    tracing::error!(%err, "media storage failed");
    ApiError::Unavailable("media storage")
}

async fn open(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let json: Result<Json<OpenUpload>, JsonRejection> =
        <Json<OpenUpload> as axum::extract::FromRequest<AppState>>::from_request(request, &state)
            .await;
    let input = json
        .map(|Json(input)| input)
        .map_err(|rejection| ApiError::Rejected(rejection.status(), rejection.body_text()))?;
    let limit = uploads::tenant_limit(&state.db, user.tenant)
        .await?
        .map_or(state.uploads.max_bytes, |limit| limit as u64);
    let plan = upload::plan_upload(&input, limit).map_err(rejected)?;
    let record = uploads::open(&state.db, user.tenant, user.id, &plan).await?;
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

async fn status_of(state: &AppState, record: &UploadRecord) -> Result<UploadStatus, ApiError> {
    let chunks = uploads::chunks(&state.db, record.id).await?;
    Ok(UploadStatus {
        id: record.id,
        video_id: record.video_id,
        file_name: record.file_name.clone(),
        size_bytes: record.size_bytes as u64,
        chunk_size: record.chunk_size as u32,
        chunk_count: record.chunk_count as u32,
        state: record.state.clone(),
        received: chunks.iter().map(|c| c.n as u32).collect(),
        received_bytes: chunks.iter().map(|c| c.size_bytes as u64).sum(),
    })
}

async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<UploadStatus>, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    Ok(Json(status_of(&state, &record).await?))
}

async fn put_chunk(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    if record.state != "open" {
        return Err(closed(&record));
    }
    let n: u32 = n.parse().map_err(|_| bad_chunk_number(&record))?;
    let expected = upload::chunk_len(record.size_bytes as u64, record.chunk_size as u32, n)
        .ok_or_else(|| bad_chunk_number(&record))?;
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
    let key = uploads::part_key(record.tenant, record.video_id, n);
    state
        .media
        .write_part(&key, &body)
        .await
        .map_err(media_failure)?;
    if !uploads::record_chunk(&state.db, record.id, n, body.len() as i32, &actual).await? {
        return Err(different_chunk(n));
    }
    Ok(Json(json!({ "n": n, "duplicate": false })).into_response())
}

/// The upload was completed or aborted (perhaps by another tab) and takes nothing more.
fn closed(record: &UploadRecord) -> ApiError {
    ApiError::Coded(
        StatusCode::CONFLICT,
        "upload_closed",
        format!("this upload is already {}", record.state),
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

async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    if record.state != "open" {
        return Err(closed(&record));
    }
    let chunks = uploads::chunks(&state.db, record.id).await?;
    let missing: Vec<i32> = (0..record.chunk_count)
        .filter(|n| chunks.binary_search_by_key(n, |c| c.n).is_err())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(i32::to_string).collect();
        return Ok((
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
            .into_response());
    }

    let extension = upload::plan_upload(
        &OpenUpload {
            file_name: record.file_name.clone(),
            size_bytes: record.size_bytes as u64,
            content_type: record.content_type.clone(),
        },
        u64::MAX,
    )
    .map_err(rejected)?
    .extension;
    let source_key = uploads::source_key(record.tenant, record.video_id, &extension);
    let parts: Vec<String> = (0..record.chunk_count)
        .map(|n| uploads::part_key(record.tenant, record.video_id, n))
        .collect();
    let size = state
        .media
        .assemble(&parts, &source_key)
        .await
        .map_err(media_failure)?;
    if size != record.size_bytes as u64 {
        tracing::error!(upload = %record.id, size, expected = record.size_bytes, "assembled size differs");
        return Err(ApiError::Unavailable("media storage"));
    }
    let scratch = tempfile::tempdir().map_err(|_| ApiError::Unavailable("scratch space"))?;
    let readable = state
        .media
        .readable_path(&source_key, scratch.path())
        .await
        .map_err(media_failure)?;
    match ferrotape_worker::probe::probe(&state.tools.ffprobe, &readable).await {
        Ok(probe) => {
            let source = ProbedSource {
                source_key,
                duration_ms: (probe.duration_secs * 1000.0).round() as i64,
                width: probe.video.as_ref().map(|v| v.width as i32),
                height: probe.video.as_ref().map(|v| v.height as i32),
                probe: probe.raw,
            };
            let job = uploads::complete_playable(&state.db, &record, &source).await?;
            wake_workers(&state.db).await;
            tracing::info!(upload = %record.id, video = %record.video_id, job, "upload complete; transcode queued");
            Ok(Json(json!({
                "video_id": record.video_id,
                "state": "processing",
                "duration_ms": source.duration_ms,
            }))
            .into_response())
        }
        Err(ferrotape_worker::probe::ProbeError::NotPlayable(reason)) => {
            uploads::complete_unplayable(&state.db, &record, &reason).await?;
            tracing::info!(upload = %record.id, %reason, "upload is not playable");
            Err(ApiError::Coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_playable",
                reason,
            ))
        }
        Err(err) => {
            tracing::error!(%err, "probing an upload failed");
            // The chunks are joined and kept; completing again retries the probe.
            Err(ApiError::Unavailable("media probing"))
        }
    }
}

async fn wake_workers(pool: &ferrotape_store::PgPool) {
    if let Err(err) = jobs::notify_enqueued(pool, &[uploads::TRANSCODE_JOB]).await {
        tracing::warn!(%err, "cannot wake workers; they will find the job by polling");
    }
}

async fn abort(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let record = owned(&state, &user, &id).await?;
    if !uploads::abort(&state.db, &record).await? {
        return Err(closed(&record));
    }
    remove_objects(&state.media, record.tenant, record.video_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes whatever an abandoned upload stored.
pub async fn remove_objects(
    media: &Arc<dyn ferrotape_store::media::MediaStore>,
    tenant: TenantId,
    video: Uuid,
) {
    let prefix = uploads::video_prefix(tenant, video);
    if let Err(err) = media.delete_prefix(&prefix).await {
        tracing::warn!(%err, %prefix, "cannot remove an aborted upload's files");
    }
}

/// Settings of the upload API.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Used when the tenant sets no limit.
    pub max_bytes: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            max_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}
