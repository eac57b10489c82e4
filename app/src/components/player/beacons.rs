//! Player beacons, the part without a browser: what the player saw (play requests, `playing`,
//! `waiting`, seeks, time updates, quality switches, errors, the page going away) in, the
//! `model::analytics::event` wire format out. `beacon_wiring.rs` feeds it from the `<video>`,
//! hls.js and the page and sends what it queues; here it is plain data, tested natively.
//!
//! A view is one play attempt (Mux's definition): it starts at the first play request and ends
//! with `end` (a new play request after it starts a new view) or `exit` (the page went away,
//! also before the first frame: that is an exit before video start). Startup time is from the
//! play request to the first `playing`. A stall is a `waiting` after playback started until the
//! next `playing`; the rebuffering a seek causes is not one. Watched ranges are the stretches
//! of the talk that played contiguously, closed by seeks, pauses and stalls and reported by
//! each heartbeat (every 10 s) and by `exit`.

use std::collections::VecDeque;

use ferrotape_model::analytics::event::{
    EventBatch, EventKind, MAX_BATCH_BYTES, MAX_BITRATE, MAX_ERROR_CODE_LEN, MAX_ERROR_DETAIL_LEN,
    MAX_EVENT_AGE_MS, MAX_EVENTS_PER_BATCH, MAX_ORIGIN_LEN, MAX_POSITION_SECS,
    MAX_RANGES_PER_EVENT, MAX_REFERRER_LEN, MAX_STALL_MS, MAX_STARTUP_MS,
    MAX_WATCHED_PER_EVENT_SECS, PlayerEvent,
};
use uuid::Uuid;

/// A heartbeat (and a send) this often while a view is open.
pub const HEARTBEAT_MS: i64 = 10_000;
/// The queue holds at most this many events (five full batches); past it the oldest go, so a
/// dead server never grows the page's memory.
pub const MAX_QUEUED_EVENTS: usize = 5 * MAX_EVENTS_PER_BATCH;
/// Non-fatal errors reported per view (a broken stream repeats the same one many times).
pub const MAX_ERRORS_PER_VIEW: u32 = 20;
/// How long a 503/429 without a readable `Retry-After` holds sending back, and the most any
/// `Retry-After` may.
const DEFAULT_RETRY_MS: i64 = HEARTBEAT_MS;
const MAX_RETRY_MS: i64 = 5 * 60 * 1000;
/// Two watched stretches this close are one (a pause and resume at the same moment).
const JOIN_SECS: f64 = 0.05;

/// What the page knows about itself when the player starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageFacts {
    /// `document.referrer` (empty: none).
    pub referrer: String,
    /// Inside `/embed/`: the embedding page's origin (`location.ancestorOrigins[0]`), if known.
    pub ancestor_origin: Option<String>,
    pub embedded: bool,
}

/// `scheme://host[:port]` of an http(s) URL, lowercased, or `None` (another scheme, `null`,
/// something the server would refuse).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.to_ascii_lowercase();
    let origin = format!("{scheme}://{host}");
    let valid = !host.is_empty()
        && origin.len() <= MAX_ORIGIN_LEN
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then_some(origin)
}

/// Whether the anonymous viewer id may be sent: not when the browser says Global Privacy
/// Control (`navigator.globalPrivacyControl === true`) or Do Not Track (`doNotTrack === "1"`).
pub fn viewer_id_allowed(global_privacy_control: Option<bool>, do_not_track: Option<&str>) -> bool {
    global_privacy_control != Some(true) && do_not_track != Some("1")
}

impl PageFacts {
    /// The embedding page's origin: the frame's ancestor origin where the browser tells it,
    /// else the referrer's (the embedding page loaded the frame).
    pub fn embed_origin(&self) -> Option<String> {
        if !self.embedded {
            return None;
        }
        self.ancestor_origin
            .as_deref()
            .and_then(origin_of)
            .or_else(|| origin_of(&self.referrer))
    }

    fn referrer(&self) -> Option<String> {
        (!self.referrer.is_empty()).then(|| truncate(&self.referrer, MAX_REFERRER_LEN))
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A position the server accepts: finite, within 0 to a day.
fn clean(position: f64) -> f64 {
    if position.is_finite() {
        position.clamp(0.0, MAX_POSITION_SECS)
    } else {
        0.0
    }
}

fn clamp_ms(ms: i64, max: u32) -> u32 {
    ms.clamp(0, i64::from(max)) as u32
}

/// The stretches of the talk played since they were last taken.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Watched {
    closed: Vec<[f64; 2]>,
    open: Option<[f64; 2]>,
    /// The last position seen advancing, and when: where the open stretch may continue.
    last: Option<(f64, i64)>,
}

impl Watched {
    /// Playback moved to `position` at `at_ms` at `rate`: the open stretch grows if this is
    /// contiguous playback (forward, and no further than the clock allows at that rate), else
    /// it closes and a new one begins here.
    pub fn advance(&mut self, position: f64, at_ms: i64, rate: f64) {
        let position = clean(position);
        if let Some((last, last_at)) = self.last {
            let delta = position - last;
            let elapsed = (at_ms - last_at).max(0) as f64 / 1000.0;
            let allowed = elapsed * rate.max(1.0) * 1.5 + 1.0;
            if (0.0..=allowed).contains(&delta) {
                match &mut self.open {
                    Some(range) => range[1] = position,
                    None => self.open = Some([last, position]),
                }
            } else {
                self.close();
            }
        }
        self.last = Some((position, at_ms));
    }

