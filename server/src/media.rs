//! `/media/{tenant}/{video}/{hls|thumbs|subs}/…`: transcode outputs for players, from local
//! storage. No cookies are read or set, so a CDN can cache every response:
//! - segments, init files and images are immutable (`max-age` one year);
//! - playlists and text tracks are short-lived (a re-transcode or a subtitle edit shows up soon);
//! - byte ranges, `ETag`/`If-None-Match` and `Last-Modified` work;
//! - `Access-Control-Allow-Origin: *`, so embeds and players on other sites can fetch.
//!
//! Only those three output folders are served: sources and upload chunks never are, and a key
//! must pass `check_key` (no `..`, no absolute paths).

use std::time::UNIX_EPOCH;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrotape_store::media::check_key;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use uuid::Uuid;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{*key}", get(serve).head(serve).options(preflight))
}

/// Folders under a video that players may read.
const SERVED_FOLDERS: [&str; 3] = ["hls", "thumbs", "subs"];

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const SHORT_LIVED: &str = "public, max-age=60, must-revalidate";

/// The MIME type and caching of an output file, from its extension; `None` for anything a
/// player has no business fetching.
fn kind_of(key: &str) -> Option<(&'static str, &'static str)> {
    let extension = key.rsplit_once('.')?.1;
    Some(match extension {
        "m3u8" => ("application/vnd.apple.mpegurl", SHORT_LIVED),
        "m4s" => ("video/iso.segment", IMMUTABLE),
        "mp4" => ("video/mp4", IMMUTABLE),
        "m4a" => ("audio/mp4", IMMUTABLE),
        "jpg" => ("image/jpeg", IMMUTABLE),
        "vtt" => ("text/vtt; charset=utf-8", SHORT_LIVED),
        _ => return None,
    })
}

/// Whether `key` names a player-facing output: `{tenant uuid}/{video uuid}/{folder}/…`.
fn servable(key: &str) -> bool {
    let mut parts = key.splitn(4, '/');
    let (Some(tenant), Some(video), Some(folder), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    tenant.parse::<Uuid>().is_ok()
        && video.parse::<Uuid>().is_ok()
        && SERVED_FOLDERS.contains(&folder)
        && !rest.is_empty()
        && check_key(key).is_ok()
}

async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    request: Request,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let (Some((content_type, cache)), true) = (kind_of(&key), servable(&key)) else {
        return not_found();
    };
    let Some(local) = &state.local_media else {
        return not_found();
    };
    let Ok(path) = local.path_of(&key) else {
        return not_found();
    };
    let Ok(metadata) = tokio::fs::metadata(&path).await else {
        return not_found();
    };
    if !metadata.is_file() {
        return not_found();
    }
    // A strong validator from size and modification time: a rewritten file gets a new one.
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{:x}\"", metadata.len(), modified);
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches && matches!(*request.method(), Method::GET | Method::HEAD) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match ServeFile::new_with_mime(&path, &content_type.parse().expect("static MIME"))
            .oneshot(request)
            .await
        {
            Ok(response) => response.map(Body::new),
            Err(err) => {
                tracing::error!(%err, "serving a media file failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, ETag"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_player_outputs_are_servable() {
        let t = Uuid::nil();
        let ok = format!("{t}/{t}/hls/720p/seg_0.m4s");
        assert!(servable(&ok) && kind_of(&ok).is_some());
        for bad in [
            format!("{t}/{t}/source/original.mp4"),
            format!("{t}/{t}/upload/part_00000"),
            format!("{t}/{t}/hls/../source/original.mp4"),
            format!("{t}/{t}/hls/"),
            format!("x/{t}/hls/a.m4s"),
            format!("{t}/{t}/hls//a.m4s"),
        ] {
            assert!(!servable(&bad), "{bad}");
        }
        assert!(kind_of("a/b/hls/x.exe").is_none());
    }
}
