//! Playback analytics on the server: the beacons of `POST /api/v1/events` (`api/events.rs`)
//! are checked, placed in time, stripped of what identifies a viewer (`privacy`), rendered as
//! COPY text and handed to the `pipeline`, which writes them to PostgreSQL without a request
//! ever waiting for it, and spools them (`spool`) when shutdown comes before the database.

pub mod pipeline;
pub mod privacy;
pub mod rollup;
pub mod spool;
pub mod talks;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use ferrotape_model::analytics::dimensions;
use ferrotape_model::analytics::event::{Checked, EventBatch, EventKind};
use ferrotape_model::analytics::ranges;
use ferrotape_store::PgPool;
use ferrotape_store::analytics::{EventRow, ViewContext};
use governor::{DefaultKeyedRateLimiter, Quota};
use time::OffsetDateTime;
use uuid::Uuid;

use self::pipeline::Pipeline;
use self::privacy::Salts;
use self::spool::Spool;
use self::talks::TalkDirectory;

/// The knobs (`--analytics-*` / `FERROTAPE_ANALYTICS_*`).
#[derive(Debug, Clone)]
pub struct AnalyticsSettings {
    /// The most events held in memory waiting for the database.
    pub buffer_events: u32,
    /// Batches one client network may post per second (and five times that in a burst).
    pub batches_per_second: u32,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        AnalyticsSettings {
            buffer_events: 200_000,
            batches_per_second: 20,
        }
    }
}

pub struct Analytics {
    pub pipeline: Arc<Pipeline>,
    pub salts: Salts,
    pub talks: TalkDirectory,
    pub per_client: DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl Analytics {
    /// Starts the writer (which first writes what `spool` holds from an earlier run).
    pub fn start(pool: PgPool, settings: &AnalyticsSettings, spool: Spool) -> Arc<Analytics> {
        let rate = NonZeroU32::new(settings.batches_per_second.max(1)).expect("non-zero");
        let burst = rate.saturating_mul(NonZeroU32::new(5).expect("non-zero"));
        Arc::new(Analytics {
            pipeline: Pipeline::start(pool, settings.buffer_events.max(1), spool),
            salts: Salts::default(),
            talks: TalkDirectory::default(),
            per_client: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
        })
    }

    /// Writes or spools every accepted event; see `Pipeline::shut_down`.
    pub async fn shut_down(&self, grace: Duration) {
        self.pipeline.shut_down(grace).await;
    }
}

/// A checked batch as rows: times corrected by the batch's clock offset, watched ranges
/// merged, the referrer reduced to its domain and the embedding origin kept only on the
/// `view_start` that carries it.
pub fn rows(
    batch: &EventBatch,
    checked: Checked,
    tenant: Uuid,
    received_at: OffsetDateTime,
    context: &ViewContext,
) -> Vec<EventRow> {
    batch
        .events
        .iter()
        .map(|event| {
            let browser_at =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.at) * 1_000_000)
                    .unwrap_or(received_at);
            let at = browser_at + time::Duration::milliseconds(checked.clock_offset_ms);
            let mut context = ViewContext {
                referrer_domain: None,
                embed_origin: None,
                ..context.clone()
            };
            let (value, height, fatal, detail) = match &event.kind {
                EventKind::ViewStart {
                    embed_origin,
                    referrer,
                    ..
                } => {
                    context.embed_origin = embed_origin.clone();
                    context.referrer_domain =
                        referrer.as_deref().and_then(dimensions::referrer_domain);
                    (None, None, None, None)
                }
                EventKind::FirstFrame { startup_ms } => {
                    (Some(i64::from(*startup_ms)), None, None, None)
                }
                EventKind::Stall { duration_ms, .. } => {
                    (Some(i64::from(*duration_ms)), None, None, None)
                }
                EventKind::Quality { bitrate, height } => {
                    (Some(i64::from(*bitrate)), Some(*height as i32), None, None)
                }
                EventKind::Heartbeat { bitrate, .. } | EventKind::Exit { bitrate, .. } => {
                    (Some(i64::from(*bitrate)), None, None, None)
                }
                EventKind::Error {
                    code,
                    detail,
                    fatal,
                } => (
                    None,
                    None,
                    Some(*fatal),
                    Some(if detail.is_empty() {
                        code.clone()
                    } else {
                        format!("{code}: {detail}")
                    }),
                ),
                EventKind::Seek { from, .. } => (None, None, None, Some(format!("from {from}"))),
                _ => (None, None, None, None),
            };
            EventRow {
                day: browser_at.date(),
                id: event.id,
                tenant,
                talk: batch.talk,
                view: event.view,
                at,
                received_at,
                kind: event.kind.name(),
                position: event.kind.position(),
                value,
                height,
                watched: ranges::merge(event.kind.watched()),
                fatal,
                detail,
                context,
            }
        })
        .collect()
}

/// The dimensions of a request: browser, OS and device from the user agent, the country from
/// `Accept-Language`.
pub fn request_dimensions(user_agent: &str, accept_language: &str) -> ViewContext {
    let client = dimensions::client(user_agent);
    ViewContext {
        browser: Some(client.browser),
        os: Some(client.os),
        device: Some(client.device),
        country: dimensions::country(accept_language),
        ..ViewContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotape_model::analytics::PlayerEvent;

    #[test]
    fn rows_are_placed_in_server_time_and_keep_the_browsers_day() {
        // The browser's clock is 2 minutes slow and its event happened just before midnight.
        let browser_now = 1_764_028_799_000; // 2025-11-24 23:59:59 UTC
        let batch = EventBatch {
            sent_at: browser_now,
            talk: Uuid::from_u128(3),
            viewer: None,
            events: vec![
                PlayerEvent {
                    id: Uuid::from_u128(10),
                    view: Uuid::from_u128(20),
                    at: browser_now - 500,
                    kind: EventKind::ViewStart {
                        embed_origin: Some("https://blog.example".into()),
                        referrer: Some("https://www.search.example/?q=x".into()),
                        autoplay: false,
                        position: 0.0,
                    },
                },
                PlayerEvent {
                    id: Uuid::from_u128(11),
                    view: Uuid::from_u128(20),
                    at: browser_now,
                    kind: EventKind::Heartbeat {
                        position: 9.0,
                        watched: vec![[5.0, 9.0], [0.0, 5.0]],
                        bitrate: 900_000,
                    },
                },
            ],
        };
        let server_now = browser_now + 120_000;
        let checked = batch.check(server_now).unwrap();
        let received =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(server_now) * 1_000_000).unwrap();
        let context = request_dimensions("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "en-GB");
        let rows = rows(&batch, checked, Uuid::from_u128(1), received, &context);
        assert_eq!(rows[0].day.to_string(), "2025-11-24");
        assert_eq!(rows[1].at, received, "corrected by the clock offset");
        assert_eq!(
            rows[0].context.referrer_domain.as_deref(),
            Some("search.example")
        );
        assert_eq!(
            rows[0].context.embed_origin.as_deref(),
            Some("https://blog.example")
        );
        assert_eq!(rows[1].context.embed_origin, None);
        assert_eq!(rows[1].watched, vec![[0.0, 9.0]]);
        assert_eq!(rows[1].value, Some(900_000));
        assert_eq!(rows[1].context.browser, Some("Firefox"));
        assert_eq!(rows[1].context.country.as_deref(), Some("GB"));
    }
}
