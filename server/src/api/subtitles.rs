//! `/api/v1/talks/{id}/subtitles`: the caption tracks of a talk's video, as the subtitle
//! editor edits them (`store::subtitle_editing`; the talk's editor or an admin, others 404):
//! list, import a WebVTT or SubRip file as a track, get a track with its cues, save its cues,
//! publish it (a new revision's files, the master playlist rewritten, transcript lines
//! replaced; a track a person edited is labelled `human`), delete it, export it as `.vtt` or
//! `.srt`. Every track has a strong ETag (its revision); changes honour `If-Match` (see
//! `conditional`), a stale one is a 412 with nothing written.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrotape_model::subtitles::{
    CueSave, EditableTrack, MAX_SUBTITLE_BYTES, TrackList, TrackSummary, parse_subtitles,
    write_srt, write_vtt,
};
use ferrotape_store::subtitle_editing::{self, Imported};
use ferrotape_worker::transcribe::publish;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::conditional::{etag, expected_revision, resource};
use super::{editor, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// A save holds every cue with its words: 20,000 cues of Whisper's output fit.
const SAVE_BODY_LIMIT: usize = 32 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tracks, import_track))
        .routes(routes!(get_track, save_track, delete_track))
        .routes(routes!(publish_track))
        .routes(routes!(export_track))
        .layer(axum::extract::DefaultBodyLimit::max(SAVE_BODY_LIMIT))
}

fn ids(talk: &str, track: &str) -> Result<(Uuid, Uuid), ApiError> {
    Ok((parse_id(talk)?, parse_id(track)?))
}

fn summary_response(status: StatusCode, track: &TrackSummary) -> Response {
    resource(&HeaderMap::new(), etag(track.revision), status, track)
}

/// The tracks of the talk's video (without their cues).
#[utoipa::path(get, path = "/api/v1/talks/{id}/subtitles", tag = "subtitles",
    params(("id" = Uuid, Path, description = "The talk's id")),
    responses(
        (status = 200, description = "The tracks", body = TrackList),
        (status = 404, description = "No such talk, not yours, or no video", body = super::docs::ErrorBody),
    ))]
