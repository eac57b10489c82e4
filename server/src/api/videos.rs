//! `/api/v1/videos`: the caller's uploads (an admin: every video of the tenant), newest
//! first, one video, and deleting a video no talk serves (its stored media with it). Videos
//! are made through the upload protocol (`/api/v1/uploads…`) and change as they transcode, so
//! a video's ETag is a digest of what it shows; `DELETE` honours `If-Match` with it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use ferrotape_model::api::{ApiVideo, VideoPage};
use ferrotape_store::uploads::video_prefix;
use ferrotape_store::videos::{self, VideoCursor};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conditional::{expected_revision, resource};
use super::docs::ErrorBody;
use super::paging::{self, TimeCursor};
use super::{editor, parse_id, sign_video};
use crate::error::ApiError;
use crate::state::AppState;

const LIST: &str = "videos";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_videos))
        .routes(routes!(get_video, delete_video))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VideoQuery {
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// 1 to 100 (default 50).
    limit: Option<u32>,
}

/// A digest of the video as stored (before URLs are signed, which changes with time).
fn video_etag(video: &ApiVideo) -> String {
    let digest = Sha256::digest(serde_json::to_vec(video).unwrap_or_default());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[utoipa::path(get, path = "/api/v1/videos", tag = "videos", params(VideoQuery),
    responses(
        (status = 200, description = "A page of videos", body = VideoPage),
        (status = 400, description = "A malformed cursor or limit", body = ErrorBody),
    ))]
pub async fn list_videos(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<VideoQuery>, QueryRejection>,
) -> Result<Json<VideoPage>, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let query = paging::query(query)?;
    let limit = paging::limit(query.limit)?;
    let after: Option<TimeCursor> = paging::decode(LIST, query.cursor.as_deref())?;
    let rows = videos::list_for_actor(
        &state.db,
        user.tenant,
        actor,
        None,
        after.map(|c| VideoCursor {
            created_at: c.at,
            id: c.id,
        }),
        i64::from(limit) + 1,
    )
    .await?;
    let (rows, next) = paging::page(rows, limit, LIST, |(_, c)| TimeCursor {
        at: c.created_at,
        id: c.id,
    });
    let items = rows
        .into_iter()
        .map(|(mut video, _)| {
            sign_video(&state, &mut video.video);
            video
        })
        .collect();
    Ok(Json(VideoPage { items, next }))
}

#[utoipa::path(get, path = "/api/v1/videos/{id}", tag = "videos",
    params(("id" = Uuid, Path, description = "The video's id"),
           ("If-None-Match" = Option<String>, Header, description = "An ETag of the copy you hold: 304 when it is current")),
    responses(
        (status = 200, description = "The video", body = ApiVideo,
            headers(("ETag" = String, description = "A digest of the video's state"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "No such video, or not yours", body = ErrorBody),
    ))]
pub async fn get_video(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let mut video = videos::find_for_actor(&state.db, user.tenant, actor, parse_id(&id)?).await?;
    let tag = video_etag(&video);
    sign_video(&state, &mut video.video);
    Ok(resource(&headers, tag, StatusCode::OK, &video))
}

/// Deletes a ready or failed video that no talk serves, with its stored media.
#[utoipa::path(delete, path = "/api/v1/videos/{id}", tag = "videos",
    params(("id" = Uuid, Path, description = "The video's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such video, or not yours", body = ErrorBody),
        (status = 409, description = "A talk serves it, or it is uploading or transcoding", body = ErrorBody),
        (status = 412, description = "The video changed since that ETag; nothing was deleted", body = ErrorBody),
    ))]
pub async fn delete_video(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    if headers.contains_key(axum::http::header::IF_MATCH) {
        let video = videos::find_for_actor(&state.db, user.tenant, actor, id).await?;
        let matches = headers
            .get(axum::http::header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "*" || v.trim() == video_etag(&video));
        // Checked for its syntax too (one ETag or *).
        expected_revision(&headers)?;
        if !matches {
            return Err(ApiError::Store(ferrotape_store::StoreError::Stale {
                current: 0,
            }));
        }
    }
    videos::delete_unserved(&state.db, user.tenant, actor, id).await?;
    let prefix = video_prefix(user.tenant, id);
    if let Err(err) = state.media.delete_prefix(&prefix).await {
        tracing::warn!(%err, %prefix, "cannot remove a deleted video's files");
    }
    Ok(StatusCode::NO_CONTENT)
}
