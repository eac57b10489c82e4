//! The beacon wire format: the player posts an `EventBatch` of `PlayerEvent`s to
//! `POST /api/v1/events`. A view is one play attempt (Mux's definition): it starts with
//! `view_start` when playback is first requested and ends with `end` or `exit`; a view that
//! exits before `first_frame` is an exit before video start.
//!
//! Times on the wire are the browser's clock (ms since the Unix epoch). The server corrects them
//! by the difference between its clock and the batch's `sent_at`, and refuses a batch whose
//! clock is too far off to correct with confidence.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// At most this many events in one batch (the player sends every 10 s, a handful each time).
pub const MAX_EVENTS_PER_BATCH: usize = 200;
/// The largest request body the endpoint reads.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;
/// A browser clock further than this from the server's is refused, not corrected.
pub const MAX_CLOCK_SKEW_MS: i64 = 24 * 3600 * 1000;
/// An event may wait this long in the player's queue (offline, a closed laptop) before it is
/// sent; older ones are refused.
pub const MAX_EVENT_AGE_MS: i64 = 24 * 3600 * 1000;
/// Positions and ranges lie within this (a day-long recording is the longest we serve).
pub const MAX_POSITION_SECS: f64 = 24.0 * 3600.0;
/// The most watched time one event may report (heartbeats come every 10 s; `exit` reports the
/// stretch since the last one, which a throttled background tab can stretch).
pub const MAX_WATCHED_PER_EVENT_SECS: f64 = 120.0;
pub const MAX_RANGES_PER_EVENT: usize = 32;
pub const MAX_STARTUP_MS: u32 = 10 * 60 * 1000;
pub const MAX_STALL_MS: u32 = 3600 * 1000;
pub const MAX_BITRATE: u32 = 200_000_000;
pub const MAX_ORIGIN_LEN: usize = 200;
pub const MAX_REFERRER_LEN: usize = 1000;
pub const MAX_ERROR_CODE_LEN: usize = 64;
pub const MAX_ERROR_DETAIL_LEN: usize = 500;

/// One POST body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventBatch {
    /// The browser's clock when the batch left (ms since the Unix epoch).
    pub sent_at: i64,
    /// The talk whose player sent the batch (one player, one talk).
    pub talk: Uuid,
    /// The browser's anonymous viewer id (kept in `localStorage`), so an anonymous viewer's
    /// history can follow them; absent when the page keeps none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<Uuid>,
    pub events: Vec<PlayerEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlayerEvent {
    /// Chosen by the player; a batch sent twice stores each event once.
    pub id: Uuid,
    /// The view (play attempt) the event belongs to.
    pub view: Uuid,
    /// The browser's clock when it happened (ms since the Unix epoch).
    pub at: i64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Positions are seconds into the talk; `watched` are the `[start, end)`
/// stretches of the talk played since the previous heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The view begins: playback was first requested (by the viewer or autoplay).
    ViewStart {
        /// The embedding page's origin when the player is in an `/embed/` frame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embed_origin: Option<String>,
        /// `document.referrer` of the page the player is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referrer: Option<String>,
        #[serde(default)]
        autoplay: bool,
        position: f64,
    },
    /// Play requested again after a pause or the end.
    Play {
        position: f64,
    },
    /// The first frame showed: `startup_ms` after the play request.
    FirstFrame {
        startup_ms: u32,
    },
    /// Playback stalled for `duration_ms` at `position` (sent when it resumes, or at exit with
    /// the time stalled so far).
    Stall {
        position: f64,
        duration_ms: u32,
    },
    /// The player switched to the rendition of `bitrate` bits/s and `height` lines.
    Quality {
        bitrate: u32,
        height: u32,
    },
    /// A playback error; `fatal` ends the view as a playback failure.
    Error {
        code: String,
        #[serde(default)]
        detail: String,
        fatal: bool,
    },
    Seek {
        from: f64,
        to: f64,
    },
    Pause {
        position: f64,
    },
    /// Every 10 s while the page is open: where playback is, what was watched since the last
    /// heartbeat, and the rendition's bitrate now (0 when unknown).
    Heartbeat {
        position: f64,
        #[serde(default)]
        watched: Vec<[f64; 2]>,
        #[serde(default)]
        bitrate: u32,
    },
    /// Playback reached the end.
    End {
        position: f64,
    },
    /// The page went away (`pagehide`) with the view open.
    Exit {
        position: f64,
        #[serde(default)]
        watched: Vec<[f64; 2]>,
        #[serde(default)]
        bitrate: u32,
    },
}

