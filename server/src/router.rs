//! The one place the HTTP surface is assembled: health, SSR pages and server functions, static
//! files, and the layers every request passes through.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware;
use ferrotape_app::{App, shell};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower::ServiceBuilder;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{
    api, assets, csrf, embed, health, media, metrics, page_cache, request_context,
    security_headers, seo, session,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn build(state: AppState) -> Router {
    let routes = generate_route_list(App);
    // Server functions and SSR pages both read the pool and accounts from the reactive context.
    let context = {
        let db = state.db.clone();
        let accounts = state.accounts.clone();
        let imports = state.imports.clone();
        let live_ingest = state.live_ingest.clone();
        move || {
            provide_context(db.clone());
            provide_context(accounts.clone());
            provide_context(imports.clone());
            provide_context(live_ingest.clone());
        }
    };
    let options = state.leptos_options.clone();

    let (api, _) = api::router();
    let site = Router::new()
        .merge(api)
        .merge(seo::routes())
        .merge(embed::routes())
        .merge(crate::live::playlists::routes())
        .merge(crate::live::viewers::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        // One composed stack, outermost first: the request context, then the security
        // headers (CSP with the page's script nonce, HSTS over HTTPS; outside the cache, so
        // every copy it serves gets them too), the page cache (anonymous viewers only, so it
        // never sees a session), CSRF, and the session. Given to `layer` once: each `layer`
        // call boxes every route again, and each box is cloned on every request.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    request_context::resolve,
                ))
                .layer(middleware::from_fn(security_headers::apply))
                .layer(middleware::from_fn_with_state(
                    state.page_cache.clone(),
                    page_cache::serve,
                ))
                .layer(middleware::from_fn(csrf::protect))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    session::authenticate,
                )),
        );

    // Health checks, metrics, media and the built assets stay outside the request context (no
    // tenant, no session).
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(media::routes())
        .merge(assets::routes(Path::new(&*state.leptos_options.site_root)))
        .merge(site)
        // Every response's stack, outermost first (one `layer` call, as above).
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // Request durations by route pattern (inside routing, so the pattern is known).
                .layer(middleware::from_fn(metrics::track_request))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let request_id = request
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id,
                        )
                    }),
                )
                // gzip/brotli for HTML, JSON, JS, CSS and the wasm bundle (about 60 % smaller);
                // never for media, which is already compressed and must keep byte ranges intact.
                .layer(
                    CompressionLayer::new().compress_when(
                        DefaultPredicate::new()
                            .and(NotForContentType::const_new("video/"))
                            .and(NotForContentType::const_new("audio/")),
                    ),
                )
                // Defaults for every response; a route that needs otherwise sets its own header
                // and these leave it alone. The frame policy is the CSP of responses without one.
                .layer(middleware::from_fn(embed::frame_policy))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                )),
        )
        .with_state(state)
}
