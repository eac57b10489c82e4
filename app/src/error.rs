//! The error type every server function returns, typed end to end (server → wire → browser).

use ferrotape_model::AuthFailure;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Input the user can fix; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// An account action was refused; the failure says why in the user's terms.
    #[error("{0}")]
    Auth(AuthFailure),
    #[error("Too many attempts. Wait {0} seconds and try again.")]
    RateLimited(u64),
    #[error("Log in to continue.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// The database or another dependency failed; details are in the server log only.
    #[error("the service is temporarily unavailable; please try again in a moment")]
    Unavailable,
    /// Transport or (de)serialisation failures reported by the server-function layer.
    #[error("{0}")]
    ServerFn(String),
}

impl AppError {
    /// A stable code for `?error=` when a form posted without JavaScript is sent back.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Auth(failure) => failure.code(),
            AppError::RateLimited(_) => AuthFailure::RateLimited.code(),
            AppError::NotFound => "not_found",
            AppError::Invalid(_) | AppError::ServerFn(_) => "invalid",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unavailable => "unavailable",
        }
    }

    /// The message for a code from `?error=`; unknown codes show nothing (a crafted link
    /// cannot put words on the page).
    pub fn message_for_code(code: &str) -> Option<String> {
        if let Some(failure) = AuthFailure::from_code(code) {
            return Some(failure.to_string());
        }
        let message = match code {
            "not_found" => "That no longer exists.",
            "invalid" => "That did not work: check the form and try again.",
            "unauthenticated" => "Log in to continue.",
            "forbidden" => "You are not allowed to do that.",
            "unavailable" => {
                "The service is temporarily unavailable; please try again in a moment."
            }
            _ => return None,
        };
        Some(message.to_owned())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // Arguments that do not decode are the caller's fault: on the server, the response
        // says 400, not server_fn's default 500 (the server-fn handler applies this status).
        #[cfg(feature = "ssr")]
        if matches!(
            value,
            ServerFnErrorErr::Args(_)
                | ServerFnErrorErr::MissingArg(_)
                | ServerFnErrorErr::Deserialization(_)
                | ServerFnErrorErr::UnsupportedRequestMethod(_)
        ) && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        {
            response.set_status(http::StatusCode::BAD_REQUEST);
        }
        AppError::ServerFn(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<ferrotape_store::StoreError> for AppError {
    fn from(err: ferrotape_store::StoreError) -> Self {
        use ferrotape_store::StoreError;
        match err {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(message) => AppError::Invalid(message),
            StoreError::Database(err) => {
                tracing::error!(%err, "database error in a server function");
                AppError::Unavailable
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<ferrotape_accounts::AccountError> for AppError {
    fn from(err: ferrotape_accounts::AccountError) -> Self {
        use ferrotape_accounts::AccountError;
        match err {
            AccountError::Failure(failure) => AppError::Auth(failure),
            AccountError::RateLimited { retry_after } => {
                AppError::RateLimited(retry_after.as_secs().max(1))
            }
            AccountError::Unauthenticated => AppError::Unauthenticated,
            AccountError::Forbidden(message) => AppError::Forbidden(message),
            AccountError::NotFound => AppError::NotFound,
            AccountError::Store(err) => err.into(),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status of a server-function response carrying this error.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Invalid(_) | AppError::ServerFn(_) => StatusCode::BAD_REQUEST,
            AppError::Auth(failure) => match failure {
                AuthFailure::InvalidCredentials => StatusCode::UNAUTHORIZED,
                AuthFailure::EmailNotVerified | AuthFailure::AccountDisabled => {
                    StatusCode::FORBIDDEN
                }
                AuthFailure::EmailTaken => StatusCode::CONFLICT,
                AuthFailure::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_REQUEST,
            },
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}
