//! Posters of talks and photos of speakers (`server::images` does the decoding and storing):
//!
//! - `PUT /api/v1/talks/{id}/poster`: the image as the body (JPEG, PNG or WebP, told apart by
//!   its bytes, at most 20 MB) → 200 `{poster_url, width, height}`.
//! - `POST /api/v1/talks/{id}/poster`: JSON `{"at_ms": n}` (a frame of the talk's video, at
//!   full resolution), or a plain HTML form — `multipart/form-data` with a `file` field, or
//!   `at_ms`, or `remove` (form-encoded works for the last two) — with an optional `return_to`
//!   (a path on this site, in the action's query or a field before the file): the answer is
//!   then a 303 back to it with
//!   `?notice=poster_saved|poster_removed` or `?error=<code>`.
//! - `DELETE /api/v1/talks/{id}/poster`: back to the video's own poster → 204.
//! - `PUT`, `POST` (a `file` or `remove`, same rules), `DELETE /api/v1/speakers/{id}/photo`.
//!
//! Who: editors. A talk's poster, as `store::studio_talks` rules: its owner or an admin (any
//! other talk is 404); a speaker's photo, any editor of the tenant. Refusals: 415/422
//! `invalid_image` (not an image, damaged), 413 `image_too_large` (over 20 MB, over
//! 8000 px a side or 256 MiB decoded), 422 `invalid_frame` (a moment outside the video),
//! 409 `no_video` (nothing transcoded to take a frame from); nothing is stored and the
//! previous image stays. A replaced image is deleted from storage once the change is
//! committed.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use axum::Json;
use ferrotape_accounts::AccountError;
use ferrotape_model::Role;
use ferrotape_store::StoreError;
use ferrotape_store::media::MediaError;
use ferrotape_store::studio_talks::{self, Actor};
use ferrotape_store::{accounts::UserRecord, speakers};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::require_role;
use crate::error::ApiError;
use crate::images::decode::MAX_FILE_BYTES;
use crate::images::frame::{self, FrameError};
use crate::images::{self, ImageRejected, Jpeg, Shape};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A form's few text fields and its boundaries beside the file.
const FORM_OVERHEAD: usize = 64 * 1024;
/// Text fields (`at_ms`, `return_to`) are short.
const MAX_TEXT_FIELD: usize = 2048;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_poster, post_poster, delete_poster))
        .routes(routes!(put_photo, post_photo, delete_photo))
        .layer(DefaultBodyLimit::max(MAX_FILE_BYTES + FORM_OVERHEAD))
}

fn rejected(err: ImageRejected) -> ApiError {
    let status = match err {
        ImageRejected::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ImageRejected::Damaged => StatusCode::UNPROCESSABLE_ENTITY,
        ImageRejected::TooManyPixels | ImageRejected::TooManyBytes => StatusCode::PAYLOAD_TOO_LARGE,
    };
    ApiError::Coded(status, err.code(), err.to_string())
}

fn media_failure(err: MediaError) -> ApiError {
    tracing::error!(%err, "media storage failed");
    ApiError::Unavailable("media storage")
}

fn frame_failure(err: FrameError) -> ApiError {
    match err {
        FrameError::OutsideVideo { .. } => ApiError::Coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_frame",
            err.to_string(),
        ),
        FrameError::Storage(err) => media_failure(err),
        FrameError::Outputs(_) | FrameError::Ffmpeg(_) => {
            tracing::error!(%err, "taking a poster frame failed");
            ApiError::Coded(
                StatusCode::INTERNAL_SERVER_ERROR,
                "frame_failed",
                "the frame could not be taken from the video; try another moment".into(),
            )
        }
    }
}

fn no_video() -> ApiError {
    ApiError::Coded(
        StatusCode::CONFLICT,
        "no_video",
        "this talk has no transcoded video to take a frame from yet".into(),
    )
}

