//! The headers that protect the site's HTML pages:
//!
//! - `Content-Security-Policy` on every HTML response: scripts run only with the nonce Leptos
//!   wrote into this page's `<script>` tags (a fresh one per render, reported by the shell in
//!   [`CSP_NONCE_HEADER`], which is never sent on; the page cache gives each copy it serves a
//!   fresh one too); script files come only from this site (`'self'`: the bundles, and hls.js,
//!   which the player page also preloads with a plain `<link rel=preload>` — under
//!   `'strict-dynamic'` that preload would be refused and hls.js fetched twice);
//!   `'wasm-unsafe-eval'` lets them compile the wasm. Inline script without the nonce and script
//!   from other origins never run, so markup injected into a page cannot execute. An HTML
//!   response without a nonce runs no script at all.
//! - `Strict-Transport-Security` when the browser reached us over HTTPS (a trusted proxy's
//!   `X-Forwarded-Proto`, see `RequestContext::https`); never over plain HTTP, where it would
//!   be ignored at best and lock a plain-HTTP install out of its own host at worst.
//!
//! Framing is left to `embed::frame_policy` through [`crate::embed::frame_ancestors`].

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ferrotape_accounts::RequestContext;
use ferrotape_app::CSP_NONCE_HEADER;

/// One year, the value HSTS preload lists expect.
pub const HSTS: &str = "max-age=31536000";

const NONCE: HeaderName = HeaderName::from_static(CSP_NONCE_HEADER);

/// The policy of an HTML page whose scripts carry `nonce` (`None`: no script may run) and
/// which may be framed by `frame_ancestors`.
pub fn page_policy(nonce: Option<&str>, frame_ancestors: &str) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'none'".to_owned(),
    };
    format!(
        "script-src {scripts}; object-src 'none'; base-uri 'none'; \
         worker-src 'self' blob:; frame-ancestors {frame_ancestors}"
    )
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Middleware (inside `request_context::resolve`, outside the page cache).
pub async fn apply(request: Request, next: Next) -> Response {
    let https = request
        .extensions()
        .get::<RequestContext>()
        .is_some_and(|context| context.https);
    let frame_ancestors = crate::embed::frame_ancestors(request.uri().path());
    let mut response = next.run(request).await;
    let nonce = response.headers_mut().remove(&NONCE);
    if is_html(&response) {
        let nonce = nonce.as_ref().and_then(|v| v.to_str().ok());
        if let Ok(policy) = HeaderValue::from_str(&page_policy(nonce, frame_ancestors)) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_need_the_nonce_and_nothing_else_runs() {
        let policy = page_policy(Some("abc"), "'self'");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.ends_with("frame-ancestors 'self'"));
        assert!(page_policy(None, "*").starts_with("script-src 'none';"));
    }
}