pub async fn list_tracks(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<Json<TrackList>, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let tracks = subtitle_editing::list(&state.db, user.tenant, actor, parse_id(&id)?).await?;
    Ok(Json(TrackList { tracks }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The track's language (BCP 47: `en`, `pt-BR`).
    language: String,
    /// The file's name: a name ending in `.vtt` is read as WebVTT even without its header.
    filename: Option<String>,
}

/// A subtitle file's bytes, refused with 413 as soon as they pass the limit (before reading
/// when `Content-Length` says so).
async fn subtitle_body(request: Request) -> Result<Vec<u8>, ApiError> {
    let too_large = |size: Option<u64>| {
        let size = size.map_or_else(|| "larger".to_owned(), |s| format!("{s} bytes,"));
        ApiError::Coded(
            StatusCode::PAYLOAD_TOO_LARGE,
            "subtitle_file_too_large",
            format!(
                "the subtitle file is {size} more than the limit of {MAX_SUBTITLE_BYTES} bytes \
                 ({} MiB); nothing was stored",
                MAX_SUBTITLE_BYTES / (1024 * 1024)
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|l| *l > MAX_SUBTITLE_BYTES as u64) {
        return Err(too_large(Some(length)));
    }
    let mut stream = request.into_body().into_data_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|err| ApiError::BadRequest(format!("reading the body: {err}")))?;
        if body.len() + chunk.len() > MAX_SUBTITLE_BYTES {
            return Err(too_large(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a WebVTT or SubRip file (the body, as it is) into the track of `language`: a new
/// track (a `human` draft), or, with `If-Match` naming its revision, the cues of the
/// language's track replaced. A file with any error is refused whole, every problem with its
/// line; cue markup becomes plain text.
#[utoipa::path(post, path = "/api/v1/talks/{id}/subtitles", tag = "subtitles",
    params(("id" = Uuid, Path, description = "The talk's id"), ImportQuery,
           ("If-Match" = Option<String>, Header, description = "The ETag of the language's track, to replace its cues")),
    request_body(content = String, content_type = "text/vtt", description = "A WebVTT or SubRip file, at most 8 MiB of UTF-8"),
    responses(
        (status = 201, description = "A new track", body = TrackSummary,
            headers(("ETag" = String, description = "The track's revision"),
                    ("Location" = String, description = "The track's URL"))),
        (status = 200, description = "The language's track, its cues replaced", body = TrackSummary,
            headers(("ETag" = String, description = "The track's new revision"))),
        (status = 400, description = "No `language`", body = super::docs::ErrorBody),
        (status = 404, description = "No such talk, not yours, or no video", body = super::docs::ErrorBody),
        (status = 409, description = "The track is being transcribed", body = super::docs::ErrorBody),
        (status = 412, description = "The language has a track and `If-Match` does not name its revision; nothing was written", body = super::docs::ErrorBody),
        (status = 413, description = "The file is over 8 MiB", body = super::docs::ErrorBody),
        (status = 422, description = "The file cannot be read (`problems` lists them with their lines), or a cue or the language is refused", body = super::docs::ErrorBody),
    ))]
pub async fn import_track(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let talk = parse_id(&id)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let expected = expected_revision(&headers)?;
    let bytes = subtitle_body(request).await?;
    let cues = parse_subtitles(&bytes, query.filename.as_deref()).map_err(ApiError::Subtitles)?;
    let (track, imported) = subtitle_editing::import(
        &state.db,
        user.tenant,
        actor,
        talk,
        &query.language,
        expected,
        cues,
    )
    .await?;
    let status = match imported {
        Imported::Created => StatusCode::CREATED,
        Imported::Replaced => StatusCode::OK,
    };
    let response = summary_response(status, &track);
    Ok(super::located(
        response,
        &format!("/api/v1/talks/{talk}/subtitles/{}", track.id),
    ))
}

/// A track with every cue and its words.
#[utoipa::path(get, path = "/api/v1/talks/{id}/subtitles/{track}", tag = "subtitles",
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("track" = Uuid, Path, description = "The track's id"),
           ("If-None-Match" = Option<String>, Header, description = "An ETag of the copy you hold: 304 when it is current")),
    responses(
        (status = 200, description = "The track", body = EditableTrack,
            headers(("ETag" = String, description = "The track's revision"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "No such talk or track, or not yours", body = super::docs::ErrorBody),
    ))]
pub async fn get_track(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path((id, track)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let (talk, track) = ids(&id, &track)?;
    let track = subtitle_editing::get(&state.db, user.tenant, actor, talk, track).await?;
    Ok(resource(
        &headers,
        etag(track.summary.revision),
        StatusCode::OK,
        &track,
    ))
}

/// Replaces the track's cues (all of them). Saving does not publish.
#[utoipa::path(put, path = "/api/v1/talks/{id}/subtitles/{track}", tag = "subtitles", request_body = CueSave,
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("track" = Uuid, Path, description = "The track's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the cues are based on: 412 if the track changed since")),
    responses(
        (status = 200, description = "The track as it is now", body = TrackSummary,
            headers(("ETag" = String, description = "The track's new revision"))),
        (status = 400, description = "Malformed JSON or If-Match", body = super::docs::ErrorBody),
        (status = 404, description = "No such talk or track, or not yours", body = super::docs::ErrorBody),
        (status = 409, description = "The track is being transcribed", body = super::docs::ErrorBody),
        (status = 412, description = "The track changed since that ETag (another tab or editor saved); nothing was written", body = super::docs::ErrorBody),
        (status = 413, description = "The body is over 32 MiB", body = super::docs::ErrorBody),
        (status = 422, description = "A cue is refused (the message names it)", body = super::docs::ErrorBody),
    ))]
pub async fn save_track(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path((id, track)): Path<(String, String)>,
    body: Result<Json<CueSave>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let (talk, track) = ids(&id, &track)?;
    let expected = expected_revision(&headers)?;
    let Json(save) = body?;
    let track = subtitle_editing::save(
        &state.db,
        user.tenant,
        actor,
        talk,
        track,
        expected,
        save.cues,
    )
    .await?;
    Ok(summary_response(StatusCode::OK, &track))
}

/// Deletes the track; players stop listing it.
#[utoipa::path(delete, path = "/api/v1/talks/{id}/subtitles/{track}", tag = "subtitles",
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("track" = Uuid, Path, description = "The track's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such talk or track, or not yours", body = super::docs::ErrorBody),
        (status = 412, description = "The track changed since that ETag; nothing was deleted", body = super::docs::ErrorBody),
    ))]
