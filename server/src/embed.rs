//! Embedding on other sites: the `/oembed` endpoint (<https://oembed.com>) for a watch-page
//! URL, and the frame policy that lets any site iframe `/embed/{id}` while every other page
//! stays unframeable.

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrotape_model::seo::{self, OEmbedVideo};
use ferrotape_store::talks;
use serde::Deserialize;

use crate::auth::request_context;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/oembed", get(oembed))
}

/// Who may frame the page at `path`: any site the embeddable player, nobody else.
pub fn frame_ancestors(path: &str) -> &'static str {
    if path.starts_with("/embed/") {
        "*"
    } else {
        "'self'"
    }
}

/// The frame policy of every response that has no Content-Security-Policy of its own (HTML
/// pages get a whole policy, with the same frame ancestors, from `security_headers`).
pub async fn frame_policy(request: Request, next: Next) -> Response {
    // The two policies as constants: this runs for every response, media included.
    let policy = match frame_ancestors(request.uri().path()) {
        "*" => HeaderValue::from_static("frame-ancestors *"),
        _ => HeaderValue::from_static("frame-ancestors 'self'"),
    };
    let mut response = next.run(request).await;
    if !response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

#[derive(Debug, Deserialize)]
struct OEmbedQuery {
    url: Option<String>,
    format: Option<String>,
    maxwidth: Option<String>,
    maxheight: Option<String>,
}

/// A positive pixel limit; anything else is a client error worth naming.
fn limit(name: &str, raw: Option<&str>) -> Result<Option<u32>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("{name} must be a positive number of pixels"))
            }),
    }
}

/// The talk slug of a watch-page URL on `origin` (`{origin}/talks/{slug}`, any query or
/// fragment ignored); `None` for any other URL.
fn slug_of<'a>(url: &'a str, origin: &str) -> Option<&'a str> {
    let path = url.strip_prefix(origin)?.strip_prefix("/talks/")?;
    let slug = path.split(['?', '#']).next()?;
    let slug = slug.strip_suffix('/').unwrap_or(slug);
    ferrotape_model::slug::validate(slug).ok().map(|_| slug)
}

async fn oembed(
    State(state): State<AppState>,
    Query(query): Query<OEmbedQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let context = request_context(request.extensions())?;
    if let Some(format) = query.format.as_deref()
        && format != "json"
    {
        return Err(ApiError::Coded(
            StatusCode::NOT_IMPLEMENTED,
            "format_not_supported",
            "only format=json is supported".to_owned(),
        ));
    }
    let url = query
        .url
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("the url parameter is required".to_owned()))?;
    let maxwidth = limit("maxwidth", query.maxwidth.as_deref())?;
    let maxheight = limit("maxheight", query.maxheight.as_deref())?;
    let origin = &context.client.origin;
    let slug = slug_of(url, origin).ok_or(ApiError::NotFound)?;
    let talk = talks::find_published(&state.db, context.tenant, slug).await?;
    let video = talk.video.as_ref().ok_or(ApiError::NotFound)?;
    let size = seo::oembed_size(video.aspect_ratio(), maxwidth, maxheight).ok_or_else(|| {
        ApiError::Coded(
            StatusCode::NOT_IMPLEMENTED,
            "size_not_supported",
            "the player cannot be made that small".to_owned(),
        )
    })?;
    let answer = OEmbedVideo {
        title: talk.summary.title.clone(),
        author_name: talk.summary.speaker_names(),
        origin: origin.clone(),
        embed_url: seo::embed_url(origin, talk.summary.id),
        thumbnail_url: video.poster_url.as_ref().map(|p| format!("{origin}{p}")),
        thumbnail_size: video.width.zip(video.height),
    };
    let mut response = axum::Json(seo::oembed_json(&answer, size)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_watch_pages_of_this_origin_resolve() {
        let origin = "https://talks.example";
        assert_eq!(
            slug_of("https://talks.example/talks/a-b", origin),
            Some("a-b")
        );
        assert_eq!(
            slug_of("https://talks.example/talks/a-b/?t=30", origin),
            Some("a-b")
        );
        assert_eq!(
            slug_of("https://talks.example/talks/a-b#t=3", origin),
            Some("a-b")
        );
        assert_eq!(slug_of("https://other.example/talks/a-b", origin), None);
        assert_eq!(
            slug_of("https://talks.example.evil/talks/a-b", origin),
            None
        );
        assert_eq!(slug_of("https://talks.example/studio", origin), None);
        assert_eq!(
            slug_of("https://talks.example/talks/../admin", origin),
            None
        );
        assert_eq!(slug_of("https://talks.example/talks/", origin), None);
    }
}
