//! The error type every server function returns, typed end to end (server → wire → browser).

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
    /// The database or another dependency failed; details are in the server log only.
    #[error("the service is temporarily unavailable; please try again in a moment")]
    Unavailable,
    /// Transport or (de)serialisation failures reported by the server-function layer.
    #[error("{0}")]
    ServerFn(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
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