pub async fn delete_track(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path((id, track)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let (talk, track) = ids(&id, &track)?;
    let expected = expected_revision(&headers)?;
    let (video, folder) =
        subtitle_editing::delete(&state.db, user.tenant, actor, talk, track, expected).await?;
    let scratch = tempfile::tempdir().map_err(|_| ApiError::Unavailable("scratch space"))?;
    publish::update_master(&state.db, &*state.media, scratch.path(), user.tenant, video)
        .await
        .map_err(storage_failure)?;
    if let Some(folder) = folder
        && let Err(err) = state.media.delete_prefix(&folder).await
    {
        tracing::warn!(%err, folder, "cannot delete a deleted track's files");
    }
    Ok(StatusCode::NO_CONTENT)
}

fn storage_failure(err: String) -> ApiError {
    tracing::error!(%err, "publishing captions failed");
    ApiError::Unavailable("media storage")
}

/// Publishes the track's cues: a new revision's files (a WebVTT file and an HLS subtitle
/// rendition), the master playlist naming it, its lines in transcript search. A track a
/// person edited is labelled `human` from now on.
#[utoipa::path(post, path = "/api/v1/talks/{id}/subtitles/{track}/publish", tag = "subtitles",
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("track" = Uuid, Path, description = "The track's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag of the cues to publish: 412 if the track changed since")),
    responses(
        (status = 200, description = "The track as it is now", body = TrackSummary,
            headers(("ETag" = String, description = "The track's new revision"))),
        (status = 404, description = "No such talk or track, or not yours", body = super::docs::ErrorBody),
        (status = 409, description = "The video is not ready, or the track is being transcribed", body = super::docs::ErrorBody),
        (status = 412, description = "The track changed since that ETag; nothing was published", body = super::docs::ErrorBody),
        (status = 503, description = "Media storage failed; publish again", body = super::docs::ErrorBody),
    ))]
pub async fn publish_track(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path((id, track)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let (talk, track) = ids(&id, &track)?;
    let expected = expected_revision(&headers)?;
    let tenant = user.tenant;
    let publishing =
        subtitle_editing::begin_publish(&state.db, tenant, actor, talk, track, expected).await?;
    let scratch = tempfile::tempdir().map_err(|_| ApiError::Unavailable("scratch space"))?;
    let video = publishing.video;
    let files = publish::publish_track(
        &*state.media,
        scratch.path(),
        tenant,
        video,
        publishing.track,
        publishing.revision,
        &publishing.cues,
        publishing.duration_ms,
        None,
    )
    .await;
    let files = match files {
        Ok(files) => files,
        Err(err) => {
            let prefix = ferrotape_store::subtitles::revision_prefix(
                tenant,
                video,
                publishing.track,
                publishing.revision + 1,
            );
            let _ = state.media.delete_prefix(&prefix).await;
            return Err(storage_failure(err));
        }
    };
    let published = match publishing.finish(&files).await {
        Ok(published) => published,
        Err(err) => {
            let _ = state.media.delete_prefix(&files.prefix).await;
            return Err(err.into());
        }
    };
    publish::update_master(&state.db, &*state.media, scratch.path(), tenant, video)
        .await
        .map_err(storage_failure)?;
    if let Some(old) = published.replaced_prefix
        && let Err(err) = state.media.delete_prefix(&old).await
    {
        tracing::warn!(%err, old, "cannot delete a replaced track revision's files");
    }
    Ok(summary_response(StatusCode::OK, &published.track))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Vtt,
    Srt,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `vtt` (the default) or `srt`.
    format: Option<ExportFormat>,
}

/// The track's cues (as saved, published or not) as a WebVTT or SubRip file.
#[utoipa::path(get, path = "/api/v1/talks/{id}/subtitles/{track}/export", tag = "subtitles",
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("track" = Uuid, Path, description = "The track's id"), ExportQuery),
    responses(
        (status = 200, description = "The file", body = String, content_type = "text/vtt"),
        (status = 400, description = "An unknown format", body = super::docs::ErrorBody),
        (status = 404, description = "No such talk or track, or not yours", body = super::docs::ErrorBody),
    ))]
pub async fn export_track(
    State(state): State<AppState>,
    extensions: Extensions,
    Path((id, track)): Path<(String, String)>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let (talk, track) = ids(&id, &track)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let track = subtitle_editing::get(&state.db, user.tenant, actor, talk, track).await?;
    let (body, content_type, extension) = match query.format.unwrap_or(ExportFormat::Vtt) {
        ExportFormat::Vtt => (write_vtt(&track.cues), "text/vtt; charset=utf-8", "vtt"),
        ExportFormat::Srt => (
            write_srt(&track.cues),
            "application/x-subrip; charset=utf-8",
            "srt",
        ),
    };
    // The language passed the tag rules: letters, digits and dashes only.
    let disposition = format!(
        "attachment; filename=\"captions.{}.{extension}\"",
        track.summary.language
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        ],
        body,
    )
        .into_response())
}
