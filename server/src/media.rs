//! `/media/{tenant}/{video}/v{n}/{hls|thumbs|subs}/…`: transcode outputs for players, served from
//! local files or streamed from the S3 bucket (so players and embeds need no access to the
//! bucket). No cookies are read or set, so a CDN can cache every response:
//! - segments, init files and images are immutable (`max-age` one year);
//! - playlists and text tracks are short-lived (a re-transcode or a subtitle edit shows up soon),
//!   and playlists of a video still transcoding `no-cache` (they grow while it is watched);
//! - byte ranges, `ETag`/`If-None-Match` and `Last-Modified` work (local files: answered from
//!   memory by `media_files`, which keeps the immutable ones);
//! - `Access-Control-Allow-Origin: *`, so embeds and players on other sites can fetch.
//!
//! Only those three output folders are served, and `images/` of a talk or speaker (posters and
//! photos, content-hashed so immutable too): sources and upload chunks never are, and a key
//! must pass `check_key` (no `..`, no absolute paths).
//!
//! Who may watch: a plain URL serves only a video (or a talk's poster) whose talk is public,
//! and speakers' photos (`media_visibility`); anything else answers 404, as if it did not
//! exist. Editors previewing
//! a video that is not public get signed URLs, `/media/s/{expires}/{signature}/{key}`
//! (`ferrotape_accounts::media_urls`), checked without a database read and answered
//! `Cache-Control: private` so no shared cache keeps them (playlists `private, no-cache`: the
//! preview may be of a video still transcoding).

use std::net::SocketAddr;
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrotape_accounts::media_urls::{SIGNED_PREFIX, SignedPathError};
use ferrotape_store::media::{LocalMedia, OpenedMedia, check_key, content_type_of};
use ferrotape_store::s3::{ReadOutcome, S3Media};
use tower::ServiceExt;
use tower_http::services::ServeFile;
use uuid::Uuid;

use crate::media_files::{self, Found, MediaFiles};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{*key}", get(serve).head(serve).options(preflight))
}

/// Folders that may be read: a video's outputs (`hls`, `thumbs`, `subs`) and the `images`
/// (posters, photos) of a talk or speaker.
const SERVED_FOLDERS: [&str; 4] = ["hls", "thumbs", "subs", "images"];

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const SHORT_LIVED: &str = "public, max-age=60, must-revalidate";
/// Signed previews: the browser may keep them a while, shared caches never.
const PRIVATE: &str = "private, max-age=300";
/// Playlists of a video still transcoding: they grow, so every fetch revalidates.
const GROWING: &str = "no-cache";
/// Signed playlists: the preview may be of a video still transcoding.
const PRIVATE_GROWING: &str = "private, no-cache";

/// The MIME type and caching of an output file, from its extension; `None` for anything a
/// player has no business fetching.
fn kind_of(key: &str) -> Option<(&'static str, &'static str)> {
    let content_type = content_type_of(key)?;
    // Playlists, text tracks and the waveform change (re-transcode, subtitle edits, a new
    // transcription); the rest never does.
    let cache = if key.ends_with(".m3u8") || key.ends_with(".vtt") || key.ends_with(".json") {
        SHORT_LIVED
    } else {
        IMMUTABLE
    };
    Some((content_type, cache))
}

/// Whether `key` names a player-facing output: `{tenant uuid}/{video uuid}/v{n}/{folder}/…`
/// (each transcode attempt's own prefix), or `{tenant uuid}/{video uuid}/{folder}/…` as
/// written before attempts had one; or an image, `{tenant uuid}/{talk or speaker
/// uuid}/images/{sha256}.jpg` exactly as `images::key_for` names it.
fn servable(key: &str) -> bool {
    // Names we write hold nothing else; a NUL, a backslash or a space never reaches the disk.
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
    {
        return false;
    }
    let mut parts = key.splitn(3, '/');
    let (Some(tenant), Some(video), Some(mut rest)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if let Some(name) = rest.strip_prefix("images/") {
        return tenant.parse::<Uuid>().is_ok()
            && video.parse::<Uuid>().is_ok()
            && crate::images::is_image_name(name);
    }
    if let Some((generation, after)) = rest.split_once('/')
        && generation
            .strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        rest = after;
    }
    let Some((folder, file)) = rest.split_once('/') else {
        return false;
    };
    tenant.parse::<Uuid>().is_ok()
        && video.parse::<Uuid>().is_ok()
        && folder != "images"
        && SERVED_FOLDERS.contains(&folder)
        && !file.is_empty()
        && check_key(key).is_ok()
}

