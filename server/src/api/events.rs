//! `POST /api/v1/events`: the player's beacons (`model::analytics::event::EventBatch`). The
//! batch is checked whole, its talk must belong to the request's tenant, and it is answered as
//! soon as its events are in the analytics buffer (202): the database is never waited for. A
//! full buffer answers 503 with Retry-After; a client posting too often 429.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrotape_accounts::AccessClaims;
use ferrotape_accounts::limits::network_of;
use ferrotape_model::analytics::EventBatch;
use ferrotape_model::analytics::event::MAX_BATCH_BYTES;
use ferrotape_store::analytics::copy_text;
use serde_json::json;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::analytics::{self, privacy};
use crate::auth::request_context;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .layer(DefaultBodyLimit::max(MAX_BATCH_BYTES))
}

/// Takes a batch of the player's analytics events.
#[utoipa::path(post, path = "/api/v1/events", tag = "analytics", request_body = EventBatch,
    responses((status = 202, description = "Accepted: `{accepted}` events; they are written shortly"),
              (status = 400, description = "Not a batch (malformed JSON or an unknown event type)", body = super::docs::ErrorBody),
              (status = 413, description = "Larger than 64 KiB", body = super::docs::ErrorBody),
              (status = 422, description = "A batch the rules refuse (`batch_size`, `clock_skew`, `invalid_event`, `unknown_talk`); nothing stored", body = super::docs::ErrorBody),
              (status = 429, description = "This client posts too often; see Retry-After", body = super::docs::ErrorBody),
              (status = 503, description = "The buffer is full; see Retry-After", body = super::docs::ErrorBody)))]
async fn ingest(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let context = request_context(&parts.extensions)?.clone();
    let analytics = &state.analytics;
    let network = network_of(context.client.ip);
    if analytics.per_client.check_key(&network).is_err() {
        return Err(ApiError::RetryLater(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many analytics batches from this network; send them less often".into(),
            1,
        ));
    }
    let body = axum::body::to_bytes(body, MAX_BATCH_BYTES)
        .await
        .map_err(|_| {
            ApiError::Coded(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!("a batch is at most {} KiB", MAX_BATCH_BYTES / 1024),
            )
        })?;
    let batch = parse(&body)?;
    let received_at = OffsetDateTime::now_utc();
    let now_ms = (received_at.unix_timestamp_nanos() / 1_000_000) as i64;
    let checked = batch.check(now_ms).map_err(|err| {
        ApiError::Coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            err.code(),
            format!("{err}; nothing was stored"),
        )
    })?;
    let tenant = context.tenant.0;
    let talk_tenant = analytics
        .talks
        .tenant_of(&state.db, batch.talk)
        .await
        .map_err(|err| {
            tracing::warn!(%err, "cannot look up a beacon's talk");
            ApiError::RetryLater(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "analytics are temporarily unavailable; try again in a moment".into(),
                2,
            )
        })?;
    if talk_tenant != Some(tenant) {
        return Err(ApiError::Coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_talk",
            "no such talk here; nothing was stored".into(),
        ));
    }

    let headers = &parts.headers;
    let mut view_context = analytics::request_dimensions(
        header_text(headers, header::USER_AGENT),
        header_text(headers, header::ACCEPT_LANGUAGE),
    );
    if !privacy::opted_out(headers) {
        let salt = analytics
            .salts
            .for_day(&state.db, received_at.date())
            .await
            .map_err(|err| {
                tracing::warn!(%err, "cannot read the day's salt");
                ApiError::RetryLater(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "analytics are temporarily unavailable; try again in a moment".into(),
                    2,
                )
            })?;
        view_context.viewer_hash = Some(privacy::viewer_hash(
            &salt,
            tenant,
            context.client.ip,
            header_text(headers, header::USER_AGENT),
        ));
        view_context.viewer_id = batch.viewer;
        view_context.user_id = parts
            .extensions
            .get::<AccessClaims>()
            .filter(|claims| claims.tid == tenant)
            .map(|claims| claims.sub);
    }
    let rows = analytics::rows(&batch, checked, tenant, received_at, &view_context);
    let events = rows.len() as u32;
    analytics
        .pipeline
        .offer(copy_text(&rows), events)
        .await
        .map_err(|_| {
            ApiError::RetryLater(
                StatusCode::SERVICE_UNAVAILABLE,
                "buffer_full",
                "the analytics buffer is full; send these events again shortly".into(),
                1,
            )
        })?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": events }))).into_response())
}

/// The body as a batch, whatever content type a `sendBeacon` gave it.
fn parse(body: &Bytes) -> Result<EventBatch, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "invalid_batch",
            format!("not an event batch: {err}"),
        )
    })
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