impl EventKind {
    /// The stored name of the kind (the wire's `type`).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ViewStart { .. } => "view_start",
            EventKind::Play { .. } => "play",
            EventKind::FirstFrame { .. } => "first_frame",
            EventKind::Stall { .. } => "stall",
            EventKind::Quality { .. } => "quality",
            EventKind::Error { .. } => "error",
            EventKind::Seek { .. } => "seek",
            EventKind::Pause { .. } => "pause",
            EventKind::Heartbeat { .. } => "heartbeat",
            EventKind::End { .. } => "end",
            EventKind::Exit { .. } => "exit",
        }
    }

    /// The position the event reports, if it has one.
    pub fn position(&self) -> Option<f64> {
        match self {
            EventKind::ViewStart { position, .. }
            | EventKind::Play { position }
            | EventKind::Stall { position, .. }
            | EventKind::Pause { position }
            | EventKind::Heartbeat { position, .. }
            | EventKind::End { position }
            | EventKind::Exit { position, .. } => Some(*position),
            EventKind::Seek { to, .. } => Some(*to),
            EventKind::FirstFrame { .. } | EventKind::Quality { .. } | EventKind::Error { .. } => {
                None
            }
        }
    }

    /// The stretches watched the event reports (heartbeats and exits).
    pub fn watched(&self) -> &[[f64; 2]] {
        match self {
            EventKind::Heartbeat { watched, .. } | EventKind::Exit { watched, .. } => watched,
            _ => &[],
        }
    }
}

/// Why a batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("a batch holds 1 to {MAX_EVENTS_PER_BATCH} events; this one holds {0}")]
    Size(usize),
    #[error(
        "the browser's clock is {0} s away from the server's; the batch cannot be placed in time"
    )]
    ClockSkew(i64),
    #[error("event {index}: {reason}")]
    Event { index: usize, reason: String },
}

impl BatchError {
    /// The stable code the API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::Size(_) => "batch_size",
            BatchError::ClockSkew(_) => "clock_skew",
            BatchError::Event { .. } => "invalid_event",
        }
    }
}

/// A batch that passed `EventBatch::check`: the offset to add to the browser's times to get the
/// server's (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub clock_offset_ms: i64,
}

impl EventBatch {
    /// Checks the whole batch against the rules above with the server's clock `now_ms`. One bad
    /// event refuses the batch (a well-behaved player never sends one, so it is a bug or an
    /// attack, and storing the rest would hide it).
    pub fn check(&self, now_ms: i64) -> Result<Checked, BatchError> {
        if self.events.is_empty() || self.events.len() > MAX_EVENTS_PER_BATCH {
            return Err(BatchError::Size(self.events.len()));
        }
        let offset = now_ms.saturating_sub(self.sent_at);
        if offset.abs() > MAX_CLOCK_SKEW_MS {
            return Err(BatchError::ClockSkew(offset / 1000));
        }
        for (index, event) in self.events.iter().enumerate() {
            check_event(event, self.sent_at)
                .map_err(|reason| BatchError::Event { index, reason })?;
        }
        let mut ids: Vec<Uuid> = self.events.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
            let index = self
                .events
                .iter()
                .rposition(|e| e.id == pair[0])
                .unwrap_or(0);
            return Err(BatchError::Event {
                index,
                reason: "its id repeats an earlier event's".into(),
            });
        }
        Ok(Checked {
            clock_offset_ms: offset,
        })
    }
}

