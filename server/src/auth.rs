//! Authorization guards for axum handlers: the server enforces roles whatever the UI shows.

use axum::http::Extensions;
use ferrotape_accounts::{AccessClaims, RequestContext};
use ferrotape_model::Role;
use ferrotape_store::accounts::UserRecord;

use axum::http::StatusCode;
use ferrotape_model::api::ApiScope;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// In the extensions of a request authenticated by an API key (`session::authenticate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyIdentity {
    pub key_id: Uuid,
    pub scopes: Vec<ApiScope>,
}

/// Refuses requests made with an API key: what only the person at the browser may do (manage
/// API keys) needs their session.
pub fn require_session(extensions: &Extensions) -> Result<(), ApiError> {
    if extensions.get::<ApiKeyIdentity>().is_some() {
        return Err(ApiError::Coded(
            StatusCode::FORBIDDEN,
            "session_required",
            "API keys cannot manage API keys: sign in to the studio".to_owned(),
        ));
    }
    Ok(())
}

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
