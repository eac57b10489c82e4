//! Who is calling: reads the session cookies, and when the access token has expired renews
//! it with the refresh token (rotation) and sends the new cookies with the response. The
//! claims land in the request extensions; `auth::require_role` turns them into a checked user.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ferrotape_accounts::cookies::{
    ACCESS_COOKIE, REFRESH_COOKIE, cleared_cookies, read_cookie, session_cookies,
};
use ferrotape_accounts::{AccountError, RefreshOutcome, RequestContext};

use crate::state::AppState;

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
