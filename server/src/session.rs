//! Who is calling: reads the session cookies, and when the access token has expired renews
//! it with the refresh token (rotation) and sends the new cookies with the response. The
//! claims land in the request extensions; `auth::require_role` turns them into a checked user.
//!
//! A request to `/api/v1` with `Authorization: Bearer …` is an API client: it is authenticated
//! by its API key alone (its cookies are removed before any handler sees them), as the key's
//! user with the user's current role; a read-scoped key may only GET and HEAD. A key that is
//! malformed, unknown, revoked, or whose user is disabled gets 401 `invalid_token`; the
//! request goes no further.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrotape_accounts::cookies::{
    ACCESS_COOKIE, REFRESH_COOKIE, cleared_cookies, read_cookie, session_cookies,
};
use ferrotape_accounts::{AccessClaims, AccountError, RefreshOutcome, RequestContext};
use ferrotape_model::api::ApiScope;
use ferrotape_store::api_keys;
use serde_json::json;

use crate::auth::ApiKeyIdentity;
use crate::error::ApiError;
use crate::state::AppState;

/// The bearer credential of an API request (`/api/v1/…` only: pages and server functions
/// are the browser's, with cookies). CSRF checks skip these requests: a cross-site page cannot
/// make a browser send an `Authorization` header, and the cookies they carry are ignored.
pub fn api_bearer(request: &Request) -> Option<&str> {
    if !request.uri().path().starts_with("/api/v1/") {
        return None;
    }
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// 401 for a key that authenticates nobody (RFC 6750 `invalid_token`).
fn invalid_token() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            r#"Bearer error="invalid_token", error_description="unknown, revoked or malformed API key""#,
        )],
        Json(json!({
            "error": "the API key is unknown, revoked or malformed",
            "code": "invalid_token",
        })),
    )
        .into_response()
}

/// 403 for a read-only key on a request that changes something.
fn insufficient_scope() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(
            header::WWW_AUTHENTICATE,
            r#"Bearer error="insufficient_scope", scope="write""#,
        )],
        Json(json!({
            "error": "this API key may only read (GET, HEAD): create a key with the write scope",
            "code": "insufficient_scope",
        })),
    )
        .into_response()
}

/// Authenticates an API request by its key alone: `Ok` with the request carrying the key's
/// claims and identity and no cookies, or the refusal to send.
async fn with_api_key(
    state: &AppState,
    context: &RequestContext,
    mut request: Request,
    presented: &str,
) -> Result<Request, Response> {
    let hash = ferrotape_accounts::api_keys::presented_hash(presented).ok_or_else(invalid_token)?;
    let holder = match api_keys::authenticate(&state.db, context.tenant, &hash).await {
        Ok(Some(holder)) if !holder.disabled => holder,
        Ok(_) => return Err(invalid_token()),
        Err(err) => return Err(ApiError::Store(err).into_response()),
    };
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if writes && !holder.scopes.contains(&ApiScope::Write) {
        return Err(insufficient_scope());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Claims like a session's, so every handler (`auth::require_role`, which re-reads the user)
    // serves keys and sessions alike; `sid` names the key.
    let claims = AccessClaims {
        sub: holder.user_id,
        tid: context.tenant.0,
        sid: holder.key_id,
        role: holder.role,
        email: holder.email,
        name: holder.display_name,
        iat: now,
        exp: now + 60,
    };
    let headers = request.headers_mut();
    headers.remove(header::COOKIE);
    let extensions = request.extensions_mut();
    extensions.insert(claims);
    extensions.insert(ApiKeyIdentity {
        key_id: holder.key_id,
        scopes: holder.scopes,
    });
    Ok(request)
}

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // The bundle and other static files need no identity; skipping them keeps a page load
    // from racing several refreshes.
    if request.uri().path().starts_with("/pkg/") {
        return next.run(request).await;
    }
    let Some(context) = request.extensions().get::<RequestContext>().cloned() else {
        return next.run(request).await;
    };
    if let Some(presented) = api_bearer(&request).map(str::to_owned) {
        return match with_api_key(&state, &context, request, &presented).await {
            Ok(request) => next.run(request).await,
            Err(refusal) => refusal,
        };
    }
    let headers = request.headers();
    let access = read_cookie(headers, ACCESS_COOKIE).map(str::to_owned);
    let refresh = read_cookie(headers, REFRESH_COOKIE).map(str::to_owned);

    if let Some(token) = access.as_deref() {
        match state.accounts.authenticate(context.tenant, token).await {
            Ok(Some(claims)) => {
                request.extensions_mut().insert(claims);
                return next.run(request).await;
            }
            Ok(None) => {}
            Err(err) => {
                // Without the database nobody's login can be checked: anonymous, not trusted.
                tracing::error!(%err, "cannot check a session; treating the request as anonymous");
                return next.run(request).await;
            }
        }
    }
    let Some(refresh) = refresh else {
        return next.run(request).await;
    };

    let mut new_cookies = None;
    match state.accounts.refresh(context.tenant, &refresh).await {
        Ok(RefreshOutcome::Rotated(session)) => {
            request.extensions_mut().insert(session.claims.clone());
            new_cookies = Some(session_cookies(&session, context.secure_cookies));
        }
        Ok(RefreshOutcome::RecentlyRotated(claims)) => {
            request.extensions_mut().insert(claims);
        }
        Ok(RefreshOutcome::RaceLost) => {}
        Err(AccountError::Unauthenticated | AccountError::NotFound) => {
            new_cookies = Some(cleared_cookies(context.secure_cookies));
        }
        Err(err) => {
            tracing::error!(%err, "cannot refresh a session; treating the request as anonymous")
        }
    }
    let mut response = next.run(request).await;
    // A handler that set session cookies itself (log in, log out) has the last word.
    let handler_set_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(ACCESS_COOKIE) || v.starts_with(REFRESH_COOKIE));
    if let Some(cookies) = new_cookies.filter(|_| !handler_set_session) {
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}
