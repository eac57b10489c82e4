//! `/api/v1/live/streams`: an editor's live streams (an admin's: the tenant's) — list, create,
//! get, change the title and recording switch, delete one that is not live — and its key:
//! `GET …/key` shows it (it is derived, not stored), `POST …/key` regenerates it, refusing
//! the old key from that moment and cutting a push made with it (`live_hooks`'s update check).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrotape_model::live::{LiveStream, LiveStreamFields, StreamKey};
use ferrotape_store::live;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::docs::ErrorBody;
use super::{editor, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_streams, create_stream))
        .routes(routes!(get_stream, update_stream, delete_stream))
        .routes(routes!(show_key, regenerate_key))
}

/// The streams the caller manages, newest first.
#[utoipa::path(get, path = "/api/v1/live/streams", tag = "live",
    responses((status = 200, description = "The streams", body = Vec<LiveStream>)))]
pub async fn list_streams(
    State(state): State<AppState>,
    extensions: Extensions,
) -> Result<Json<Vec<LiveStream>>, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    Ok(Json(live::list(&state.db, user.tenant, actor).await?))
}

/// Creates a stream owned by the caller, with its first key.
#[utoipa::path(post, path = "/api/v1/live/streams", tag = "live", request_body = LiveStreamFields,
    responses(
        (status = 201, description = "Created", body = LiveStream,
            headers(("Location" = String, description = "The stream's URL"))),
        (status = 422, description = "No title, or too many streams", body = ErrorBody),
    ))]
pub async fn create_stream(
    State(state): State<AppState>,
    extensions: Extensions,
    body: Result<Json<LiveStreamFields>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let Json(fields) = body?;
    let fields = fields
        .normalized()
        .map_err(ferrotape_store::StoreError::Invalid)?;
    let (id, hash) = state.accounts.stream_keys().mint(user.tenant);
    let stream = live::create(&state.db, user.tenant, actor, id, &fields, &hash).await?;
    let response = (StatusCode::CREATED, Json(&stream)).into_response();
    let response = super::located(response, &format!("/api/v1/live/streams/{}", stream.id));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/live/streams/{id}", tag = "live",
    params(("id" = Uuid, Path, description = "The stream's id")),
    responses(
        (status = 200, description = "The stream", body = LiveStream),
        (status = 404, description = "No such stream of yours", body = ErrorBody),
    ))]
pub async fn get_stream(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<Json<LiveStream>, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    Ok(Json(
        live::get(&state.db, user.tenant, actor, parse_id(&id)?).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/live/streams/{id}", tag = "live", request_body = LiveStreamFields,
    params(("id" = Uuid, Path, description = "The stream's id")),
    responses(
        (status = 200, description = "The stream as it is now", body = LiveStream),
        (status = 404, description = "No such stream of yours", body = ErrorBody),
        (status = 422, description = "No title", body = ErrorBody),
    ))]
pub async fn update_stream(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
    body: Result<Json<LiveStreamFields>, JsonRejection>,
) -> Result<Json<LiveStream>, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let Json(fields) = body?;
    let fields = fields
        .normalized()
        .map_err(ferrotape_store::StoreError::Invalid)?;
    Ok(Json(
        live::update(&state.db, user.tenant, actor, id, &fields).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/live/streams/{id}", tag = "live",
    params(("id" = Uuid, Path, description = "The stream's id")),
    responses(
        (status = 204, description = "Deleted: its key is refused from now on"),
        (status = 404, description = "No such stream of yours", body = ErrorBody),
        (status = 409, description = "The stream is live or reconnecting", body = ErrorBody),
    ))]
pub async fn delete_stream(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    live::delete(&state.db, user.tenant, actor, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The stream's current key (`Cache-Control: no-store`).
#[utoipa::path(get, path = "/api/v1/live/streams/{id}/key", tag = "live",
    params(("id" = Uuid, Path, description = "The stream's id")),
    responses(
        (status = 200, description = "The key", body = StreamKey),
        (status = 404, description = "No such stream of yours", body = ErrorBody),
    ))]
pub async fn show_key(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let stream = live::get(&state.db, user.tenant, actor, parse_id(&id)?).await?;
    Ok(key_response(&state, user.tenant, &stream))
}

/// A new key: the old one is refused from now on, and a push made with it is cut.
#[utoipa::path(post, path = "/api/v1/live/streams/{id}/key", tag = "live",
    params(("id" = Uuid, Path, description = "The stream's id")),
    responses(
        (status = 200, description = "The new key", body = StreamKey),
        (status = 404, description = "No such stream of yours", body = ErrorBody),
    ))]
pub async fn regenerate_key(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (user, actor) = editor(&state, &extensions).await?;
    let id = parse_id(&id)?;
    let keys = state.accounts.stream_keys().clone();
    let regenerated = live::regenerate_key(&state.db, user.tenant, actor, id, |generation| {
        keys.stored_hash(user.tenant, id, generation)
    })
    .await?;
    if let Some(publisher) = &regenerated.dropped_publisher {
        tracing::info!(stream = %id, publisher, "stream key regenerated: its live push is cut");
    }
    Ok(key_response(&state, user.tenant, &regenerated.stream))
}

fn key_response(
    state: &AppState,
    tenant: ferrotape_model::TenantId,
    stream: &LiveStream,
) -> Response {
    let key = StreamKey {
        key: state
            .accounts
            .stream_keys()
            .key(tenant, stream.id, stream.key_generation),
        key_generation: stream.key_generation,
    };
    let mut response = Json(key).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