async fn editor(
    state: &AppState,
    extensions: &axum::http::Extensions,
) -> Result<(UserRecord, Actor), ApiError> {
    let user = require_role(state, extensions, Role::Editor).await?;
    let actor = Actor {
        user: user.id,
        admin: user.role == Role::Admin,
    };
    Ok((user, actor))
}

/// A malformed id is an id that does not exist.
fn id_of(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound)
}

/// A request body of at most [`MAX_FILE_BYTES`], refused with 413 as soon as it is longer
/// (before reading it when `Content-Length` says so).
async fn raw_body(request: Request) -> Result<Bytes, ApiError> {
    let too_large = || rejected(ImageRejected::TooManyBytes);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_FILE_BYTES as u64) {
        return Err(too_large());
    }
    let mut stream = request.into_body().into_data_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|err| ApiError::BadRequest(format!("reading the body: {err}")))?;
        if body.len() + chunk.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// What a POST asks for.
#[derive(Debug, Default)]
struct Submission {
    file: Option<Bytes>,
    at_ms: Option<String>,
    remove: bool,
    /// Where a plain form goes back to (checked: a path on this site).
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct FormFields {
    at_ms: Option<String>,
    remove: Option<String>,
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct FrameRequest {
    at_ms: u64,
}

/// Reads a POST body of any of the three kinds. On failure, the `return_to` read so far comes
/// along, so a plain form still goes back to its page.
async fn submission(
    state: &AppState,
    request: Request,
) -> Result<Submission, (ApiError, Option<String>)> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "multipart/form-data" => multipart(state, request).await,
        "application/x-www-form-urlencoded" => {
            let axum::Form(fields) = axum::Form::<FormFields>::from_request(request, state)
                .await
                .map_err(|e| (ApiError::Rejected(e.status(), e.body_text()), None))?;
            let return_to = fields.return_to.filter(|t| !t.is_empty());
            let checked = checked_return_to(return_to.as_deref()).map_err(|e| (e, None))?;
            Ok(Submission {
                file: None,
                at_ms: fields.at_ms,
                remove: fields.remove.is_some(),
                return_to: checked,
            })
        }
        "application/json" => {
            let Json(frame) = Json::<FrameRequest>::from_request(request, state)
                .await
                .map_err(|e| (ApiError::from(e), None))?;
            Ok(Submission {
                at_ms: Some(frame.at_ms.to_string()),
                ..Submission::default()
            })
        }
        _ => Err((
            ApiError::Coded(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_content_type",
                "send multipart/form-data, a form or JSON (PUT takes the image itself)".into(),
            ),
            None,
        )),
    }
}

async fn multipart(
    state: &AppState,
    request: Request,
) -> Result<Submission, (ApiError, Option<String>)> {
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| (ApiError::Rejected(e.status(), e.body_text()), None))?;
    let mut submission = Submission::default();
    let failed = |err: axum::extract::multipart::MultipartError, return_to: &Option<String>| {
        let err = if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            rejected(ImageRejected::TooManyBytes)
        } else {
            ApiError::Rejected(StatusCode::BAD_REQUEST, err.body_text())
        };
        (err, return_to.clone())
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return Err(failed(err, &submission.return_to)),
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let bytes = field
                .bytes()
                .await
                .map_err(|err| failed(err, &submission.return_to))?;
            if bytes.len() > MAX_FILE_BYTES {
                return Err((rejected(ImageRejected::TooManyBytes), submission.return_to));
            }
            // A form sent with no file chosen has an empty file part.
            submission.file = Some(bytes).filter(|b| !b.is_empty());
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|err| failed(err, &submission.return_to))?;
        if text.len() > MAX_TEXT_FIELD {
            return Err((
                ApiError::BadRequest(format!("the field `{name}` is too long")),
                submission.return_to,
            ));
        }
        match name.as_str() {
            "at_ms" => submission.at_ms = Some(text),
            "remove" => submission.remove = true,
            "return_to" if !text.is_empty() => {
                submission.return_to = checked_return_to(Some(&text))
                    .map_err(|e| (e, submission.return_to.clone()))?;
            }
            // Other fields (a submit button's name) are not ours.
            _ => {}
        }
    }
    Ok(submission)
}

