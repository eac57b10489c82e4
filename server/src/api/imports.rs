//! URL imports (`POST /api/v1/imports`): an editor names a video page, a media file or an HLS
//! playlist and gets its video and draft talk at once (202); the `import` job
//! (`worker::import`) downloads it and hands it to the transcode. Progress and failures show
//! on the video, as for uploads (`videos.progress`, `failure_reason`, the studio's events).
//!
//! The URL is checked before anything is created: a malformed one, another scheme than
//! http/https, or a host that resolves to a private address (unless
//! `FERROTAPE_IMPORT_ALLOW_HOSTS` names it) is a 4xx with the `ApiError` JSON.

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrotape_model::Role;
use ferrotape_store::import_policy::ImportRefused;
use ferrotape_store::imports;
use serde_json::json;

use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const JSON_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct StartImport {
    url: String,
}

/// The status of a refused URL: 400 for one that is not an importable address at all, 422 for
/// a well-formed one whose destination cannot or may not be reached.
pub fn refused(err: ImportRefused) -> ApiError {
    let status = match err {
        ImportRefused::Malformed | ImportRefused::Scheme(_) | ImportRefused::Credentials => {
            StatusCode::BAD_REQUEST
        }
        ImportRefused::Unresolvable { .. } | ImportRefused::Private { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    ApiError::Coded(status, err.code(), err.to_string())
}

/// Imports a video from a URL into a new draft talk.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", request_body = StartImport,
    responses((status = 202, description = "Started: `{video_id, talk_id}`; the import job downloads it"),
              (status = 400, description = "Not an importable address", body = super::docs::ErrorBody),
              (status = 422, description = "A destination that cannot or may not be reached", body = super::docs::ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let Json(input) = Json::<StartImport>::from_request(request, &state).await?;
    let started =
        imports::import_from_url(&state.db, &state.imports, user.tenant, user.id, &input.url)
            .await?
            .map_err(refused)?;
    tracing::info!(video = %started.video, talk = %started.talk, job = started.job, "import queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "video_id": started.video,
            "talk_id": started.talk,
            "state": "uploading",
        })),
    )
        .into_response())
}
