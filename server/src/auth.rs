//! Authorization guards for axum handlers: the server enforces roles whatever the UI shows.

use axum::http::Extensions;
use ferrotape_accounts::{AccessClaims, RequestContext};
use ferrotape_model::Role;
use ferrotape_store::accounts::UserRecord;

use crate::error::ApiError;
use crate::state::AppState;

/// The calling user, re-read from the database, if they hold at least `role` in the request's
/// tenant: 401 without a session, 403 with too small a role.
pub async fn require_role(
    state: &AppState,
    extensions: &Extensions,
    role: Role,
) -> Result<UserRecord, ApiError> {
    let context = request_context(extensions)?;
    Ok(state
        .accounts
        .require_role(context.tenant, extensions.get::<AccessClaims>(), role)
        .await?)
}

pub fn request_context(extensions: &Extensions) -> Result<&RequestContext, ApiError> {
    extensions.get::<RequestContext>().ok_or_else(|| {
        tracing::error!("no request context: the request_context middleware did not run");
        ApiError::Unavailable("the service")
    })
}