/// A `return_to` must be a path on this site: one leading `/` (not `//`, a host), printable
/// ASCII, no backslash; its fragment and any earlier `notice`/`error` are dropped.
fn checked_return_to(return_to: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(path) = return_to else {
        return Ok(None);
    };
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= MAX_TEXT_FIELD
        && path.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ApiError::BadRequest(
            "return_to must be a path on this site".into(),
        ));
    }
    let path = path.split('#').next().unwrap_or(path);
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && key != "notice" && key != "error"
        })
        .collect();
    Ok(Some(if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }))
}

/// The `?error=` code of a refusal (codes the pages know; never text).
fn error_code(err: &ApiError) -> &'static str {
    match err {
        ApiError::Coded(_, code, _) => code,
        ApiError::NotFound
        | ApiError::Store(StoreError::NotFound)
        | ApiError::Account(AccountError::NotFound) => "not_found",
        ApiError::Account(AccountError::Unauthenticated) => "unauthenticated",
        ApiError::Account(AccountError::Forbidden(_)) => "forbidden",
        ApiError::Store(StoreError::Stale { .. }) => "stale",
        ApiError::Unavailable(_)
        | ApiError::Store(StoreError::Database(_))
        | ApiError::Account(AccountError::Store(_)) => "unavailable",
        _ => "invalid",
    }
}

/// The answer to a POST: JSON (or the error) for API clients, a 303 to `return_to` for forms.
fn finish(return_to: Option<String>, result: Result<Response, ApiError>, notice: &str) -> Response {
    let Some(path) = return_to else {
        return result.unwrap_or_else(IntoResponse::into_response);
    };
    let (name, code) = match result {
        Ok(_) => ("notice", notice),
        Err(err) => {
            let code = error_code(&err);
            // For its log line (5xx); the form gets the code.
            drop(err.into_response());
            ("error", code)
        }
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    let location = format!("{path}{separator}{name}={code}");
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

// ---- talk posters ----

/// Sets a talk's poster from an image (JPEG, PNG or WebP; resized, re-encoded as JPEG).
#[utoipa::path(put, path = "/api/v1/talks/{id}/poster", tag = "images",
    params(("id" = String, Path, description = "The talk's id")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The image (image/png and image/webp too)"),
    responses((status = 200, description = "Saved: `{poster_url}`"),
              (status = 404, description = "No such talk of yours", body = super::docs::ErrorBody),
              (status = 413, description = "Too large (bytes or pixels)", body = super::docs::ErrorBody),
              (status = 415, description = "Not a JPEG, PNG or WebP image", body = super::docs::ErrorBody),
              (status = 422, description = "A damaged image, or a frame outside the video", body = super::docs::ErrorBody)))]
async fn put_poster(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let talk = id_of(&id)?;
    let (user, actor) = editor(&state, request.extensions()).await?;
    let sources = studio_talks::poster_sources(&state.db, user.tenant, actor, talk).await?;
    let body = raw_body(request).await?;
    let jpeg = images::prepare(body, Shape::Poster)
        .await
        .map_err(rejected)?;
    save_poster(&state, &user, actor, talk, sources.poster_key, jpeg).await
}

/// Sets a talk's poster from a form (`file`, or `at_ms` for a frame of the video; `return_to`
/// for a 303 back) or JSON `{"at_ms": n}` (a full-resolution frame of the served video).
#[utoipa::path(post, path = "/api/v1/talks/{id}/poster", tag = "images",
    params(("id" = String, Path, description = "The talk's id")),
    request_body(content = String, content_type = "multipart/form-data", description = "`file` or `at_ms`, optional `return_to`; or application/json `{\"at_ms\": n}`"),
    responses((status = 200, description = "Saved: `{poster_url}`"),
              (status = 303, description = "A form post with `return_to`: back to it with `?notice=` or `?error=`"),
              (status = 404, description = "No such talk of yours", body = super::docs::ErrorBody),
              (status = 413, description = "Too large", body = super::docs::ErrorBody),
              (status = 415, description = "Not an image", body = super::docs::ErrorBody),
              (status = 422, description = "A damaged image, or a frame outside the video", body = super::docs::ErrorBody)))]
