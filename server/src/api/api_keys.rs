//! `/api/v1/api-keys`: the caller's API keys — create (the secret is in that answer only),
//! list, revoke. Session only: a request made with an API key is refused with 403
//! `session_required`, so a leaked key cannot mint more keys or keep itself alive.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrotape_model::Role;
use ferrotape_model::api::{ApiKey, CreatedApiKey, NewApiKey};
use ferrotape_store::api_keys;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::docs::ErrorBody;
use super::parse_id;
use crate::auth::{require_role, require_session};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// The caller's keys that are not revoked, newest first.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys",
    security(("session" = [])),
    responses(
        (status = 200, description = "The keys (never their secrets)", body = Vec<ApiKey>),
        (status = 403, description = "Asked with an API key (`session_required`), or not an editor", body = ErrorBody),
    ))]
pub async fn list_keys(
    State(state): State<AppState>,
    extensions: Extensions,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    require_session(&extensions)?;
    let user = require_role(&state, &extensions, Role::Editor).await?;
    Ok(Json(api_keys::list(&state.db, user.tenant, user.id).await?))
}

/// Creates a key. Its `secret` is shown in this answer only: store it now.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = NewApiKey,
    security(("session" = [])),
    responses(
        (status = 201, description = "Created", body = CreatedApiKey),
        (status = 403, description = "Asked with an API key (`session_required`), or not an editor", body = ErrorBody),
        (status = 422, description = "No name, or no scope", body = ErrorBody),
    ))]
pub async fn create_key(
    State(state): State<AppState>,
    extensions: Extensions,
    body: Result<Json<NewApiKey>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_session(&extensions)?;
    let user = require_role(&state, &extensions, Role::Editor).await?;
    let Json(request) = body?;
    let created =
        ferrotape_accounts::api_keys::create(&state.db, user.tenant, user.id, request).await?;
    tracing::info!(key = %created.key.id, user = %user.id, "API key created");
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Revokes a key at once: requests with it get 401 from now on.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    security(("session" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Asked with an API key (`session_required`)", body = ErrorBody),
        (status = 404, description = "No such key of yours (or revoked already)", body = ErrorBody),
    ))]
pub async fn revoke_key(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_session(&extensions)?;
    let user = require_role(&state, &extensions, Role::Editor).await?;
    api_keys::revoke(&state.db, user.tenant, user.id, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
