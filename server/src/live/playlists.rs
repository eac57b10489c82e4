//! What live viewers load: `/live/{stream}/master.m3u8` (the current session's renditions),
//! `/live/{stream}/{session}/{rendition}/index.m3u8` (the session's newest segments across its
//! runs, `model::live_hls::compose`; closed with `EXT-X-ENDLIST` once the session is no longer
//! live) and the segments under `…/{rendition}/r{n}/`. Only streams of the request's tenant
//! are served; every path part is a UUID, a rendition of the session's plan or a plain file
//! name, so no request reaches outside the session's folder.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrotape_model::TenantId;
use ferrotape_model::live::LiveState;
use ferrotape_model::live_hls::{Run, compose, parse_run_playlist, plain_file_name};
use uuid::Uuid;

use super::transcoder::{read_plan, run_numbers, session_dir};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/live/{stream}/master.m3u8", get(master))
        .route(
            "/live/{stream}/{session}/{rendition}/index.m3u8",
            get(rendition),
        )
        .route(
            "/live/{stream}/{session}/{rendition}/{run}/{file}",
            get(segment),
        )
}

const PLAYLIST: &str = "application/vnd.apple.mpegurl";

fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The stream's state and current session, if it is a stream of `tenant`.
async fn stream_state(
    state: &AppState,
    tenant: TenantId,
    stream: &str,
) -> Result<(Uuid, LiveState, Option<Uuid>), ApiError> {
    let stream: Uuid = stream.parse().map_err(|_| not_found())?;
    let (live, session) = ferrotape_store::live::viewing_state(&state.db, tenant, stream)
        .await?
        .ok_or_else(not_found)?;
    Ok((stream, live, session))
}

fn root(state: &AppState) -> Result<&std::path::Path, ApiError> {
    state
        .live_transcoders
        .as_ref()
        .map(|t| t.settings().root.as_path())
        .ok_or_else(not_found)
}

fn playlist(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(PLAYLIST)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}

/// The current session's master, its rendition URIs made session-relative.
async fn master(
    State(state): State<AppState>,
    axum::Extension(tenant): axum::Extension<TenantId>,
    Path(stream): Path<String>,
) -> Result<Response, ApiError> {
    let (stream, live, session) = stream_state(&state, tenant, &stream).await?;
    let session = session
        .filter(|_| live == LiveState::Live || live == LiveState::Reconnecting)
        .ok_or_else(not_found)?;
    let dir = session_dir(root(&state)?, stream, session);
    // The first run that has written its master (ffmpeg writes it with its first segments).
    for number in run_numbers(&dir) {
        let path = dir.join(format!("r{number}/master.m3u8"));
        if let Ok(text) = tokio::fs::read_to_string(&path).await {
            return Ok(playlist(session_master(&text, session)));
        }
    }
    Err(not_found())
}

/// ffmpeg's master with each `{rendition}/index.m3u8` line prefixed by the session.
fn session_master(text: &str, session: Uuid) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with('#') {
            out.push_str(&format!("{session}/{line}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

async fn rendition(
    State(state): State<AppState>,
    axum::Extension(tenant): axum::Extension<TenantId>,
    Path((stream, session, rendition)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (stream, live, current) = stream_state(&state, tenant, &stream).await?;
    let session: Uuid = session.parse().map_err(|_| not_found())?;
    let root = root(&state)?;
    let dir = session_dir(root, stream, session);
    let plan = read_plan(&dir).ok_or_else(not_found)?;
    if !plan.renditions().contains(&rendition) {
        return Err(not_found());
    }
    let mut runs = Vec::new();
    for number in run_numbers(&dir) {
        let path = dir.join(format!("r{number}/{rendition}/index.m3u8"));
        let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
        runs.push(Run {
            number,
            playlist: parse_run_playlist(&text),
        });
    }
    let ended = current != Some(session) || live == LiveState::Ended || live == LiveState::Idle;
    let dvr = state
        .live_transcoders
        .as_ref()
        .map_or(0, |t| t.settings().dvr_secs);
    Ok(playlist(compose(&runs, f64::from(dvr), ended)))
}

async fn segment(
    State(state): State<AppState>,
    axum::Extension(tenant): axum::Extension<TenantId>,
    Path((stream, session, rendition, run, file)): Path<(String, String, String, String, String)>,
) -> Result<Response, ApiError> {
    let (stream, _, _) = stream_state(&state, tenant, &stream).await?;
    let session: Uuid = session.parse().map_err(|_| not_found())?;
    let run: u32 = run
        .strip_prefix('r')
        .and_then(|n| n.parse().ok())
        .ok_or_else(not_found)?;
    if !plain_file_name(&rendition) || !plain_file_name(&file) {
        return Err(not_found());
    }
    let content_type = if file.ends_with(".m4s") {
        "video/iso.segment"
    } else if file.ends_with(".mp4") {
        "video/mp4"
    } else {
        return Err(not_found());
    };
    let path = session_dir(root(&state)?, stream, session)
        .join(format!("r{run}"))
        .join(&rendition)
        .join(&file);
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // A segment's name is never reused within its run's folder.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_points_into_the_session() {
        let session = Uuid::from_u128(7);
        let text =
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=985600\n360p/index.m3u8\n\n";
        let out = session_master(text, session);
        assert!(
            out.contains(&format!("\n{session}/360p/index.m3u8\n")),
            "{out}"
        );
        assert!(out.starts_with("#EXTM3U\n"));
    }
}
