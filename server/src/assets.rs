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
use axum::http::{HeaderValue, header};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

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
