//! `GET /api/v1/studio/events`: the editor's videos as they change, as server-sent events —
//! uploads appearing, transcode progress with its ETA, ready, failed. Each `video` event carries
//! the row as the studio lists it (`StudioVideo`: state, progress 0–1, `eta_secs`, failure
//! reason); `removed` names an aborted upload's video; `resync` says events were missed (a slow
//! reader) and the list should be fetched again. The first event, `ready`, says the stream is
//! live. Browsers reconnect by themselves (EventSource), so nothing here needs to last forever.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::videos::{self, VideoEvent};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// The caller's videos as they change, as server-sent events (`ready`, then `video`,
/// `removed` and `resync` events).
#[utoipa::path(get, path = "/api/v1/studio/events", tag = "studio",
    responses((status = 200, description = "An event stream", content_type = "text/event-stream"),
              (status = 401, description = "Not logged in", body = super::docs::ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let user = require_role(&state, request.extensions(), Role::Editor).await?;
    let subscription = Subscription {
        receiver: state.video_events.subscribe(),
        state,
        tenant: user.tenant,
        user: user.id,
    };
    let ready = Event::default().event("ready").data("{}");
    let changes = futures::stream::unfold(subscription, |mut subscription| async move {
        let event = subscription.next().await?;
        Some((Ok(event), subscription))
    });
    let stream = futures::StreamExt::chain(futures::stream::once(async { Ok(ready) }), changes);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One editor's view of the video events.
struct Subscription {
    receiver: broadcast::Receiver<VideoEvent>,
    state: AppState,
    tenant: TenantId,
    user: Uuid,
}

impl Subscription {
    /// The next event for this editor; `None` when the server stops broadcasting.
    async fn next(&mut self) -> Option<Event> {
        loop {
            let event = match self.receiver.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(Event::default().event("resync").data("{}"));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if event.tenant != self.tenant.0 || event.uploaded_by != Some(self.user) {
                continue;
            }
            if event.deleted {
                return Some(
                    Event::default()
                        .event("removed")
                        .data(json!({ "id": event.video }).to_string()),
                );
            }
            match videos::find_for_uploader(&self.state.db, self.tenant, self.user, event.video)
                .await
            {
                Ok(Some(mut video)) => {
                    self.state
                        .accounts
                        .media_urls()
                        .sign_studio_video(&mut video, time::OffsetDateTime::now_utc());
                    let data = serde_json::to_string(&video).unwrap_or_default();
                    return Some(Event::default().event("video").data(data));
                }
                // Deleted since: its own event follows.
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(%err, "cannot read a changed video for its event");
                    return Some(Event::default().event("resync").data("{}"));
                }
            }
        }
    }
}