async fn post_poster(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let (result, return_to, notice) = match poster_form(&state, &id, request).await {
        Ok((response, return_to, notice)) => (Ok(response), return_to, notice),
        Err((err, return_to)) => (Err(err), return_to, ""),
    };
    finish(return_to, result, notice)
}

type FormOutcome = Result<(Response, Option<String>, &'static str), (ApiError, Option<String>)>;

/// `return_to` given in the query of the form's `action`: known before the body is read, so
/// even a refusal of the caller (logged out) goes back to the page.
fn return_to_in_query(request: &Request) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Query {
        return_to: Option<String>,
    }
    let query = axum::extract::Query::<Query>::try_from_uri(request.uri())
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    checked_return_to(query.0.return_to.as_deref().filter(|t| !t.is_empty()))
}

/// The submission, with the query's `return_to` when the body names none.
async fn submission_returning(
    state: &AppState,
    request: Request,
    early: &Option<String>,
) -> Result<Submission, (ApiError, Option<String>)> {
    let mut form = submission(state, request)
        .await
        .map_err(|(e, to)| (e, to.or_else(|| early.clone())))?;
    if form.return_to.is_none() {
        form.return_to = early.clone();
    }
    Ok(form)
}

async fn poster_form(state: &AppState, id: &str, request: Request) -> FormOutcome {
    let early = return_to_in_query(&request).map_err(|e| (e, None))?;
    let talk = id_of(id).map_err(|e| (e, early.clone()))?;
    let (user, actor) = editor(state, request.extensions())
        .await
        .map_err(|e| (e, early.clone()))?;
    let sources = studio_talks::poster_sources(&state.db, user.tenant, actor, talk)
        .await
        .map_err(|e| (e.into(), early.clone()))?;
    let form = submission_returning(state, request, &early).await?;
    let return_to = form.return_to.clone();
    let with_return = |e: ApiError| (e, return_to.clone());
    if form.remove {
        let response = remove_poster(state, &user, actor, talk)
            .await
            .map_err(with_return)?;
        return Ok((response, return_to, "poster_removed"));
    }
    let jpeg = if let Some(file) = form.file {
        images::prepare(file, Shape::Poster)
            .await
            .map_err(|e| with_return(rejected(e)))?
    } else if let Some(at_ms) = form
        .at_ms
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let at_ms: u64 = at_ms.parse().map_err(|_| {
            with_return(ApiError::Coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_frame",
                "at_ms is a whole number of milliseconds from the start of the video".into(),
            ))
        })?;
        let video = sources
            .video
            .as_ref()
            .ok_or_else(|| with_return(no_video()))?;
        let png = frame::grab(&*state.media, &state.tools.ffmpeg, video, at_ms)
            .await
            .map_err(|e| with_return(frame_failure(e)))?;
        images::prepare(png.into(), Shape::Poster)
            .await
            .map_err(|e| with_return(rejected(e)))?
    } else {
        return Err(with_return(ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "invalid_image",
            "send an image in `file`, a moment in `at_ms`, or `remove`".into(),
        )));
    };
    let response = save_poster(state, &user, actor, talk, sources.poster_key, jpeg)
        .await
        .map_err(with_return)?;
    Ok((response, return_to, "poster_saved"))
}

