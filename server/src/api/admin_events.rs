//! `/api/v1/admin/events`: the tenant's platform events (VID_UPLOAD, VID_TRANSCODE, VID_READY,
//! VID_VIEW, failures) for admins: a cursor-paged list, newest first, and
//! `/api/v1/admin/events/stream`, the new ones as server-sent events. Each stream event is
//! `event: platform_event`, `id: <event id>`, `data: <PlatformEvent JSON>`; the first, `ready`,
//! says the stream is live. A reconnecting `EventSource` sends `Last-Event-ID` and first gets
//! what it missed, read from the table.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use ferrotape_model::platform_events::{PlatformEvent, PlatformEventKind, PlatformEventPage};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::platform_events::{self, Announced, Filter};
use futures::Stream;
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::docs::ErrorBody;
use super::paging;
use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;

const LIST: &str = "platform-events";
/// The most missed events a resuming stream replays at once (it reads on after them).
const REPLAY_BATCH: i64 = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this kind (`VID_UPLOAD`, …).
    kind: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    from: Option<OffsetDateTime>,
    /// Events before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    to: Option<OffsetDateTime>,
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// 1 to 100 (default 50).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only events of this kind.
    kind: Option<String>,
}

/// The sort key of a page's last event.
#[derive(serde::Serialize, Deserialize)]
struct EventCursor {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    id: i64,
}

fn parse_kind(kind: Option<&str>) -> Result<Option<PlatformEventKind>, ApiError> {
    match kind.filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(name) => PlatformEventKind::parse(name).map(Some).ok_or_else(|| {
            ApiError::Coded(
                StatusCode::BAD_REQUEST,
                "invalid_kind",
                format!("`{name}` is not a platform event kind"),
            )
        }),
    }
}

/// The tenant's platform events, newest first.
#[utoipa::path(get, path = "/api/v1/admin/events", tag = "admin", params(EventQuery),
    responses(
        (status = 200, description = "A page of events", body = PlatformEventPage),
        (status = 400, description = "A malformed kind, time, cursor or limit", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Json<PlatformEventPage>, ApiError> {
    let admin = require_role(&state, &extensions, Role::Admin).await?;
    let query = paging::query(query)?;
    let limit = paging::limit(query.limit)?;
    let after: Option<EventCursor> = paging::decode(LIST, query.cursor.as_deref())?;
    let filter = Filter {
        kind: parse_kind(query.kind.as_deref())?,
        from: query.from,
        to: query.to,
    };
    let rows = platform_events::list(
        &state.db,
        admin.tenant,
        &filter,
        after.map(|c| (c.at, c.id)),
        i64::from(limit) + 1,
    )
    .await?;
    let (items, next) = paging::page(rows, limit, LIST, |e| EventCursor {
        at: e.occurred_at,
        id: e.id,
    });
    Ok(Json(PlatformEventPage { items, next }))
}

/// New platform events of the tenant as server-sent events (`ready`, then `platform_event`s
/// with their id; `Last-Event-ID` replays what came after it).
#[utoipa::path(get, path = "/api/v1/admin/events/stream", tag = "admin", params(StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event")),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 400, description = "A malformed kind or Last-Event-ID", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn stream_events(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let admin = require_role(&state, &extensions, Role::Admin).await?;
    let query = paging::query(query)?;
    let kind = parse_kind(query.kind.as_deref())?;
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::Coded(
                        StatusCode::BAD_REQUEST,
                        "invalid_last_event_id",
                        "`Last-Event-ID` is not an event id".to_owned(),
                    )
                })?,
        ),
    };
    // Subscribed before the replay is read, so nothing falls between the two.
    let mut subscription = Subscription {
        receiver: state.platform_events.subscribe(),
        state,
        tenant: admin.tenant,
        kind,
        last: resume.unwrap_or(0),
        sent: BTreeSet::new(),
        pending: VecDeque::new(),
        replaying: resume.is_some(),
    };
    if !subscription.replaying {
        // Only what happens from now on: the page already lists the past.
        subscription.last = i64::MAX;
    }
    let ready = Event::default().event("ready").data("{}");
    let changes = futures::stream::unfold(subscription, |mut subscription| async move {
        let event = subscription.next().await?;
        Some((Ok(event), subscription))
    });
    let stream = futures::StreamExt::chain(futures::stream::once(async { Ok(ready) }), changes);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One admin's view of the announcements.
struct Subscription {
    receiver: broadcast::Receiver<Announced>,
    state: AppState,
    tenant: TenantId,
    kind: Option<PlatformEventKind>,
    /// The highest id sent (the replay's starting point); `i64::MAX` before the first live
    /// event of a stream that did not resume.
    last: i64,
    /// Ids sent lately: an event both replayed and announced goes out once.
    sent: BTreeSet<i64>,
    pending: VecDeque<PlatformEvent>,
    /// Still reading missed events from the table.
    replaying: bool,
}

impl Subscription {
    /// The next event for this admin; `None` when the server stops broadcasting.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if let Some(sent) = self.send(event) {
                    return Some(sent);
                }
                continue;
            }
            if self.replaying {
                match self.replay().await {
                    Ok(true) => continue,
                    Ok(false) => self.replaying = false,
                    Err(event) => return Some(event),
                }
            }
            let announced = match self.receiver.recv().await {
                Ok(announced) => announced,
                // A slow reader missed announcements: read them from the table instead.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.replaying = self.last != i64::MAX;
                    if !self.replaying {
                        return Some(Event::default().event("resync").data("{}"));
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if announced.tenant != self.tenant.0
                || self.sent.contains(&announced.id)
                || self.kind.is_some_and(|k| k.as_str() != announced.kind)
            {
                continue;
            }
            match platform_events::find(&self.state.db, self.tenant, announced.id).await {
                Ok(Some(event)) => self.pending.push_back(event),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, "cannot read an announced platform event");
                    return Some(Event::default().event("resync").data("{}"));
                }
            }
        }
    }

    /// Reads the next batch of missed events into `pending`; `false` when none are left.
    async fn replay(&mut self) -> Result<bool, Event> {
        match platform_events::after(
            &self.state.db,
            self.tenant,
            self.last,
            self.kind,
            REPLAY_BATCH,
        )
        .await
        {
            Ok(events) if events.is_empty() => Ok(false),
            Ok(events) => {
                self.pending.extend(events);
                Ok(true)
            }
            Err(err) => {
                tracing::warn!(%err, "cannot read missed platform events");
                self.replaying = false;
                Err(Event::default().event("resync").data("{}"))
            }
        }
    }

    /// The event as sent, unless it went out already.
    fn send(&mut self, event: PlatformEvent) -> Option<Event> {
        if !self.sent.insert(event.id) {
            return None;
        }
        // Enough to catch an announcement of a replayed event, bounded for a long stream.
        if self.sent.len() > 4096 {
            self.sent.pop_first();
        }
        self.last = if self.last == i64::MAX {
            event.id
        } else {
            self.last.max(event.id)
        };
        let data = serde_json::to_string(&event).unwrap_or_default();
        Some(
            Event::default()
                .event("platform_event")
                .id(event.id.to_string())
                .data(data),
        )
    }
}
