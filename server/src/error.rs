//! The error type of the JSON API and plain handlers: the right status, a JSON body, and
//! internals only in the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrotape_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::NotFound | ApiError::Store(StoreError::NotFound) => {
                (StatusCode::NOT_FOUND, "not found".to_owned())
            }
            ApiError::Conflict(message) | ApiError::Store(StoreError::Conflict(message)) => {
                (StatusCode::CONFLICT, message)
            }
            ApiError::Unavailable(what) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{what} is unavailable"),
            ),
            ApiError::Store(StoreError::Database(err)) => {
                tracing::error!(%err, "database error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
