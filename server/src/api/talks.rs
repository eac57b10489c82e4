//! `/api/v1/talks`: the talks the caller may edit (an editor their own, an admin all of the
//! tenant's; others answer 404), as the studio edits them (`store::studio_talks`): list with
//! filters and cursor pagination, create (optionally from one of the caller's videos), get,
//! replace the fields (`PUT`: the whole `TalkFields`; a missing `slug` keeps the current one),
//! move to the trash and restore, publish, and attach another video. Changes honour
//! `If-Match` (see `conditional`).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use ferrotape_model::api::{NewTalk, TalkPage, VideoAttachment};
use ferrotape_model::talk::{EditableTalk, Publication, StudioTalkFilter, TalkFields, TalkState};
use ferrotape_store::studio_talks::{self, Actor, ListCursor};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::conditional::{etag, expected_revision, resource};
use super::paging::{self, TimeCursor};
use super::{editor, parse_id, sign_talk, sign_video};
use crate::error::ApiError;
use crate::state::AppState;

const LIST: &str = "talks";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_talks, create_talk))
        .routes(routes!(get_talk, update_talk, delete_talk))
        .routes(routes!(restore_talk))
        .routes(routes!(set_publication))
        .routes(routes!(attach_video))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TalkQuery {
    /// Words in the title or slug.
    q: Option<String>,
    state: Option<TalkState>,
    /// The trash instead of the live talks.
    #[serde(default)]
    trash: bool,
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// 1 to 100 (default 50).
    limit: Option<u32>,
}

/// The talk as the API answers it: media URLs signed for the caller.
async fn current(
    state: &AppState,
    user_tenant: ferrotape_model::TenantId,
    actor: Actor,
    id: Uuid,
) -> Result<EditableTalk, ApiError> {
    let mut talk = studio_talks::editable(&state.db, user_tenant, actor, id).await?;
    sign_talk(state, &mut talk);
    Ok(talk)
}

fn talk_response(headers: &HeaderMap, status: StatusCode, talk: &EditableTalk) -> Response {
    resource(headers, etag(talk.talk.revision), status, talk)
}

/// The caller's talks, newest first.
#[utoipa::path(get, path = "/api/v1/talks", tag = "talks", params(TalkQuery),
    responses(
        (status = 200, description = "A page of talks", body = TalkPage),
        (status = 400, description = "A malformed cursor, limit or filter", body = super::docs::ErrorBody),
        (status = 401, description = "No session or API key", body = super::docs::ErrorBody),
        (status = 403, description = "Not an editor", body = super::docs::ErrorBody),
    ))]
pub async fn list_talks(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<TalkQuery>, QueryRejection>,
) -> Result<Json<TalkPage>, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let query = paging::query(query)?;
    let limit = paging::limit(query.limit)?;
    let after: Option<TimeCursor> = paging::decode(LIST, query.cursor.as_deref())?;
    let filter = StudioTalkFilter {
        q: query.q,
        state: query.state,
        trash: query.trash,
    };
    let rows = studio_talks::list(
        &state.db,
        user.tenant,
        actor,
        &filter,
        after.map(|c| ListCursor {
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
        .map(|(mut talk, _)| {
            if let Some(video) = talk.video.as_mut() {
                sign_video(&state, video);
            }
            talk
        })
        .collect();
    Ok(Json(TalkPage { items, next }))
}

/// Creates a draft talk; with `video_id` (one of the caller's videos without a talk) it
/// serves that video.
#[utoipa::path(post, path = "/api/v1/talks", tag = "talks", request_body = NewTalk,
    responses(
        (status = 201, description = "Created", body = EditableTalk,
            headers(("ETag" = String, description = "The talk's revision"),
                    ("Location" = String, description = "The talk's URL"))),
        (status = 400, description = "Malformed JSON", body = super::docs::ErrorBody),
        (status = 404, description = "`video_id` is not one of the caller's videos", body = super::docs::ErrorBody),
        (status = 409, description = "The video already belongs to a talk", body = super::docs::ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = super::docs::ErrorBody),
        (status = 422, description = "A field is refused (`field` says which)", body = super::docs::ErrorBody),
    ))]
pub async fn create_talk(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Json<NewTalk>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let Json(new) = body?;
    let id = studio_talks::create(&state.db, user.tenant, actor, new.fields, new.video_id).await?;
    let talk = current(&state, user.tenant, actor, id).await?;
    let response = talk_response(&headers, StatusCode::CREATED, &talk);
    let response = super::located(response, &format!("/api/v1/talks/{id}"));
    Ok(response)
}

/// One talk, in the trash or not.
#[utoipa::path(get, path = "/api/v1/talks/{id}", tag = "talks",
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("If-None-Match" = Option<String>, Header, description = "An ETag of the copy you hold: 304 when it is current")),
    responses(
        (status = 200, description = "The talk", body = EditableTalk,
            headers(("ETag" = String, description = "The talk's revision"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "No such talk, or not yours", body = super::docs::ErrorBody),
    ))]
