//! The error type of the JSON API and plain handlers: the right status, a JSON body
//! (`{"error": message, "code": code?}`), and internals only in the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrotape_accounts::AccountError;
use ferrotape_model::AuthFailure;
use ferrotape_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// A body the extractor refused (too large, wrong content type, malformed JSON).
    #[error("{1}")]
    Rejected(StatusCode, String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} is temporarily unavailable")]
    Unavailable(&'static str),
    /// A refusal with a stable machine-readable code (`file_too_large`, `not_playable`, …).
    #[error("{2}")]
    Coded(StatusCode, &'static str, String),
    /// Come back later: a 429 or 503 with a stable code and `Retry-After` seconds.
    #[error("{2}")]
    RetryLater(StatusCode, &'static str, String, u64),
    /// A subtitle file that cannot be read: 422 listing every problem with its line (413 for
    /// one over the size limit).
    #[error(transparent)]
    Subtitles(ferrotape_model::subtitles::SubtitleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// A body axum's `Json` extractor refused keeps the status and message axum chose.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::Rejected(rejection.status(), rejection.body_text())
    }
}

/// The HTTP status that tells a client what went wrong with an account action (the same as
/// the pages' server functions use).
pub fn failure_status(failure: AuthFailure) -> StatusCode {
    ferrotape_app::AppError::Auth(failure).status()
}

fn internal(err: &dyn std::fmt::Display) -> (StatusCode, String) {
    tracing::error!(%err, "internal error");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error".to_owned(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut code = None;
        let mut retry_after = None;
        let (status, message) = match self {
            ApiError::NotFound
            | ApiError::Store(StoreError::NotFound)
            | ApiError::Account(AccountError::NotFound) => {
                (StatusCode::NOT_FOUND, "not found".to_owned())
            }
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::Coded(status, coded, message) => {
                code = Some(coded);
                (status, message)
            }
            ApiError::Rejected(status, message) => (status, message),
            ApiError::RetryLater(status, coded, message, secs) => {
                code = Some(coded);
                retry_after = Some(secs.max(1));
                (status, message)
            }
            ApiError::Conflict(message) | ApiError::Store(StoreError::Conflict(message)) => {
                (StatusCode::CONFLICT, message)
            }
            ApiError::Unavailable(what) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{what} is temporarily unavailable; try again in a moment"),
            ),
            ApiError::Subtitles(err) => {
                use ferrotape_model::subtitles::SubtitleError;
                let (status, code) = match &err {
                    SubtitleError::TooLarge { .. } => {
                        (StatusCode::PAYLOAD_TOO_LARGE, "subtitle_file_too_large")
                    }
                    SubtitleError::Invalid { .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_subtitles")
                    }
                };
                let body = json!({
                    "error": format!("{err}; nothing was stored"),
                    "code": code,
                    "problems": err.problems(),
                });
                return (status, Json(body)).into_response();
            }
            ApiError::Store(StoreError::Invalid(field)) => {
                let body = json!({
                    "error": field.message,
                    "code": "invalid_field",
                    "field": field.field,
                });
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            ApiError::Store(StoreError::Stale { current }) => {
                code = Some("stale");
                let _ = current;
                (
                    StatusCode::PRECONDITION_FAILED,
                    "the resource changed since the ETag you sent: fetch it again".to_owned(),
                )
            }
            ApiError::Store(StoreError::Database(err)) => internal(&err),
            ApiError::Account(AccountError::Failure(failure)) => {
                code = Some(failure.code());
                (failure_status(failure), failure.to_string())
            }
            ApiError::Account(AccountError::RateLimited { retry_after: wait }) => {
                code = Some(AuthFailure::RateLimited.code());
                retry_after = Some(wait.as_secs().max(1));
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    AuthFailure::RateLimited.to_string(),
                )
            }
            ApiError::Account(AccountError::Unauthenticated) => {
                (StatusCode::UNAUTHORIZED, "log in first".to_owned())
            }
            ApiError::Account(AccountError::Forbidden(message)) => (StatusCode::FORBIDDEN, message),
            ApiError::Account(AccountError::Store(err)) => {
                return ApiError::Store(err).into_response();
            }
        };
        let body = match code {
            Some(code) => json!({ "error": message, "code": code }),
            None => json!({ "error": message }),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
