//! `/robots.txt` and `/sitemap.xml` (with the video extension) for the request's tenant. Links
//! use the request's trusted origin (a mapped host, loopback, or `FERROTAPE_PUBLIC_URL`), never
//! an arbitrary Host header.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrotape_model::seo;
use ferrotape_store::talks;

use crate::auth::request_context;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/robots.txt", get(robots))
        .route("/sitemap.xml", get(sitemap))
}

fn text(content_type: &'static str, body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

async fn robots(request: Request) -> Result<Response, ApiError> {
    let context = request_context(request.extensions())?;
    Ok(text(
        "text/plain; charset=utf-8",
        seo::robots_txt(&context.client.origin),
    ))
}

async fn sitemap(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let context = request_context(request.extensions())?;
    let mut entries = talks::sitemap(&state.db, context.tenant).await?;
    for entry in &mut entries {
        entry.description = ferrotape_app::markdown::plain_text(&entry.description);
    }
    Ok(text(
        "application/xml; charset=utf-8",
        seo::sitemap_xml(&context.client.origin, &entries),
    ))
}