pub async fn get_talk(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let talk = current(&state, user.tenant, actor, parse_id(&id)?).await?;
    Ok(talk_response(&headers, StatusCode::OK, &talk))
}

/// Replaces the talk's fields (all of them: send what a GET returned, changed).
#[utoipa::path(put, path = "/api/v1/talks/{id}", tag = "talks", request_body = TalkFields,
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the change is based on: 412 if the talk changed since")),
    responses(
        (status = 200, description = "The talk as it is now", body = EditableTalk,
            headers(("ETag" = String, description = "The talk's new revision"))),
        (status = 400, description = "Malformed JSON or If-Match", body = super::docs::ErrorBody),
        (status = 404, description = "No such talk, or not yours", body = super::docs::ErrorBody),
        (status = 409, description = "The talk is in the trash", body = super::docs::ErrorBody),
        (status = 412, description = "The talk changed since that ETag; nothing was written", body = super::docs::ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = super::docs::ErrorBody),
        (status = 422, description = "A field is refused (`field` says which)", body = super::docs::ErrorBody),
    ))]
pub async fn update_talk(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<TalkFields>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    let Json(fields) = body?;
    studio_talks::update(&state.db, user.tenant, actor, id, expected, fields).await?;
    let talk = current(&state, user.tenant, actor, id).await?;
    Ok(talk_response(&HeaderMap::new(), StatusCode::OK, &talk))
}

/// Moves the talk to the trash (restorable for 30 days, then purged with its media).
#[utoipa::path(delete, path = "/api/v1/talks/{id}", tag = "talks",
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    responses(
        (status = 204, description = "In the trash"),
        (status = 404, description = "No such talk, or not yours", body = super::docs::ErrorBody),
        (status = 412, description = "The talk changed since that ETag; nothing was written", body = super::docs::ErrorBody),
    ))]
pub async fn delete_talk(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    studio_talks::trash(&state.db, user.tenant, actor, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the talk out of the trash (a draft stays a draft; anything else comes back
/// unpublished).
#[utoipa::path(post, path = "/api/v1/talks/{id}/restore", tag = "talks",
    params(("id" = Uuid, Path, description = "The talk's id")),
    responses(
        (status = 200, description = "The talk as it is now", body = EditableTalk,
            headers(("ETag" = String, description = "The talk's revision"))),
        (status = 404, description = "No such talk, or not yours", body = super::docs::ErrorBody),
    ))]
pub async fn restore_talk(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    studio_talks::restore(&state.db, user.tenant, actor, id).await?;
    let talk = current(&state, user.tenant, actor, id).await?;
    Ok(talk_response(&HeaderMap::new(), StatusCode::OK, &talk))
}

/// Publishes, schedules (`scheduled` with a future `publish_at`), unlists, unpublishes or
/// returns the talk to draft. A talk becomes reachable only with a playable video.
#[utoipa::path(put, path = "/api/v1/talks/{id}/publication", tag = "talks", request_body = Publication,
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the change is based on")),
    responses(
        (status = 200, description = "The talk as it is now", body = EditableTalk,
            headers(("ETag" = String, description = "The talk's new revision"))),
        (status = 404, description = "No such talk, or not yours", body = super::docs::ErrorBody),
        (status = 409, description = "The talk is in the trash", body = super::docs::ErrorBody),
        (status = 412, description = "The talk changed since that ETag; nothing was written", body = super::docs::ErrorBody),
        (status = 422, description = "No playable video yet, or a refused `publish_at`", body = super::docs::ErrorBody),
    ))]
pub async fn set_publication(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Publication>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    let Json(publication) = body?;
    studio_talks::set_publication(&state.db, user.tenant, actor, id, expected, publication).await?;
    let talk = current(&state, user.tenant, actor, id).await?;
    Ok(talk_response(&HeaderMap::new(), StatusCode::OK, &talk))
}

/// Gives the talk another video (one of the caller's videos without a talk). The talk keeps
/// its URL and serves its current video until the new one is ready.
#[utoipa::path(put, path = "/api/v1/talks/{id}/video", tag = "talks", request_body = VideoAttachment,
    params(("id" = Uuid, Path, description = "The talk's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the change is based on")),
    responses(
        (status = 200, description = "The talk as it is now", body = EditableTalk,
            headers(("ETag" = String, description = "The talk's new revision"))),
        (status = 404, description = "No such talk or video, or not yours", body = super::docs::ErrorBody),
        (status = 409, description = "The video belongs to a talk already, or the talk is in the trash", body = super::docs::ErrorBody),
        (status = 412, description = "The talk changed since that ETag; nothing was written", body = super::docs::ErrorBody),
    ))]
pub async fn attach_video(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<VideoAttachment>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    let Json(attachment) = body?;
    studio_talks::attach_video_expecting(
        &state.db,
        user.tenant,
        actor,
        id,
        attachment.video_id,
        expected,
    )
    .await?;
    let talk = current(&state, user.tenant, actor, id).await?;
    Ok(talk_response(&HeaderMap::new(), StatusCode::OK, &talk))
}
