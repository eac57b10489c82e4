//! `/api/v1/tags`: the tenant's tags: list by name (`q`), create, get, rename (`PUT`
//! `{name}`: the slug follows), delete (from every talk). Talks also create tags on the fly
//! by name (`TalkFields::tags`). Changes honour `If-Match`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use ferrotape_model::api::{TagName, TagPage};
use ferrotape_model::talk::Tag;
use ferrotape_store::tags;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conditional::{etag, expected_revision, resource};
use super::docs::ErrorBody;
use super::paging::{self, NameCursor};
use super::speakers::NameQuery;
use super::{editor, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

const LIST: &str = "tags";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(get_tag, rename_tag, delete_tag))
}

fn tag_response(headers: &HeaderMap, status: StatusCode, tag: &Tag) -> Response {
    resource(headers, etag(tag.revision), status, tag)
}

/// Tags by name, with how many talks carry each.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", params(NameQuery),
    responses(
        (status = 200, description = "A page of tags", body = TagPage),
        (status = 400, description = "A malformed cursor or limit", body = ErrorBody),
    ))]
pub async fn list_tags(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<NameQuery>, QueryRejection>,
) -> Result<Json<TagPage>, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let query = paging::query(query)?;
    let limit = paging::limit(query.limit)?;
    let after: Option<NameCursor> = paging::decode(LIST, query.cursor.as_deref())?;
    let rows = tags::list(
        &state.db,
        user.tenant,
        query.q.as_deref(),
        after.as_ref().map(|c| (c.name.as_str(), c.id)),
        i64::from(limit) + 1,
    )
    .await?;
    let (items, next) = paging::page(rows, limit, LIST, |t| NameCursor {
        name: t.name.clone(),
        id: t.id,
    });
    Ok(Json(TagPage { items, next }))
}

#[utoipa::path(post, path = "/api/v1/tags", tag = "tags", request_body = TagName,
    responses(
        (status = 201, description = "Created", body = Tag,
            headers(("ETag" = String, description = "The tag's revision"),
                    ("Location" = String, description = "The tag's URL"))),
        (status = 422, description = "An empty or taken name", body = ErrorBody),
    ))]
pub async fn create_tag(
    State(state): State<AppState>,
    extensions: Extensions,
    body: Result<Json<TagName>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let Json(input) = body?;
    let tag = tags::create(&state.db, user.tenant, &input.name).await?;
    let response = tag_response(&HeaderMap::new(), StatusCode::CREATED, &tag);
    let response = super::located(response, &format!("/api/v1/tags/{}", tag.id));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/tags/{id}", tag = "tags",
    params(("id" = Uuid, Path, description = "The tag's id"),
           ("If-None-Match" = Option<String>, Header, description = "An ETag of the copy you hold: 304 when it is current")),
    responses(
        (status = 200, description = "The tag", body = Tag,
            headers(("ETag" = String, description = "The tag's revision"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "No such tag", body = ErrorBody),
    ))]
pub async fn get_tag(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let tag = tags::get(&state.db, user.tenant, parse_id(&id)?).await?;
    Ok(tag_response(&headers, StatusCode::OK, &tag))
}

#[utoipa::path(put, path = "/api/v1/tags/{id}", tag = "tags", request_body = TagName,
    params(("id" = Uuid, Path, description = "The tag's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the change is based on")),
    responses(
        (status = 200, description = "The tag as it is now", body = Tag,
            headers(("ETag" = String, description = "The tag's new revision"))),
        (status = 404, description = "No such tag", body = ErrorBody),
        (status = 412, description = "The tag changed since that ETag; nothing was written", body = ErrorBody),
        (status = 422, description = "An empty or taken name", body = ErrorBody),
    ))]
pub async fn rename_tag(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<TagName>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    let Json(input) = body?;
    let tag = tags::rename(&state.db, user.tenant, id, expected, &input.name).await?;
    Ok(tag_response(&HeaderMap::new(), StatusCode::OK, &tag))
}

#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "tags",
    params(("id" = Uuid, Path, description = "The tag's id"),
           ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    responses(
        (status = 204, description = "Deleted, and taken off every talk"),
        (status = 404, description = "No such tag", body = ErrorBody),
        (status = 412, description = "The tag changed since that ETag; nothing was deleted", body = ErrorBody),
    ))]
pub async fn delete_tag(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (user, _) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let expected = expected_revision(&headers)?;
    tags::delete(&state.db, user.tenant, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
