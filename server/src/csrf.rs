//! Cross-site request forgery protection for every state-changing request (server functions,
//! forms and the JSON API alike): the browser's own `Origin` (or `Referer`) must be this site.
//!
//! Browsers always send `Origin` on cross-origin POSTs and on form posts, and a page cannot
//! forge it. A request without either header is allowed only when it carries no session
//! cookie (a script or API client; nothing to ride on). A request authenticated by an API key
//! (`session::api_bearer`) is exempt: browsers never add an `Authorization` header on their
//! own, and the session ignores the cookies of such a request.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrotape_accounts::RequestContext;
use ferrotape_accounts::cookies::has_session_cookie;

pub async fn protect(request: Request, next: Next) -> Response {
    if is_safe(request.method()) || crate::session::api_bearer(&request).is_some() {
        return next.run(request).await;
    }
    let authority = request
        .extensions()
        .get::<RequestContext>()
        .map(|ctx| ctx.authority.clone())
        .unwrap_or_default();
    match check(request.headers(), &authority) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(reason, path = %request.uri().path(), "cross-site request refused");
            (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": format!("request refused (CSRF protection): {reason}"),
                    "code": "csrf",
                })),
            )
                .into_response()
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn check(headers: &HeaderMap, authority: &str) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Fetch metadata, when present, is the browser's own verdict.
    if let Some(site) = header("sec-fetch-site")
        && (site == "cross-site" || site == "same-site")
    {
        return Err("the request came from another site");
    }
    let claimed = header("origin")
        .filter(|origin| *origin != "null")
        .or_else(|| header("referer"));
    match claimed {
        Some(url) if authority_of(url).is_some_and(|a| a.eq_ignore_ascii_case(authority)) => Ok(()),
        Some(_) => Err("the Origin is another site"),
        None if has_session_cookie(headers) => {
            Err("the Origin header is missing on a request with session cookies")
        }
        None => Ok(()),
    }
}

/// `host[:port]` of an absolute http(s) URL.
fn authority_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty() && !a.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_origin_passes_and_other_origins_fail() {
        let site = "talks.example.org";
        assert!(check(&headers(&[("origin", "https://talks.example.org")]), site).is_ok());
        assert!(
            check(
                &headers(&[("referer", "https://talks.example.org/login?x=1")]),
                site
            )
            .is_ok()
        );
        assert!(check(&headers(&[("origin", "https://evil.example")]), site).is_err());
        assert!(
            check(
                &headers(&[("origin", "https://talks.example.org.evil.example")]),
                site
            )
            .is_err()
        );
        assert!(
            check(
                &headers(&[("origin", "https://talks.example.org@evil.example")]),
                site
            )
            .is_err()
        );
        assert!(
            check(
                &headers(&[("origin", "null"), ("cookie", "ft_access=x")]),
                site
            )
            .is_err()
        );
        assert!(
            check(
                &headers(&[
                    ("origin", "https://talks.example.org"),
                    ("sec-fetch-site", "cross-site")
                ]),
                site
            )
            .is_err()
        );
    }

    #[test]
    fn no_origin_is_refused_only_with_session_cookies() {
        assert!(check(&headers(&[]), "a.example").is_ok());
        assert!(check(&headers(&[("cookie", "ft_refresh=abc")]), "a.example").is_err());
        assert!(check(&headers(&[("cookie", "theme=dark")]), "a.example").is_ok());
    }
}