/// Stores `jpeg` as the talk's poster; the one it replaces is deleted after the commit, and
/// on a refusal the new object goes again (unless it is the poster already: same bytes).
async fn save_poster(
    state: &AppState,
    user: &UserRecord,
    actor: Actor,
    talk: Uuid,
    current: Option<String>,
    jpeg: Jpeg,
) -> Result<Response, ApiError> {
    let key = images::key_for(user.tenant, talk, &jpeg);
    images::store(&*state.media, &key, &jpeg)
        .await
        .map_err(media_failure)?;
    match studio_talks::set_poster(&state.db, user.tenant, actor, talk, Some(&key)).await {
        Ok(replaced) => {
            if let Some(replaced) = replaced {
                images::delete_replaced(&*state.media, &replaced).await;
            }
            tracing::info!(%talk, key, "poster set");
            Ok(Json(json!({
                "poster_url": format!("/media/{key}"),
                "width": jpeg.width,
                "height": jpeg.height,
            }))
            .into_response())
        }
        Err(err) => {
            if current.as_deref() != Some(key.as_str()) {
                images::delete_replaced(&*state.media, &key).await;
            }
            Err(err.into())
        }
    }
}

/// Goes back to the video's own poster.
#[utoipa::path(delete, path = "/api/v1/talks/{id}/poster", tag = "images",
    params(("id" = String, Path, description = "The talk's id")),
    responses((status = 204, description = "The video's own poster is shown again"),
              (status = 404, description = "No such talk of yours", body = super::docs::ErrorBody)))]
async fn delete_poster(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let talk = id_of(&id)?;
    let (user, actor) = editor(&state, request.extensions()).await?;
    remove_poster(&state, &user, actor, talk).await
}

async fn remove_poster(
    state: &AppState,
    user: &UserRecord,
    actor: Actor,
    talk: Uuid,
) -> Result<Response, ApiError> {
    if let Some(replaced) =
        studio_talks::set_poster(&state.db, user.tenant, actor, talk, None).await?
    {
        images::delete_replaced(&*state.media, &replaced).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- speaker photos ----

/// The speaker's current photo key; `NotFound` when there is no such speaker in the tenant.
async fn current_photo(
    state: &AppState,
    user: &UserRecord,
    speaker: Uuid,
) -> Result<Option<String>, ApiError> {
    let speaker = speakers::get(&state.db, user.tenant, speaker).await?;
    Ok(speaker
        .photo_url
        .and_then(|url| url.strip_prefix("/media/").map(str::to_owned)))
}

/// Sets a speaker's photo from an image (cropped square, resized, re-encoded as JPEG).
#[utoipa::path(put, path = "/api/v1/speakers/{id}/photo", tag = "images",
    params(("id" = String, Path, description = "The speaker's id")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The image (image/png and image/webp too)"),
    responses((status = 200, description = "Saved: `{photo_url}`"),
              (status = 404, description = "No such speaker", body = super::docs::ErrorBody),
              (status = 413, description = "Too large (bytes or pixels)", body = super::docs::ErrorBody),
              (status = 415, description = "Not a JPEG, PNG or WebP image", body = super::docs::ErrorBody),
              (status = 422, description = "A damaged image", body = super::docs::ErrorBody)))]
async fn put_photo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let speaker = id_of(&id)?;
    let (user, _) = editor(&state, request.extensions()).await?;
    let current = current_photo(&state, &user, speaker).await?;
    let body = raw_body(request).await?;
    let jpeg = images::prepare(body, Shape::Photo)
        .await
        .map_err(rejected)?;
    save_photo(&state, &user, speaker, current, jpeg).await
}

/// Sets a speaker's photo from a form (`file`, optional `return_to` for a 303 back).
#[utoipa::path(post, path = "/api/v1/speakers/{id}/photo", tag = "images",
    params(("id" = String, Path, description = "The speaker's id")),
    request_body(content = String, content_type = "multipart/form-data", description = "`file`, optional `return_to`"),
    responses((status = 200, description = "Saved: `{photo_url}`"),
              (status = 303, description = "A form post with `return_to`: back to it with `?notice=` or `?error=`"),
              (status = 404, description = "No such speaker", body = super::docs::ErrorBody),
              (status = 413, description = "Too large", body = super::docs::ErrorBody),
              (status = 415, description = "Not an image", body = super::docs::ErrorBody),
              (status = 422, description = "A damaged image", body = super::docs::ErrorBody)))]
