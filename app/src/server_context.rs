//! What server functions read from the request's reactive context (server side only), and the
//! helpers that shape their responses.
//!
//! The server provides the pool and `Accounts` through `leptos_routes_with_context`; the
//! request context (tenant, client) and the caller's access-token claims come from the request
//! extensions, where the server's middleware put them.

use ferrotape_accounts::{AccessClaims, Accounts, RequestContext};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::PgPool;
use ferrotape_store::accounts::UserRecord;
use leptos::prelude::use_context;

use crate::AppError;

pub fn pool() -> Result<PgPool, AppError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no database pool in the server-function context");
        AppError::Unavailable
    })
}

pub fn accounts() -> Result<Accounts, AppError> {
    use_context::<Accounts>().ok_or_else(|| {
        tracing::error!("no accounts service in the server-function context");
        AppError::Unavailable
    })
}

fn parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

pub fn request_context() -> Result<RequestContext, AppError> {
    parts()
        .and_then(|parts| parts.extensions.get::<RequestContext>().cloned())
        .ok_or_else(|| {
            tracing::error!("no request context for this request");
            AppError::Unavailable
        })
}

pub fn tenant() -> Result<TenantId, AppError> {
    parts()
        .and_then(|parts| parts.extensions.get::<TenantId>().copied())
        .ok_or_else(|| {
            tracing::error!("no tenant resolved for this request");
            AppError::Unavailable
        })
}

/// The caller's access-token claims (signature and expiry already checked), if logged in.
pub fn claims() -> Option<AccessClaims> {
    parts().and_then(|parts| parts.extensions.get::<AccessClaims>().cloned())
}

/// The caller, re-read from the database, if they hold at least `role`; the guard every
/// privileged server function starts with.
pub async fn require_role(role: Role) -> Result<UserRecord, AppError> {
    let context = request_context()?;
    Ok(accounts()?
        .require_role(context.tenant, claims().as_ref(), role)
        .await?)
}

/// A request cookie's value.
pub fn cookie(name: &str) -> Option<String> {
    parts().and_then(|parts| {
        ferrotape_accounts::cookies::read_cookie(&parts.headers, name).map(str::to_owned)
    })
}

pub fn set_cookies(cookies: [String; 2]) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        for cookie in cookies {
            if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                response.append_header(http::header::SET_COOKIE, value);
            }
        }
    }
}

/// Sets the HTTP status of the page being rendered (for example 404 for an unknown talk).
pub fn set_status(status: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// Gives an error result its HTTP status (a refused or missing read is not a 200). A move is
/// a 301 only for the page itself (`redirect_page_permanently` gave it its Location); a server
/// function called by the hydrated router answers it as data.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    match &result {
        Err(AppError::Moved(_)) if !rendering_page() => {}
        Err(err) => set_status(err.status()),
        Ok(_) => {}
    }
    result
}

/// True while the server renders a page for a browser's GET (not a server-function call).
fn rendering_page() -> bool {
    parts().is_some_and(|parts| {
        parts.method == http::Method::GET && !parts.uri.path().starts_with("/api/")
    })
}

/// Answers the page being rendered with a 301 to `path` (same site; the query is kept, so a
/// shared `?t=` start time survives). Does nothing for server-function calls.
pub fn redirect_page_permanently(path: &str) {
    let Some(parts) = parts().filter(|_| rendering_page()) else {
        return;
    };
    let location = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&location),
    ) {
        response.insert_header(http::header::LOCATION, value);
        response.set_status(http::StatusCode::MOVED_PERMANENTLY);
    }
}

/// True for a plain HTML form post (no JavaScript): the browser wants a page back.
pub fn plain_form_post() -> bool {
    parts().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// Finishes a server function called by a form. Errors get their HTTP status; a form posted
/// without JavaScript is redirected back to `form_path` with `?error=<code>` (and `extra`
/// query pairs, already encoded), or on success to `success_path`. With JavaScript, the
/// router follows the success redirect and the page shows the error itself.
pub fn finish_form<T>(
    result: Result<T, AppError>,
    form_path: &str,
    extra: &str,
    success_path: Option<&str>,
) -> Result<T, AppError> {
    match &result {
        Ok(_) => {
            if let Some(path) = success_path {
                leptos_axum::redirect(path);
            }
        }
        Err(err) => {
            set_status(err.status());
            if plain_form_post() {
                leptos_axum::redirect(&with_error(form_path, err, extra));
            }
        }
    }
    result
}

/// `form_path` with `?error=<code>` (or `&error=`) for a form posted without JavaScript, then
/// `extra` query pairs (already encoded).
pub fn with_error(form_path: &str, err: &AppError, extra: &str) -> String {
    let separator = if form_path.contains('?') { '&' } else { '?' };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("&{extra}")
    };
    format!("{form_path}{separator}error={}{extra}", err.code())
}

pub use ferrotape_model::seo::encode_query_value;

/// `next` targets must stay on this site: a path, never `//host` or a scheme.
pub fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/",
    }
}