/// The tenant and video of a key that passed `servable`.
fn ids_of(key: &str) -> (Uuid, Uuid) {
    let mut parts = key.splitn(3, '/');
    let mut id = || {
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(Uuid::nil)
    };
    (id(), id())
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
    // An encoded slash would be decoded into a separator: never a URL we hand out.
    let raw = request.uri().path().as_bytes();
    if raw
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'f'))
    {
        return not_found();
    }
    let signed = key.starts_with(&format!("{SIGNED_PREFIX}/"));
    let key = if signed {
        match state
            .accounts
            .media_urls()
            .verify(&key, time::OffsetDateTime::now_utc())
        {
            Ok(key) => key.to_owned(),
            Err(SignedPathError::Malformed) => return not_found(),
            Err(SignedPathError::Expired | SignedPathError::BadSignature) => {
                return StatusCode::FORBIDDEN.into_response();
            }
        }
    } else {
        key
    };
    let (Some((content_type, cache)), true) = (kind_of(&key), servable(&key)) else {
        return not_found();
    };
    let playlist = key.ends_with(".m3u8");
    let mut cache = match (signed, playlist) {
        (true, true) => PRIVATE_GROWING,
        (true, false) => PRIVATE,
        (false, _) => cache,
    };
    if !signed {
        let (tenant, video) = ids_of(&key);
        match state
            .media_visibility
            .lookup(&state.db, tenant, video)
            .await
        {
            Ok(visibility) if visibility.public => {
                if visibility.processing && playlist {
                    cache = GROWING;
                }
            }
            // Not public: indistinguishable from a video that does not exist.
            Ok(_) => return not_found(),
            Err(err) => {
                tracing::error!(%err, "cannot tell whether a video is public");
                return crate::error::ApiError::Unavailable("the database").into_response();
            }
        }
    }
    let accel = match (&state.served_media, &state.http.media_accel_redirect) {
        (OpenedMedia::Local(_), Some(prefix)) if from_trusted_proxy(&state, &request) => {
            Some(prefix)
        }
        _ => None,
    };
    let mut response = match (&state.served_media, accel) {
        (_, Some(prefix)) => accel_redirect(prefix, &key, content_type),
        (OpenedMedia::Local(local), None) => {
            serve_local(&state.media_files, local, &key, content_type, request).await
        }
        (OpenedMedia::S3(s3), None) => serve_s3(s3, &key, content_type, request).await,
    };
    let cacheable = matches!(
        response.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    );
    let headers = response.headers_mut();
    if cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
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