async fn post_photo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let (result, return_to, notice) = match photo_form(&state, &id, request).await {
        Ok((response, return_to, notice)) => (Ok(response), return_to, notice),
        Err((err, return_to)) => (Err(err), return_to, ""),
    };
    finish(return_to, result, notice)
}

async fn photo_form(state: &AppState, id: &str, request: Request) -> FormOutcome {
    let early = return_to_in_query(&request).map_err(|e| (e, None))?;
    let speaker = id_of(id).map_err(|e| (e, early.clone()))?;
    let (user, _) = editor(state, request.extensions())
        .await
        .map_err(|e| (e, early.clone()))?;
    let current = current_photo(state, &user, speaker)
        .await
        .map_err(|e| (e, early.clone()))?;
    let form = submission_returning(state, request, &early).await?;
    let return_to = form.return_to.clone();
    let with_return = |e: ApiError| (e, return_to.clone());
    if form.remove {
        let response = remove_photo(state, &user, speaker)
            .await
            .map_err(with_return)?;
        return Ok((response, return_to, "photo_removed"));
    }
    let Some(file) = form.file else {
        return Err(with_return(ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "invalid_image",
            "send an image in `file`, or `remove`".into(),
        )));
    };
    let jpeg = images::prepare(file, Shape::Photo)
        .await
        .map_err(|e| with_return(rejected(e)))?;
    let response = save_photo(state, &user, speaker, current, jpeg)
        .await
        .map_err(with_return)?;
    Ok((response, return_to, "photo_saved"))
}

async fn save_photo(
    state: &AppState,
    user: &UserRecord,
    speaker: Uuid,
    current: Option<String>,
    jpeg: Jpeg,
) -> Result<Response, ApiError> {
    let key = images::key_for(user.tenant, speaker, &jpeg);
    images::store(&*state.media, &key, &jpeg)
        .await
        .map_err(media_failure)?;
    match speakers::set_photo(&state.db, user.tenant, speaker, Some(&key)).await {
        Ok(replaced) => {
            if let Some(replaced) = replaced {
                images::delete_replaced(&*state.media, &replaced).await;
            }
            tracing::info!(%speaker, key, "speaker photo set");
            Ok(Json(json!({
                "photo_url": format!("/media/{key}"),
                "width": jpeg.width,
                "height": jpeg.height,
            }))
            .into_response())
        }
        Err(err) => {
            if current.as_deref() != Some(key.as_str()) {
                images::delete_replaced(&*state.media, &key).await;
            }
            Err(err.into())
        }
    }
}

/// Removes a speaker's photo.
#[utoipa::path(delete, path = "/api/v1/speakers/{id}/photo", tag = "images",
    params(("id" = String, Path, description = "The speaker's id")),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such speaker", body = super::docs::ErrorBody)))]
async fn delete_photo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let speaker = id_of(&id)?;
    let (user, _) = editor(&state, request.extensions()).await?;
    remove_photo(&state, &user, speaker).await
}

async fn remove_photo(
    state: &AppState,
    user: &UserRecord,
    speaker: Uuid,
) -> Result<Response, ApiError> {
    if let Some(replaced) = speakers::set_photo(&state.db, user.tenant, speaker, None).await? {
        images::delete_replaced(&*state.media, &replaced).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_a_path_on_this_site() {
        let ok = |p: &str| checked_return_to(Some(p)).unwrap().unwrap();
        assert_eq!(ok("/studio/talks/1"), "/studio/talks/1");
        assert_eq!(
            ok("/studio/talks/1?tab=poster&error=invalid_image#x"),
            "/studio/talks/1?tab=poster"
        );
        assert_eq!(ok("/s?notice=poster_saved"), "/s");
        for bad in [
            "//evil.example/x",
            "https://evil.example/",
            "/\\evil.example",
            "studio",
            "/a b",
            "/a\nLocation: x",
        ] {
            assert!(checked_return_to(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
