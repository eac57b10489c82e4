//! `/api/v1/speakers`: the tenant's speaker profiles (shared by its editors): list by name
//! (`q` for autocomplete), create, get, replace (`PUT` with `SpeakerFields`; a missing `slug`
//! keeps the current one), delete (their talks lose them). Changes honour `If-Match`. Photos
//! are uploaded through `/api/v1/speakers/{id}/photo`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use ferrotape_model::api::SpeakerPage;
use ferrotape_model::talk::{Speaker, SpeakerFields};
use ferrotape_store::speakers;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conditional::{etag, expected_revision, resource};
use super::docs::ErrorBody;
use super::paging::{self, NameCursor};
use super::{editor, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

const LIST: &str = "speakers";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_speakers, create_speaker))
        .routes(routes!(get_speaker, update_speaker, delete_speaker))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    /// Text in the name or slug.
    pub q: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100 (default 50).
    pub limit: Option<u32>,
}

fn speaker_response(headers: &HeaderMap, status: StatusCode, speaker: &Speaker) -> Response {
    resource(headers, etag(speaker.revision), status, speaker)
}

/// Speakers by name.
#[utoipa::path(get, path = "/api/v1/speakers", tag = "speakers", params(NameQuery),
    responses(
        (status = 200, description = "A page of speakers", body = SpeakerPage),
        (status = 400, description = "A malformed cursor or limit", body = ErrorBody),
    ))]
pub async fn list_speakers(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<NameQuery>, QueryRejection>,
) -> Result<Json<SpeakerPage>, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let query = paging::query(query)?;
    let limit = paging::limit(query.limit)?;
    let after: Option<NameCursor> = paging::decode(LIST, query.cursor.as_deref())?;
    let rows = speakers::list(
        &state.db,
        user.tenant,
        query.q.as_deref(),
        after.as_ref().map(|c| (c.name.as_str(), c.id)),
        i64::from(limit) + 1,
    )
    .await?;
    let (items, next) = paging::page(rows, limit, LIST, |s| NameCursor {
        name: s.name.clone(),
        id: s.id,
    });
    Ok(Json(SpeakerPage { items, next }))
}

#[utoipa::path(post, path = "/api/v1/speakers", tag = "speakers", request_body = SpeakerFields,
    responses(
        (status = 201, description = "Created", body = Speaker,
            headers(("ETag" = String, description = "The speaker's revision"),
                    ("Location" = String, description = "The speaker's URL"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "A field is refused (`field` says which)", body = ErrorBody),
    ))]
pub async fn create_speaker(
    State(state): State<AppState>,
    extensions: Extensions,
    body: Result<Json<SpeakerFields>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let Json(fields) = body?;
    let speaker = speakers::create(&state.db, user.tenant, fields).await?;
    let response = speaker_response(&HeaderMap::new(), StatusCode::CREATED, &speaker);
    let response = super::located(response, &format!("/api/v1/speakers/{}", speaker.id));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/speakers/{id}", tag = "speakers",
    params(("id" = Uuid, Path, description = "The speaker's id"),
           ("If-None-Match" = Option<String>, Header, description = "An ETag of the copy you hold: 304 when it is current")),
    responses(
        (status = 200, description = "The speaker", body = Speaker,
            headers(("ETag" = String, description = "The speaker's revision"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "No such speaker", body = ErrorBody),
    ))]
pub async fn get_speaker(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let speaker = speakers::get(&state.db, user.tenant, parse_id(&id)?).await?;
    Ok(speaker_response(&headers, StatusCode::OK, &speaker))
}

#[utoipa::path(put, path = "/api/v1/speakers/{id}", tag = "speakers", request_body = SpeakerFields,
    params(("id" = Uuid, Path, description = "The speaker's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the change is based on: 412 if the speaker changed since")),
    responses(
        (status = 200, description = "The speaker as it is now", body = Speaker,
            headers(("ETag" = String, description = "The speaker's new revision"))),
        (status = 404, description = "No such speaker", body = ErrorBody),
        (status = 412, description = "The speaker changed since that ETag; nothing was written", body = ErrorBody),
        (status = 422, description = "A field is refused (`field` says which)", body = ErrorBody),
    ))]
pub async fn update_speaker(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<SpeakerFields>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    let Json(fields) = body?;
    let speaker = speakers::update(&state.db, user.tenant, id, expected, fields).await?;
    Ok(speaker_response(
        &HeaderMap::new(),
        StatusCode::OK,
        &speaker,
    ))
}

/// Deletes the speaker (and their photo); their talks lose them.
#[utoipa::path(delete, path = "/api/v1/speakers/{id}", tag = "speakers",
    params(("id" = Uuid, Path, description = "The speaker's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such speaker", body = ErrorBody),
        (status = 412, description = "The speaker changed since that ETag; nothing was deleted", body = ErrorBody),
    ))]
pub async fn delete_speaker(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    let photo = speakers::delete(&state.db, user.tenant, id, expected).await?;
    if photo.is_some() {
        // Everything stored for a speaker lives under its id.
        let prefix = format!("{}/{id}", user.tenant.0);
        if let Err(err) = state.media.delete_prefix(&prefix).await {
            tracing::warn!(%err, %prefix, "cannot remove a deleted speaker's photo");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