async fn serve_local(
    files: &MediaFiles,
    local: &LocalMedia,
    key: &str,
    content_type: &'static str,
    request: Request,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let Ok(path) = local.path_of(key) else {
        return not_found();
    };
    match files.read(&path).await {
        Ok(Found::File(file)) => {
            media_files::answer(&file, content_type, request.method(), request.headers())
        }
        Ok(Found::Missing) => not_found(),
        Ok(Found::TooLarge) => stream_local(&path, content_type, request).await,
        Err(err) => {
            tracing::error!(%err, key, "reading a media file failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A file too large to read whole, streamed (tower-http's ranges and `If-Modified-Since`),
/// with the same strong validator as the files answered from memory.
async fn stream_local(path: &std::path::Path, content_type: &str, request: Request) -> Response {
    let Ok(metadata) = tokio::fs::metadata(path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = media_files::etag_of(metadata.len(), metadata.modified().unwrap_or(UNIX_EPOCH));
    let ours = etag.to_str().expect("hex ETag");
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == ours || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match ServeFile::new_with_mime(path, &content_type.parse().expect("static MIME"))
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
    response.headers_mut().insert(header::ETAG, etag);
    response
}

/// Whether the request's peer is a trusted proxy (the front server).
fn from_trusted_proxy(state: &AppState, request: &Request) -> bool {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| state.http.trusts(peer.ip()))
}

/// The front server sends the file: `X-Accel-Redirect` to its internal location of the media
/// directory, with the type and (added by the caller) caching it passes on. The key passed
/// `servable` (UUIDs, `v{n}`, folder and file names), so it is a plain URI path.
fn accel_redirect(prefix: &str, key: &str, content_type: &'static str) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(&format!("{prefix}{key}")) {
        Ok(location) => headers.insert("x-accel-redirect", location),
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Streams an object from the bucket; S3 answers ranges and `If-None-Match` itself.
async fn serve_s3(s3: &S3Media, key: &str, content_type: &str, request: Request) -> Response {
    // Owned copies: the request body is not `Sync`, so no borrow of it may cross an await.
    let (range, if_none_match, head) = {
        let header_text = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header_text(header::RANGE),
            header_text(header::IF_NONE_MATCH),
            request.method() == Method::HEAD,
        )
    };
    let outcome = s3
        .read(key, range.as_deref(), if_none_match.as_deref())
        .await;
    let object = match outcome {
        Ok(ReadOutcome::Object(object)) => object,
        Ok(ReadOutcome::NotModified { etag }) => {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Some(value) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
                response.headers_mut().insert(header::ETAG, value);
            }
            return response;
        }
        Ok(ReadOutcome::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Ok(ReadOutcome::RangeNotSatisfiable) => {
            return StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        }
        Err(err) => {
            tracing::error!(%err, key, "reading a media object failed");
            return StatusCode::BAD_GATEWAY.into_response();
        }
    };
    let status = if object.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let body = if head {
        Body::empty()
    } else {
        Body::from_stream(tokio_util::io::ReaderStream::new(object.body))
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("static MIME"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let optional = [
        (
            header::CONTENT_LENGTH,
            object.content_length.map(|l| l.to_string()),
        ),
        (header::CONTENT_RANGE, object.content_range),
        (header::ETAG, object.etag),
        (header::LAST_MODIFIED, object.last_modified),
    ];
    for (name, value) in optional {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_player_outputs_are_servable() {
        let t = Uuid::nil();
        for ok in [
            format!("{t}/{t}/hls/720p/seg_0.m4s"),
            format!("{t}/{t}/v3/hls/720p/seg_0.m4s"),
            format!("{t}/{t}/v12/thumbs/poster.jpg"),
        ] {
            assert!(servable(&ok) && kind_of(&ok).is_some(), "{ok}");
        }
        for bad in [
            format!("{t}/{t}/source/original.mp4"),
            format!("{t}/{t}/upload/part_00000"),
            format!("{t}/{t}/hls/../source/original.mp4"),
            format!("{t}/{t}/hls/"),
            format!("x/{t}/hls/a.m4s"),
            format!("{t}/{t}/hls//a.m4s"),
            format!("{t}/{t}/v3/source/original.mp4"),
            format!("{t}/{t}/v/hls/a.m4s"),
            format!("{t}/{t}/v3/"),
            format!("{t}/{t}/v3/hls/"),
            format!("{t}/{t}/hls/720p/seg_0.m4s\0.jpg"),
            format!("{t}/{t}/hls/720p\\seg_0.m4s"),
            format!("{t}/{t}/hls/720p/seg 0.m4s"),
        ] {
            assert!(!servable(&bad), "{bad}");
        }
        assert!(kind_of("a/b/hls/x.exe").is_none());
        let hash = "0123456789abcdef".repeat(4);
        assert!(servable(&format!("{t}/{t}/images/{hash}.jpg")));
        for bad in [
            format!("{t}/{t}/images/poster.jpg"),
            format!("{t}/{t}/v2/images/{hash}.jpg"),
            format!("{t}/{t}/images/x/{hash}.jpg"),
            format!("{t}/{t}/images/{hash}.png"),
        ] {
            assert!(!servable(&bad), "{bad}");
        }
    }
}