fn check_event(event: &PlayerEvent, sent_at: i64) -> Result<(), String> {
    if event.at > sent_at.saturating_add(1000) {
        return Err("it happened after the batch was sent".into());
    }
    if event.at < sent_at.saturating_sub(MAX_EVENT_AGE_MS) {
        return Err("it is more than a day older than its batch".into());
    }
    if let Some(position) = event.kind.position() {
        check_position(position, "position")?;
    }
    match &event.kind {
        EventKind::ViewStart {
            embed_origin,
            referrer,
            ..
        } => {
            if let Some(origin) = embed_origin
                && (origin.len() > MAX_ORIGIN_LEN || !is_web_origin(origin))
            {
                return Err("embed_origin is not an http(s) origin".into());
            }
            if referrer
                .as_ref()
                .is_some_and(|r| r.len() > MAX_REFERRER_LEN)
            {
                return Err(format!("referrer is longer than {MAX_REFERRER_LEN} bytes"));
            }
        }
        EventKind::FirstFrame { startup_ms } if *startup_ms > MAX_STARTUP_MS => {
            return Err("startup_ms is longer than ten minutes".into());
        }
        EventKind::Stall { duration_ms, .. } if *duration_ms > MAX_STALL_MS => {
            return Err("duration_ms is longer than an hour".into());
        }
        EventKind::Quality { bitrate, height }
            if *bitrate == 0 || *bitrate > MAX_BITRATE || *height > 8640 =>
        {
            return Err("bitrate or height is out of range".into());
        }
        EventKind::Error { code, detail, .. } => {
            if code.is_empty() || code.len() > MAX_ERROR_CODE_LEN {
                return Err(format!("code must be 1 to {MAX_ERROR_CODE_LEN} bytes"));
            }
            if detail.len() > MAX_ERROR_DETAIL_LEN {
                return Err(format!(
                    "detail is longer than {MAX_ERROR_DETAIL_LEN} bytes"
                ));
            }
        }
        EventKind::Seek { from, .. } => check_position(*from, "from")?,
        EventKind::Heartbeat {
            watched, bitrate, ..
        }
        | EventKind::Exit {
            watched, bitrate, ..
        } => {
            if *bitrate > MAX_BITRATE {
                return Err("bitrate is out of range".into());
            }
            check_watched(watched)?;
        }
        _ => {}
    }
    Ok(())
}

fn check_position(value: f64, name: &str) -> Result<(), String> {
    if value.is_finite() && (0.0..=MAX_POSITION_SECS).contains(&value) {
        Ok(())
    } else {
        Err(format!("{name} is not a time within the talk"))
    }
}

fn check_watched(watched: &[[f64; 2]]) -> Result<(), String> {
    if watched.len() > MAX_RANGES_PER_EVENT {
        return Err(format!("more than {MAX_RANGES_PER_EVENT} watched ranges"));
    }
    let mut total = 0.0;
    for [start, end] in watched {
        check_position(*start, "a watched range's start")?;
        check_position(*end, "a watched range's end")?;
        if end <= start {
            return Err("a watched range ends before it starts".into());
        }
        total += end - start;
    }
    if total > MAX_WATCHED_PER_EVENT_SECS {
        return Err(format!(
            "more than {MAX_WATCHED_PER_EVENT_SECS} s watched in one event"
        ));
    }
    Ok(())
}

