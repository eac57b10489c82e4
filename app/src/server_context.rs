//! What server functions read from the request's reactive context (server side only).
//!
//! The server provides the pool through `leptos_routes_with_context`; the tenant comes from the
//! request extensions, where the server's tenant middleware put it.

use ferrotape_model::TenantId;
use ferrotape_store::PgPool;
use leptos::prelude::use_context;

use crate::AppError;

pub fn pool() -> Result<PgPool, AppError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no database pool in the server-function context");
        AppError::Unavailable
    })
}

pub fn tenant() -> Result<TenantId, AppError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<TenantId>().copied())
        .ok_or_else(|| {
            tracing::error!("no tenant resolved for this request");
            AppError::Unavailable
        })
}

/// Sets the HTTP status of the page being rendered (for example 404 for an unknown talk).
pub fn set_status(status: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}