    /// Playback stopped (pause, stall, seek, end): the open stretch closes; the next one
    /// starts where playback next advances from.
    pub fn halt(&mut self) {
        self.close();
        self.last = None;
    }

    /// Playback (re)starts at `position`.
    pub fn resume(&mut self, position: f64, at_ms: i64) {
        self.close();
        self.last = Some((clean(position), at_ms));
    }

    fn close(&mut self) {
        let Some([start, end]) = self.open.take() else {
            return;
        };
        if end <= start {
            return;
        }
        match self.closed.last_mut() {
            Some(previous) if (start - previous[1]).abs() <= JOIN_SECS => {
                previous[1] = previous[1].max(end)
            }
            _ => self.closed.push([start, end]),
        }
    }

    /// What played since the last take, split into pieces each event may carry (at most
    /// `MAX_RANGES_PER_EVENT` stretches and `MAX_WATCHED_PER_EVENT_SECS` seconds each; usually
    /// one piece). Playback continues from where the open stretch ended, with no gap.
    pub fn take(&mut self) -> Vec<Vec<[f64; 2]>> {
        self.close();
        split_watched(std::mem::take(&mut self.closed))
    }
}

fn split_watched(ranges: Vec<[f64; 2]>) -> Vec<Vec<[f64; 2]>> {
    // A little under the limit, so rounding never takes a piece over it.
    let max_secs = MAX_WATCHED_PER_EVENT_SECS - 0.001;
    let mut pieces = Vec::new();
    let mut piece: Vec<[f64; 2]> = Vec::new();
    let mut total = 0.0;
    for [mut start, end] in ranges {
        while end - start > 1e-6 {
            if piece.len() == MAX_RANGES_PER_EVENT || max_secs - total <= 1e-6 {
                pieces.push(std::mem::take(&mut piece));
                total = 0.0;
            }
            let stop = end.min(start + (max_secs - total));
            piece.push([start, stop]);
            total += stop - start;
            start = stop;
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// The open view.
#[derive(Debug, Clone)]
struct View {
    id: Uuid,
    /// The play request waiting for its first frame.
    requested_at: Option<i64>,
    /// The first frame showed.
    started: bool,
    /// A stall in progress: since when, and where.
    stall: Option<(i64, f64)>,
    /// A seek happened and playback has not advanced since: its rebuffering is no stall.
    seek_pending: bool,
    last_heartbeat: i64,
    errors: u32,
    /// The rendition last reported in this view.
    quality: Option<(u32, u32)>,
}

/// The view/timing state machine and its outgoing queue, for one player.
pub struct Tracker {
    talk: Uuid,
    viewer: Option<Uuid>,
    page: PageFacts,
    ids: Box<dyn FnMut() -> Uuid>,
    view: Option<View>,
    watched: Watched,
    /// The last position seen (a seek's `from`).
    position: f64,
    /// The rendition playing now: bits/s and height.
    quality: Option<(u32, u32)>,
    /// A fatal error before any view: reported when the next one starts (it cannot play).
    error_before_view: Option<(String, String)>,
    pub outbox: Outbox,
}

impl Tracker {
    /// `ids` gives a fresh random id per call (views and events).
    pub fn new(
        talk: Uuid,
        viewer: Option<Uuid>,
        page: PageFacts,
        ids: Box<dyn FnMut() -> Uuid>,
    ) -> Self {
        Tracker {
            talk,
            viewer,
            page,
            ids,
            view: None,
            watched: Watched::default(),
            position: 0.0,
            quality: None,
            error_before_view: None,
            outbox: Outbox::default(),
        }
    }

    /// The open view's id.
    pub fn view_id(&self) -> Option<Uuid> {
        self.view.as_ref().map(|v| v.id)
    }

    fn push(&mut self, at: i64, kind: EventKind) {
        let Some(view) = &self.view else { return };
        let event = PlayerEvent {
            id: (self.ids)(),
            view: view.id,
            at,
            kind,
        };
        self.outbox.push(event);
    }

    fn bitrate(&self) -> u32 {
        self.quality.map_or(0, |(bitrate, _)| bitrate)
    }

    /// Reports a stall in progress (it ends now: playback resumed, or something else ended
    /// it — a seek, a pause, the end, the page going away).
    fn end_stall(&mut self, now: i64) {
        if let Some((since, position)) = self.view.as_mut().and_then(|v| v.stall.take()) {
            self.push(
                now,
                EventKind::Stall {
                    position,
                    duration_ms: clamp_ms(now - since, MAX_STALL_MS),
                },
            );
        }
    }

    /// The watched stretches since the last heartbeat as heartbeats, all but `keep_last`
    /// pieces; returns the kept piece (for `exit`).
    fn flush_watched(&mut self, now: i64, position: f64, keep_last: bool) -> Vec<[f64; 2]> {
        let mut pieces = self.watched.take();
        let last = if keep_last { pieces.pop() } else { None };
        for watched in pieces {
            let bitrate = self.bitrate();
            self.push(
                now,
                EventKind::Heartbeat {
                    position,
                    watched,
                    bitrate,
                },
            );
        }
        last.unwrap_or_default()
    }

    /// Playback was requested (the `play` event), by the viewer or by autoplay.
    pub fn play_requested(&mut self, now: i64, position: f64, autoplay: bool) {
        let position = clean(position);
        self.position = position;
        match &mut self.view {
            None => {
                self.view = Some(View {
                    id: (self.ids)(),
                    requested_at: Some(now),
                    started: false,
                    stall: None,
                    seek_pending: false,
                    last_heartbeat: now,
                    errors: 0,
                    quality: self.quality,
                });
                self.watched = Watched::default();
                let kind = EventKind::ViewStart {
                    embed_origin: self.page.embed_origin(),
                    referrer: self.page.referrer(),
                    autoplay,
                    position,
                };
                self.push(now, kind);
                if let Some((bitrate, height)) = self.quality {
                    self.push(now, EventKind::Quality { bitrate, height });
                }
                if let Some((code, detail)) = self.error_before_view.take() {
                    self.push(
                        now,
                        EventKind::Error {
                            code,
                            detail,
                            fatal: true,
                        },
                    );
                }
            }
            Some(view) => {
                // Paused before the first frame and asked again: startup counts from here.
                if !view.started {
                    view.requested_at = Some(now);
                }
                self.push(now, EventKind::Play { position });
            }
        }
    }

    /// Frames are showing (the `playing` event): the first frame of the view, or the end of a
    /// stall or a seek.
    pub fn playing(&mut self, now: i64, position: f64) {
        let position = clean(position);
        self.position = position;
        let Some(view) = &mut self.view else { return };
        let requested = view.requested_at.take();
        view.started = true;
        view.seek_pending = false;
        if let Some(requested) = requested {
            self.push(
                now,
                EventKind::FirstFrame {
                    startup_ms: clamp_ms(now - requested, MAX_STARTUP_MS),
                },
            );
        }
        self.end_stall(now);
        self.watched.resume(position, now);
    }

    /// Playback waits for data (the `waiting` event).
    pub fn waiting(&mut self, now: i64, position: f64) {
        let position = clean(position);
        let Some(view) = &mut self.view else { return };
        if view.started && !view.seek_pending && view.stall.is_none() {
            view.stall = Some((now, position));
        }
        self.watched.halt();
    }

    /// A seek to `to` began (the `seeking` event).
    pub fn seeking(&mut self, now: i64, to: f64) {
        let (from, to) = (self.position, clean(to));
        self.position = to;
        self.watched.halt();
        let Some(view) = &mut self.view else { return };
        // Before the first frame a seek is the start position being applied.
        if !view.started {
            return;
        }
        view.seek_pending = true;
        self.end_stall(now);
        self.push(now, EventKind::Seek { from, to });
    }

    /// The `timeupdate` event: `advancing` when the element is neither paused nor seeking.
    pub fn time_update(&mut self, now: i64, position: f64, rate: f64, advancing: bool) {
        let position = clean(position);
        let moved = position > self.position;
        self.position = position;
        if !advancing {
            return;
        }
        self.watched.advance(position, now, rate);
        if moved && let Some(view) = &mut self.view {
            // Playing on: whatever the seek had to load, it has.
            view.seek_pending = false;
        }
    }

    pub fn paused(&mut self, now: i64, position: f64) {
        let position = clean(position);
        self.position = position;
        if self.view.is_none() {
            return;
        }
        self.end_stall(now);
        self.watched.halt();
        self.push(now, EventKind::Pause { position });
    }

    /// Playback reached the end: the view ends with what it watched; a new play request
    /// starts another.
    pub fn ended(&mut self, now: i64, position: f64) {
        let position = clean(position);
        self.position = position;
        if self.view.is_none() {
            return;
        }
        self.end_stall(now);
        self.watched.halt();
        self.flush_watched(now, position, false);
        self.push(now, EventKind::End { position });
        self.view = None;
    }

    /// hls.js switched to the rendition of `bitrate` bits/s and `height` lines.
    pub fn quality(&mut self, now: i64, bitrate: f64, height: u32) {
        if !bitrate.is_finite() || bitrate < 1.0 {
            return;
        }
        let level = (bitrate.min(f64::from(MAX_BITRATE)) as u32, height.min(8640));
        self.quality = Some(level);
        let Some(view) = &mut self.view else { return };
        if view.quality == Some(level) {
            return;
        }
        view.quality = Some(level);
        self.push(
            now,
            EventKind::Quality {
                bitrate: level.0,
                height: level.1,
            },
        );
    }

    /// A playback error (hls.js' `ERROR`, the element's `error`).
    pub fn error(&mut self, now: i64, code: &str, detail: &str, fatal: bool) {
        let code = if code.is_empty() { "unknown" } else { code };
        let code = truncate(code, MAX_ERROR_CODE_LEN);
        let detail = truncate(detail, MAX_ERROR_DETAIL_LEN);
        let Some(view) = &mut self.view else {
            if fatal {
                self.error_before_view = Some((code, detail));
            }
            return;
        };
        if !fatal {
            if view.errors >= MAX_ERRORS_PER_VIEW {
                return;
            }
            view.errors += 1;
        }
        self.push(
            now,
            EventKind::Error {
                code,
                detail,
                fatal,
            },
        );
    }

    /// Called about every second: a heartbeat when one is due. True when a batch should go
    /// out now (a heartbeat was queued, or queued events waited a heartbeat's time).
    pub fn tick(&mut self, now: i64, position: f64) -> bool {
        let position = clean(position);
        let due = self
            .view
            .as_ref()
            .is_some_and(|v| now - v.last_heartbeat >= HEARTBEAT_MS);
        if due {
            self.heartbeat(now, position);
            return true;
        }
        self.outbox.waited(now)
    }

    fn heartbeat(&mut self, now: i64, position: f64) {
        let Some(view) = &mut self.view else { return };
        view.last_heartbeat = now;
        let mut pieces = self.watched.take();
        if pieces.is_empty() {
            pieces.push(Vec::new());
        }
        for watched in pieces {
            let bitrate = self.bitrate();
            self.push(
                now,
                EventKind::Heartbeat {
                    position,
                    watched,
                    bitrate,
                },
            );
        }
    }

    /// The page is hidden (`visibilitychange`): a heartbeat now, so what was watched is in the
    /// queue that is about to be sent; the view goes on (a hidden tab may keep playing).
    pub fn hidden(&mut self, now: i64, position: f64) {
        if self.view.is_some() {
            self.heartbeat(now, clean(position));
        }
    }

    /// The page is going away (`pagehide`, or the player is removed): the open view exits,
    /// whether or not its first frame showed.
    pub fn exit(&mut self, now: i64, position: f64) {
        let position = clean(position);
        if self.view.is_none() {
            return;
        }
        self.end_stall(now);
        self.watched.halt();
        let watched = self.flush_watched(now, position, true);
        let bitrate = self.bitrate();
        self.push(
            now,
            EventKind::Exit {
                position,
                watched,
                bitrate,
            },
        );
        self.view = None;
    }

    /// The next batch to send with `fetch` (`None`: nothing queued, one in flight, or the
    /// server asked to wait).
    pub fn next_batch(&mut self, now: i64) -> Option<Outgoing> {
        if self.outbox.in_flight || now < self.outbox.not_before {
            return None;
        }
        let batch = self.outbox.take(now, self.talk, self.viewer)?;
        self.outbox.in_flight = true;
        Some(batch)
    }

    /// Every queued batch, for `sendBeacon` as the page goes away (whatever is in flight goes
    /// on by itself: `fetch` with `keepalive`).
    pub fn final_batch(&mut self, now: i64) -> Option<Outgoing> {
        self.outbox.take(now, self.talk, self.viewer)
    }
}

/// A batch on its way: the JSON body and its events (kept to requeue).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub body: String,
    pub events: Vec<PlayerEvent>,
}

/// How a send went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: stored (or stored before: ids make a repeat harmless).
    Accepted,
    /// 503 or 429: the server is busy; try again after this many ms.
    Busy { retry_after_ms: i64 },
    /// No answer (network) or a 5xx: try again with the next send.
    Failed,
    /// Another 4xx: the server refuses the batch and would again; it is dropped.
    Refused,
}

impl Outcome {
    /// From an HTTP answer's status and `Retry-After` header (seconds).
    pub fn of_response(status: u16, retry_after: Option<&str>) -> Outcome {
        match status {
            200..=299 => Outcome::Accepted,
            503 | 429 => Outcome::Busy {
                retry_after_ms: retry_after
                    .and_then(|value| value.trim().parse::<i64>().ok())
                    .map_or(DEFAULT_RETRY_MS, |secs| secs.saturating_mul(1000))
                    .clamp(0, MAX_RETRY_MS),
            },
            408 => Outcome::Failed,
            400..=499 => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

/// The events waiting to be sent.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<PlayerEvent>,
    in_flight: bool,
    /// The server asked to wait until then (Retry-After).
    not_before: i64,
    last_send: i64,
    /// Events dropped because the queue was full or they were refused.
    pub dropped: u64,
    refusal_reported: bool,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn events(&self) -> impl Iterator<Item = &PlayerEvent> {
        self.queue.iter()
    }

    fn push(&mut self, event: PlayerEvent) {
        self.queue.push_back(event);
        self.trim();
    }

    fn trim(&mut self) {
        while self.queue.len() > MAX_QUEUED_EVENTS {
            self.queue.pop_front();
            self.dropped += 1;
        }
    }

    /// Queued events have waited a heartbeat's time since the last send.
    fn waited(&self, now: i64) -> bool {
        !self.queue.is_empty() && now - self.last_send >= HEARTBEAT_MS
    }

    /// Up to `MAX_EVENTS_PER_BATCH` of the oldest events as one batch of at most
    /// `MAX_BATCH_BYTES`; events too old for the server are dropped first.
    fn take(&mut self, now: i64, talk: Uuid, viewer: Option<Uuid>) -> Option<Outgoing> {
        let before = self.queue.len();
        // A minute of margin: the batch must still be acceptable when it arrives.
        self.queue
            .retain(|event| event.at >= now - MAX_EVENT_AGE_MS + 60_000);
        self.dropped += (before - self.queue.len()) as u64;
        let mut count = self.queue.len().min(MAX_EVENTS_PER_BATCH);
        while count > 0 {
            let events: Vec<PlayerEvent> = self.queue.iter().take(count).cloned().collect();
            let batch = EventBatch {
                // Never before an event's own time (the server refuses events "after the
                // batch was sent").
                sent_at: events.iter().map(|e| e.at).fold(now, i64::max),
                talk,
                viewer,
                events,
            };
            let body = serde_json::to_string(&batch).unwrap_or_default();
            if body.len() <= MAX_BATCH_BYTES {
                self.queue.drain(..count);
                self.last_send = now;
                return Some(Outgoing {
                    body,
                    events: batch.events,
                });
            }
            if count == 1 {
                // One event over the limit can never be sent.
                self.queue.pop_front();
                self.dropped += 1;
                count = self.queue.len().min(MAX_EVENTS_PER_BATCH);
            } else {
                count /= 2;
            }
        }
        None
    }

    /// How a `fetch` of `sent` went. True the first time the server refused a batch (the
    /// caller logs that once).
    pub fn settle(&mut self, sent: Outgoing, outcome: Outcome, now: i64) -> bool {
        self.in_flight = false;
        match outcome {
            Outcome::Accepted => false,
            Outcome::Busy { retry_after_ms } => {
                self.not_before = now + retry_after_ms;
                self.requeue(sent.events);
                false
            }
            Outcome::Failed => {
                self.requeue(sent.events);
                false
            }
            Outcome::Refused => {
                self.dropped += sent.events.len() as u64;
                !std::mem::replace(&mut self.refusal_reported, true)
            }
        }
    }

    /// `sendBeacon` refused `sent` (too much queued in the browser): it stays for later.
    pub fn unsent(&mut self, sent: Outgoing) {
        self.requeue(sent.events);
    }

    /// Events back at the front, in their order, before anything queued since.
    fn requeue(&mut self, events: Vec<PlayerEvent>) {
        for event in events.into_iter().rev() {
            self.queue.push_front(event);
        }
        // Full: the oldest go.
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotape_model::analytics::event::EventBatch;

    const T0: i64 = 1_764_000_000_000;
    const TALK: Uuid = Uuid::from_u128(0xa11);

    fn tracker_with(page: PageFacts) -> Tracker {
        let mut next = 0u128;
        Tracker::new(
            TALK,
            Some(Uuid::from_u128(0xbeef)),
            page,
            Box::new(move || {
                next += 1;
                Uuid::from_u128(next)
            }),
        )
    }

    fn tracker() -> Tracker {
        tracker_with(PageFacts {
            referrer: "https://news.example.com/story?id=3".into(),
            ..PageFacts::default()
        })
    }

    /// The queued events' kinds, oldest first.
    fn kinds(tracker: &Tracker) -> Vec<EventKind> {
        tracker.outbox.events().map(|e| e.kind.clone()).collect()
    }

    fn names(tracker: &Tracker) -> Vec<&'static str> {
        tracker.outbox.events().map(|e| e.kind.name()).collect()
    }

    /// Plays from `from` to `to` seconds at normal speed with a `timeupdate` every 250 ms,
    /// starting at `*now` (advanced).
    fn play_through(t: &mut Tracker, now: &mut i64, from: f64, to: f64) {
        let mut position = from;
        while position < to - 1e-9 {
            *now += 250;
            position = (position + 0.25).min(to);
            t.time_update(*now, position, 1.0, true);
        }
    }

    fn watched_total(t: &Tracker) -> f64 {
        t.outbox
            .events()
            .flat_map(|e| e.kind.watched().iter())
            .map(|[s, e]| e - s)
            .sum()
    }

    /// Every batch the tracker queues passes the server's own check.
    fn assert_acceptable(t: &mut Tracker, now: i64) {
        while let Some(out) = t.final_batch(now) {
            let batch: EventBatch = serde_json::from_str(&out.body).unwrap();
            assert_eq!(batch.talk, TALK);
            batch
                .check(now)
                .unwrap_or_else(|e| panic!("{e}: {}", out.body));
        }
    }

    #[test]
    fn a_view_starts_at_the_first_play_request_with_the_referrer_and_times_its_startup() {
        let mut t = tracker();
        t.quality(T0 - 500, 1_200_000.0, 480);
        // Nothing happened yet that is a view.
        t.seeking(T0 - 400, 0.0);
        t.time_update(T0 - 300, 0.0, 1.0, false);
        assert!(t.outbox.is_empty());
        t.play_requested(T0, 0.0, false);
        t.waiting(T0 + 10, 0.0); // loading, not a stall
        t.playing(T0 + 640, 0.0);
        assert_eq!(
            kinds(&t),
            vec![
                EventKind::ViewStart {
                    embed_origin: None,
                    referrer: Some("https://news.example.com/story?id=3".into()),
                    autoplay: false,
                    position: 0.0,
                },
                EventKind::Quality {
                    bitrate: 1_200_000,
                    height: 480
                },
                EventKind::FirstFrame { startup_ms: 640 },
            ]
        );
        let view = t.view_id().unwrap();
        assert!(t.outbox.events().all(|e| e.view == view));
        assert_acceptable(&mut t, T0 + 1000);
    }

    #[test]
    fn startup_counts_from_the_latest_request_when_paused_before_the_first_frame() {
        let mut t = tracker();
        t.play_requested(T0, 0.0, true);
        t.paused(T0 + 2000, 0.0);
        t.play_requested(T0 + 5000, 0.0, false);
        t.playing(T0 + 5300, 0.0);
        assert_eq!(
            names(&t),
            ["view_start", "pause", "play", "first_frame"].to_vec()
        );
        assert_eq!(kinds(&t)[3], EventKind::FirstFrame { startup_ms: 300 });
        assert!(matches!(
            kinds(&t)[0],
            EventKind::ViewStart { autoplay: true, .. }
        ));
    }

    #[test]
    fn a_waiting_after_start_is_a_stall_until_playing_again() {
        let mut t = tracker();
        let mut now = T0;
        t.play_requested(now, 0.0, false);
        t.playing(now + 200, 0.0);
        now += 200;
        play_through(&mut t, &mut now, 0.0, 5.0);
        t.waiting(now, 5.0);
        t.waiting(now + 100, 5.0); // repeated: one stall
        now += 1800;
        t.playing(now, 5.0);
        assert_eq!(
            kinds(&t).last().unwrap(),
            &EventKind::Stall {
                position: 5.0,
                duration_ms: 1800
            }
        );
        assert_eq!(names(&t).iter().filter(|n| **n == "stall").count(), 1);
    }

    #[test]
    fn a_seeks_rebuffering_is_no_stall_but_a_later_one_is() {
        let mut t = tracker();
        let mut now = T0;
        t.play_requested(now, 0.0, false);
        t.playing(now + 100, 0.0);
        now += 100;
        play_through(&mut t, &mut now, 0.0, 3.0);
        t.seeking(now, 20.0);
        t.time_update(now, 20.0, 1.0, false); // the seek's own timeupdate
        t.waiting(now + 5, 20.0);
        now += 900;
        t.playing(now, 20.0);
        assert_eq!(
            kinds(&t).iter().rfind(|k| k.name() == "seek"),
            Some(&EventKind::Seek {
                from: 3.0,
                to: 20.0
            })
        );
        assert!(!names(&t).contains(&"stall"));
        // A seek inside the buffer fires no `playing`; playing on ends its grace all the same.
        play_through(&mut t, &mut now, 20.0, 21.0);
        t.seeking(now, 30.0);
        play_through(&mut t, &mut now, 30.0, 32.0);
        t.waiting(now, 32.0);
        t.playing(now + 700, 32.0);
        assert_eq!(
            kinds(&t).last().unwrap(),
            &EventKind::Stall {
                position: 32.0,
                duration_ms: 700
            }
        );
    }

    #[test]
    fn a_stall_cut_short_by_a_seek_pause_or_exit_is_reported_so_far() {
        for end in ["seek", "pause", "exit"] {
            let mut t = tracker();
            let mut now = T0;
            t.play_requested(now, 0.0, false);
            t.playing(now, 0.0);
            play_through(&mut t, &mut now, 0.0, 2.0);
            t.waiting(now, 2.0);
            now += 3000;
            match end {
                "seek" => t.seeking(now, 10.0),
                "pause" => t.paused(now, 2.0),
                _ => t.exit(now, 2.0),
            }
            let stall = kinds(&t)
                .into_iter()
                .find(|k| k.name() == "stall")
                .unwrap_or_else(|| panic!("{end}: no stall"));
            assert_eq!(
                stall,
                EventKind::Stall {
                    position: 2.0,
                    duration_ms: 3000
                },
                "{end}"
            );
        }
    }

    #[test]
    fn heartbeats_every_ten_seconds_carry_what_played_and_sum_up_across_seeks() {
        let mut t = tracker();
        let mut now = T0;
        t.quality(now, 800_000.0, 360);
        t.play_requested(now, 0.0, false);
        now += 300;
        t.playing(now, 0.0);
        play_through(&mut t, &mut now, 0.0, 4.0);
        t.seeking(now, 20.0);
        t.waiting(now, 20.0);
        now += 500;
        t.playing(now, 20.0);
        play_through(&mut t, &mut now, 20.0, 25.0);
        // 10 s after the view started.
        assert!(t.tick(T0 + 10_000, 25.0));
        let heartbeat = kinds(&t).into_iter().find(|k| k.name() == "heartbeat");
        assert_eq!(
            heartbeat,
            Some(EventKind::Heartbeat {
                position: 25.0,
                watched: vec![[0.0, 4.0], [20.0, 25.0]],
                bitrate: 800_000,
            })
        );
        // Nothing due a second later; the next one ten seconds after.
        let queued = t.outbox.len();
        t.tick(T0 + 11_000, 25.0);
        assert_eq!(t.outbox.len(), queued);
        now = T0 + 10_000;
        play_through(&mut t, &mut now, 25.0, 30.0);
        t.paused(now, 30.0);
        t.play_requested(now + 1000, 30.0, false);
        t.playing(now + 1100, 30.0);
        now += 1100;
        play_through(&mut t, &mut now, 30.0, 33.5);
        t.exit(now + 100, 33.6);
        let exit = kinds(&t).pop().unwrap();
        assert_eq!(
            exit,
            EventKind::Exit {
                position: 33.6,
                watched: vec![[25.0, 33.5]],
                bitrate: 800_000,
            }
        );
        assert!((watched_total(&t) - (4.0 + 5.0 + 8.5)).abs() < 1e-9);
        assert_acceptable(&mut t, now + 200);
    }

    #[test]
    fn a_jump_without_a_seek_event_starts_a_new_stretch() {
        let mut w = Watched::default();
        w.resume(0.0, T0);
        w.advance(0.25, T0 + 250, 1.0);
        w.advance(0.5, T0 + 500, 1.0);
        w.advance(30.0, T0 + 750, 1.0); // jumped
        w.advance(30.5, T0 + 1250, 2.0);
        w.advance(30.4, T0 + 1500, 1.0); // backwards
        w.advance(30.6, T0 + 1700, 1.0);
        assert_eq!(w.take(), vec![vec![[0.0, 0.5], [30.0, 30.5], [30.4, 30.6]]]);
        // At 2x the clock allows twice as far.
        let mut fast = Watched::default();
        fast.resume(0.0, T0);
        for i in 1..=20 {
            fast.advance(f64::from(i) * 0.5, T0 + i64::from(i) * 250, 2.0);
        }
        assert_eq!(fast.take(), vec![vec![[0.0, 10.0]]]);
    }

    #[test]
    fn a_pause_and_resume_at_the_same_moment_is_one_stretch() {
        let mut w = Watched::default();
        w.resume(0.0, T0);
        w.advance(2.0, T0 + 2000, 1.0);
        w.halt();
        w.resume(2.0, T0 + 9000);
        w.advance(3.0, T0 + 10_000, 1.0);
        assert_eq!(w.take(), vec![vec![[0.0, 3.0]]]);
        // Taking leaves the open stretch going on from where it was taken.
        w.advance(4.0, T0 + 11_000, 1.0);
        assert_eq!(w.take(), vec![vec![[3.0, 4.0]]]);
    }

    #[test]
    fn long_or_fragmented_watching_is_split_into_events_the_server_accepts() {
        let pieces = split_watched(vec![[0.0, 300.0]]);
        assert_eq!(pieces.len(), 3);
        let total: f64 = pieces.iter().flatten().map(|[s, e]| e - s).sum();
        assert!((total - 300.0).abs() < 1e-6);
        let many: Vec<[f64; 2]> = (0..70)
            .map(|i| [f64::from(i) * 2.0, f64::from(i) * 2.0 + 1.0])
            .collect();
        let pieces = split_watched(many);
        assert_eq!(pieces.iter().map(Vec::len).collect::<Vec<_>>(), [32, 32, 6]);
        // Through the tracker: a throttled background tab's long stretch at exit.
        let mut t = tracker();
        let mut now = T0;
        t.play_requested(now, 0.0, false);
        t.playing(now, 0.0);
        for i in 1..=400 {
            now = T0 + i * 1000;
            t.time_update(now, i as f64, 1.0, true);
        }
        t.exit(now, 400.0);
        assert!((watched_total(&t) - 400.0).abs() < 1e-6);
        assert_eq!(names(&t).last(), Some(&"exit"));
        assert_acceptable(&mut t, now);
    }

    #[test]
    fn an_exit_before_the_first_frame_is_sent_and_after_it_nothing_more() {
        let mut t = tracker();
        t.play_requested(T0, 12.0, false);
        t.waiting(T0 + 100, 12.0);
        t.exit(T0 + 4000, 12.0);
        assert_eq!(names(&t), ["view_start", "exit"].to_vec());
        assert!(t.view_id().is_none());
        t.tick(T0 + 20_000, 12.0);
        t.exit(T0 + 20_001, 12.0);
        t.paused(T0 + 20_002, 12.0);
        assert_eq!(names(&t), ["view_start", "exit"].to_vec());
    }

    #[test]
    fn after_the_end_a_play_request_starts_a_new_view() {
        let mut t = tracker();
        let mut now = T0;
        t.play_requested(now, 35.0, false);
        t.playing(now + 100, 35.0);
        now += 100;
        play_through(&mut t, &mut now, 35.0, 40.0);
        t.paused(now, 40.0);
        t.ended(now, 40.0);
        let first = t.outbox.events().next().unwrap().view;
        assert_eq!(
            names(&t),
            ["view_start", "first_frame", "pause", "heartbeat", "end"].to_vec()
        );
        assert!((watched_total(&t) - 5.0).abs() < 1e-9);
        // No heartbeats for an ended view.
        assert!(t.tick(now + 15_000, 40.0)); // the queue waited: send it, nothing new
        assert_eq!(t.outbox.len(), 5);
        t.play_requested(now + 20_000, 0.0, false);
        let last = t.outbox.events().last().unwrap();
        assert_eq!(last.kind.name(), "view_start");
        assert_ne!(last.view, first);
    }

    #[test]
    fn quality_switches_are_reported_once_per_change_and_fatal_errors_before_a_view_wait() {
        let mut t = tracker();
        t.error(T0, "manifestLoadError", "networkError", true);
        t.error(T0, "fragLoadError", "networkError", false); // no view: dropped
        t.play_requested(T0 + 1, 0.0, false);
        t.quality(T0 + 2, 1_400_000.0, 480);
        t.quality(T0 + 3, 1_400_000.0, 480);
        t.quality(T0 + 4, 700_000.0, 360);
        t.quality(T0 + 5, 0.0, 0); // unknown: nothing
        for _ in 0..30 {
            t.error(T0 + 6, "bufferStalledError", "mediaError", false);
        }
        t.error(T0 + 7, &"x".repeat(100), &"y".repeat(900), true);
        let events = kinds(&t);
        assert_eq!(
            events[1],
            EventKind::Error {
                code: "manifestLoadError".into(),
                detail: "networkError".into(),
                fatal: true
            }
        );
        let qualities: Vec<_> = events.iter().filter(|k| k.name() == "quality").collect();
        assert_eq!(qualities.len(), 2);
        let errors = events.iter().filter(|k| k.name() == "error").count();
        assert_eq!(errors, 1 + MAX_ERRORS_PER_VIEW as usize + 1);
        assert_acceptable(&mut t, T0 + 10);
    }

    #[test]
    fn batches_hold_at_most_the_limit_and_requeue_on_failure_and_busy() {
        let mut t = tracker();
        t.play_requested(T0, 0.0, false);
        for i in 0..450 {
            t.paused(T0 + i, 1.0);
        }
        assert_eq!(t.outbox.len(), 451);
        let first = t.next_batch(T0 + 500).unwrap();
        assert_eq!(first.events.len(), MAX_EVENTS_PER_BATCH);
        assert_eq!(first.events[0].kind.name(), "view_start");
        // One in flight at a time.
        assert!(t.next_batch(T0 + 500).is_none());
        t.paused(T0 + 501, 1.0);
        assert!(!t.outbox.settle(first.clone(), Outcome::Failed, T0 + 600));
        // Back at the front, in order, before what came since.
        let again = t.next_batch(T0 + 700).unwrap();
        assert_eq!(again.events, first.events);
        t.outbox
            .settle(again, Outcome::of_response(503, Some("30")), T0 + 800);
        assert!(t.next_batch(T0 + 20_000).is_none());
        let later = t.next_batch(T0 + 30_800).unwrap();
        assert_eq!(later.events, first.events);
        t.outbox.settle(later, Outcome::Accepted, T0 + 31_000);
        assert_eq!(t.outbox.len(), 252);
    }

    #[test]
    fn a_refused_batch_is_dropped_and_logged_once() {
        let mut t = tracker();
        t.play_requested(T0, 0.0, false);
        let one = t.next_batch(T0).unwrap();
        assert!(t.outbox.settle(one, Outcome::of_response(422, None), T0));
        t.paused(T0 + 1, 0.0);
        let two = t.next_batch(T0 + 2).unwrap();
        assert!(
            !t.outbox
                .settle(two, Outcome::of_response(400, None), T0 + 2)
        );
        assert!(t.outbox.is_empty());
        assert_eq!(t.outbox.dropped, 2);
    }

    #[test]
    fn a_dead_server_never_grows_the_queue_past_its_bound() {
        let mut t = tracker();
        let mut now = T0;
        t.play_requested(now, 0.0, false);
        for _ in 0..600 {
            now += 1000;
            t.paused(now, 1.0);
            t.play_requested(now, 1.0, false);
            t.tick(now, 1.0);
            if let Some(out) = t.next_batch(now) {
                t.outbox.settle(out, Outcome::Failed, now);
            }
        }
        assert_eq!(t.outbox.len(), MAX_QUEUED_EVENTS);
        assert!(t.outbox.dropped > 0);
        // The newest are kept.
        assert_eq!(t.outbox.events().last().unwrap().at, now);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(Outcome::of_response(202, None), Outcome::Accepted);
        assert_eq!(
            Outcome::of_response(503, None),
            Outcome::Busy {
                retry_after_ms: 10_000
            }
        );
        assert_eq!(
            Outcome::of_response(429, Some(" 2 ")),
            Outcome::Busy {
                retry_after_ms: 2000
            }
        );
        assert_eq!(
            Outcome::of_response(503, Some("99999")),
            Outcome::Busy {
                retry_after_ms: 300_000
            }
        );
        assert_eq!(Outcome::of_response(500, None), Outcome::Failed);
        assert_eq!(Outcome::of_response(408, None), Outcome::Failed);
        assert_eq!(Outcome::of_response(413, None), Outcome::Refused);
        assert_eq!(Outcome::of_response(404, None), Outcome::Refused);
    }

    #[test]
    fn a_batch_never_exceeds_the_byte_limit_and_old_events_are_dropped() {
        let mut t = tracker_with(PageFacts {
            referrer: "r".repeat(5000),
            ..PageFacts::default()
        });
        // 150 views, each with a 1000-byte referrer: more than 64 KiB in 200 events.
        for i in 0..150 {
            t.play_requested(T0 + i, 0.0, false);
            t.exit(T0 + i, 0.0);
        }
        let mut sent = 0;
        while let Some(out) = t.final_batch(T0 + 1000) {
            assert!(out.body.len() <= MAX_BATCH_BYTES);
            let batch: EventBatch = serde_json::from_str(&out.body).unwrap();
            batch.check(T0 + 1000).unwrap();
            sent += batch.events.len();
        }
        assert_eq!(sent, 300);
        t.play_requested(T0, 0.0, false);
        assert!(t.final_batch(T0 + MAX_EVENT_AGE_MS).is_none());
        assert_eq!(t.outbox.dropped, 1);
    }

    #[test]
    fn embed_origins_come_from_the_ancestor_or_the_referrer_and_only_in_embeds() {
        let embedded = |ancestor: Option<&str>, referrer: &str| PageFacts {
            referrer: referrer.into(),
            ancestor_origin: ancestor.map(Into::into),
            embedded: true,
        };
        assert_eq!(
            embedded(Some("https://Blog.Example.org"), "").embed_origin(),
            Some("https://blog.example.org".into())
        );
        assert_eq!(
            embedded(None, "http://127.0.0.1:4100/posts/1?x#y").embed_origin(),
            Some("http://127.0.0.1:4100".into())
        );
        assert_eq!(
            embedded(Some("null"), "https://user:pw@site.example/a").embed_origin(),
            Some("https://site.example".into())
        );
        for referrer in [
            "",
            "file:///tmp/a.html",
            "javascript:alert(1)",
            "https://a b/",
        ] {
            assert_eq!(embedded(None, referrer).embed_origin(), None, "{referrer}");
        }
        let mut page = embedded(
            Some("https://blog.example.org"),
            "https://blog.example.org/",
        );
        page.embedded = false;
        assert_eq!(page.embed_origin(), None);
        // What the tracker sends passes the server's check.
        let mut t = tracker_with(embedded(None, "http://[::1]:8080/page"));
        t.play_requested(T0, 0.0, false);
        assert!(matches!(
            kinds(&t)[0],
            EventKind::ViewStart { embed_origin: Some(ref o), .. } if o == "http://[::1]:8080"
        ));
        assert_acceptable(&mut t, T0);
    }

    #[test]
    fn privacy_signals_withhold_the_viewer_id() {
        assert!(viewer_id_allowed(None, None));
        assert!(viewer_id_allowed(Some(false), Some("0")));
        assert!(!viewer_id_allowed(Some(true), None));
        assert!(!viewer_id_allowed(None, Some("1")));
    }

    #[test]
    fn hostile_positions_and_long_texts_are_made_acceptable() {
        let mut t = tracker_with(PageFacts {
            referrer: "é".repeat(800),
            ..PageFacts::default()
        });
        t.play_requested(T0, f64::NAN, false);
        t.playing(T0 + 1, f64::INFINITY);
        t.seeking(T0 + 2, -5.0);
        t.paused(T0 + 3, 1e12);
        t.playing(T0 - 10 * 60 * 1000 - 5, 0.0); // a clock going backwards
        assert_acceptable(&mut t, T0 + 10);
    }
}
