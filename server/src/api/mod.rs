//! The JSON API under `/api/v1`, one file per resource, each exporting its `routes()` as a
//! `utoipa_axum::OpenApiRouter`: a route is registered together with its OpenAPI operation,
//! so the document (`docs`) describes exactly what is served. The request pipeline (request
//! context, CSRF, session with API keys, page cache, errors, state) sits beside it in the
//! crate root.

pub mod accounts;
pub mod admin_events;
pub mod analytics;
pub mod api_keys;
pub mod compute;
pub mod conditional;
pub mod docs;
pub mod events;
pub mod images;
pub mod imports;
pub mod live_hooks;
pub mod live_streams;
pub mod paging;
pub mod speakers;
pub mod studio;
pub mod subtitles;
pub mod tags;
pub mod talks;
pub mod uploads;
pub mod videos;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Extensions;
use axum::{Extension, Router};
use ferrotape_model::Role;
use ferrotape_model::studio::StudioVideo;
use ferrotape_model::talk::EditableTalk;
use ferrotape_store::accounts::UserRecord;
use ferrotape_store::studio_talks::Actor;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;

/// Bodies of the REST resources: a talk's longest fields (a 20,000-character description,
/// 200 chapters) fit many times over; a 10 MB paste is refused (413) before it is parsed.
const REST_BODY_LIMIT: usize = 1024 * 1024;

/// Every route under `/api/v1` with the OpenAPI document describing them.
pub fn openapi_router() -> OpenApiRouter<AppState> {
    let rest = OpenApiRouter::new()
        .merge(talks::routes())
        .merge(speakers::routes())
        .merge(tags::routes())
        .merge(videos::routes())
        .merge(api_keys::routes())
        .merge(live_streams::routes())
        .layer(DefaultBodyLimit::max(REST_BODY_LIMIT));
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(rest)
        .merge(accounts::routes())
        .merge(uploads::routes())
        .merge(imports::routes())
        .merge(events::routes())
        .merge(analytics::routes())
        .merge(images::routes())
        .merge(studio::routes())
        .merge(admin_events::routes())
        .merge(compute::routes())
        .merge(subtitles::routes())
        .merge(live_hooks::routes())
        .merge(docs::routes())
}

/// The routes of the API, serving their document at `/api/v1/openapi.json` and `/api/v1/docs`.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, document) = openapi_router().split_for_parts();
    let reference = Arc::new(docs::Reference::new(&document));
    (router.layer(Extension(reference)), document)
}

/// The calling editor (or admin) and what they may act on.
pub(crate) async fn editor(
    state: &AppState,
    extensions: &Extensions,
) -> Result<(UserRecord, Actor), ApiError> {
    let user = require_role(state, extensions, Role::Editor).await?;
    let actor = Actor {
        user: user.id,
        admin: user.role == Role::Admin,
    };
    Ok((user, actor))
}

/// `response` naming the resource it created at `path` (`Location`).
pub(crate) fn located(
    mut response: axum::response::Response,
    path: &str,
) -> axum::response::Response {
    if let Ok(location) = axum::http::HeaderValue::from_str(path) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    response
}

/// A resource id from the path; a malformed one is an id that does not exist.
pub(crate) fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound)
}

/// The talk's media URLs, signed: its talk need not be public.
pub(crate) fn sign_talk(state: &AppState, talk: &mut EditableTalk) {
    let signer = state.accounts.media_urls();
    let now = time::OffsetDateTime::now_utc();
    for url in [
        &mut talk.poster_url,
        &mut talk.thumbnails_url,
        &mut talk.master_url,
    ]
    .into_iter()
    .flatten()
    {
        *url = signer.sign_media_path(url, now);
    }
    if let Some(video) = talk.talk.video.as_mut() {
        signer.sign_studio_video(video, now);
    }
}

pub(crate) fn sign_video(state: &AppState, video: &mut StudioVideo) {
    state
        .accounts
        .media_urls()
        .sign_studio_video(video, time::OffsetDateTime::now_utc());
}
