//! The built browser assets: `/pkg/…` (the app's and the viewer's bundles, the stylesheet) and
//! `/vendor/…` (hls.js), from the site root scripts/build-site.sh fills.
//!
//! - Outside the request context: the same bytes for every tenant and visitor, so no tenant
//!   lookup, no session, no CSRF check.
//! - Precompressed: build-site writes `.br` and `.gz` twins (brotli and gzip at their highest
//!   levels, once per build), served by `Accept-Encoding` instead of compressing the 2 MB wasm
//!   on every request.
//! - `Cache-Control: no-cache`: the names carry no content hash, so every use revalidates
//!   (`If-Modified-Since` → 304, no body). A deploy can then never pair new HTML with a bundle
//!   a browser kept from before, which would fail to hydrate.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// No file name is longer than this (Linux's NAME_MAX); the file system would answer a longer
/// one with an error that reads as a server fault.
const MAX_NAME_BYTES: usize = 255;
const MAX_PATH_BYTES: usize = 1024;

/// A path no built asset can have is simply not found (not a 500 from the file system).
async fn refuse_impossible_names(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.len() > MAX_PATH_BYTES || path.split('/').any(|name| name.len() > MAX_NAME_BYTES) {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// The folders of the site root served here.
const FOLDERS: [&str; 2] = ["pkg", "vendor"];

pub fn routes<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    let mut router = Router::new();
    for folder in FOLDERS {
        let files = ServeDir::new(site_root.join(folder))
            .precompressed_br()
            .precompressed_gzip();
        router = router.nest_service(&format!("/{folder}"), files);
    }
    router
        .layer(middleware::from_fn(refuse_impossible_names))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        // One URL, several encodings: shared caches must key on what the client accepts.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
}