/// `scheme://host[:port]` with an http(s) scheme, nothing after it.
fn is_web_origin(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    fn event(kind: EventKind) -> PlayerEvent {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(100);
        PlayerEvent {
            id: Uuid::from_u128(u128::from(NEXT.fetch_add(1, Ordering::Relaxed))),
            view: Uuid::from_u128(7),
            at: NOW - 500,
            kind,
        }
    }

    fn batch(events: Vec<PlayerEvent>) -> EventBatch {
        EventBatch {
            sent_at: NOW,
            talk: Uuid::from_u128(1),
            viewer: None,
            events,
        }
    }

    fn heartbeat(watched: Vec<[f64; 2]>) -> EventKind {
        EventKind::Heartbeat {
            position: 20.0,
            watched,
            bitrate: 800_000,
        }
    }

    #[test]
    fn the_wire_format_reads_what_the_player_writes() {
        let json = r#"{"sent_at":1764000000000,"talk":"00000000-0000-0000-0000-000000000001",
            "events":[{"id":"00000000-0000-0000-0000-00000000000a","view":"00000000-0000-0000-0000-000000000007",
            "at":1763999999000,"type":"heartbeat","position":12.5,"watched":[[2.5,12.5]],"bitrate":1200000},
            {"id":"00000000-0000-0000-0000-00000000000b","view":"00000000-0000-0000-0000-000000000007",
            "at":1763999999500,"type":"first_frame","startup_ms":640}]}"#;
        let batch: EventBatch = serde_json::from_str(json).unwrap();
        assert_eq!(batch.events.len(), 2);
        assert_eq!(
            batch.events[0].kind,
            EventKind::Heartbeat {
                position: 12.5,
                watched: vec![[2.5, 12.5]],
                bitrate: 1_200_000
            }
        );
        assert_eq!(batch.events[1].kind.name(), "first_frame");
        let again: EventBatch =
            serde_json::from_str(&serde_json::to_string(&batch).unwrap()).unwrap();
        assert_eq!(again, batch);
    }

    #[test]
    fn an_unknown_event_type_is_not_read() {
        let json = r#"{"sent_at":1,"talk":"00000000-0000-0000-0000-000000000001","events":[
            {"id":"00000000-0000-0000-0000-00000000000a","view":"00000000-0000-0000-0000-000000000007",
             "at":1,"type":"drop_table","position":1}]}"#;
        assert!(serde_json::from_str::<EventBatch>(json).is_err());
    }

    #[test]
    fn a_good_batch_passes_and_carries_the_clock_offset() {
        let mut good = batch(vec![
            event(EventKind::ViewStart {
                embed_origin: Some("https://blog.example.org".into()),
                referrer: Some("https://news.example.com/a?b".into()),
                autoplay: false,
                position: 0.0,
            }),
            event(EventKind::FirstFrame { startup_ms: 800 }),
            event(heartbeat(vec![[0.0, 9.5]])),
        ]);
        good.sent_at = NOW - 3000;
        for e in &mut good.events {
            e.at -= 3000;
        }
        assert_eq!(good.check(NOW).unwrap().clock_offset_ms, 3000);
    }

    #[test]
    fn empty_and_oversized_batches_are_refused() {
        assert_eq!(batch(vec![]).check(NOW), Err(BatchError::Size(0)));
        let many = (0..=MAX_EVENTS_PER_BATCH)
            .map(|_| event(EventKind::Pause { position: 1.0 }))
            .collect();
        assert_eq!(batch(many).check(NOW).unwrap_err().code(), "batch_size");
    }

    #[test]
    fn a_clock_a_day_off_is_refused() {
        let mut b = batch(vec![event(EventKind::Pause { position: 1.0 })]);
        b.sent_at = NOW - MAX_CLOCK_SKEW_MS - 1000;
        b.events[0].at = b.sent_at;
        assert_eq!(b.check(NOW).unwrap_err().code(), "clock_skew");
    }

    #[test]
    fn events_from_the_future_or_too_old_are_refused() {
        let mut future = batch(vec![event(EventKind::Pause { position: 1.0 })]);
        future.events[0].at = NOW + 5000;
        assert!(matches!(
            future.check(NOW),
            Err(BatchError::Event { index: 0, .. })
        ));
        let mut old = batch(vec![event(EventKind::Pause { position: 1.0 })]);
        old.events[0].at = NOW - MAX_EVENT_AGE_MS - 1;
        assert!(old.check(NOW).is_err());
    }

    #[test]
    fn hostile_values_are_refused_with_the_event_named() {
        let bad = [
            EventKind::Pause { position: f64::NAN },
            EventKind::Pause { position: -1.0 },
            EventKind::Pause { position: 1e12 },
            EventKind::FirstFrame {
                startup_ms: MAX_STARTUP_MS + 1,
            },
            EventKind::Stall {
                position: 1.0,
                duration_ms: MAX_STALL_MS + 1,
            },
            EventKind::Quality {
                bitrate: 0,
                height: 720,
            },
            EventKind::Error {
                code: String::new(),
                detail: String::new(),
                fatal: true,
            },
            EventKind::Error {
                code: "x".repeat(65),
                detail: String::new(),
                fatal: true,
            },
            EventKind::ViewStart {
                embed_origin: Some("javascript:alert(1)".into()),
                referrer: None,
                autoplay: false,
                position: 0.0,
            },
            EventKind::ViewStart {
                embed_origin: Some("https://a.example/path".into()),
                referrer: None,
                autoplay: false,
                position: 0.0,
            },
            heartbeat(vec![[10.0, 5.0]]),
            heartbeat(vec![[0.0, 121.0]]),
            heartbeat(vec![[0.0, 1.0]; MAX_RANGES_PER_EVENT + 1]),
            heartbeat(vec![[0.0, f64::INFINITY]]),
        ];
        for kind in bad {
            let b = batch(vec![
                event(EventKind::Pause { position: 1.0 }),
                event(kind.clone()),
            ]);
            match b.check(NOW) {
                Err(BatchError::Event { index: 1, .. }) => {}
                other => panic!("{kind:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn an_event_id_twice_in_one_batch_is_refused() {
        let first = event(EventKind::Pause { position: 1.0 });
        let mut second = event(EventKind::Play { position: 1.0 });
        second.id = first.id;
        assert!(matches!(
            batch(vec![first, second]).check(NOW),
            Err(BatchError::Event { index: 1, .. })
        ));
    }
}
