//! Feeds `beacons::Tracker` from the browser and sends what it queues to `POST /api/v1/events`.
//! Browser-only.
//!
//! Listens to the `<video>` (play, playing, waiting, seeking, timeupdate, pause, ended, error),
//! to hls.js through the engine's reports, and to the page (`visibilitychange`, `pagehide`). A
//! one-second timer lets the tracker queue heartbeats and say when to send: `fetch` with
//! `keepalive` normally, `sendBeacon` as the page goes away. Dropping `Beacons` (the player
//! leaves the page in the app bundle) exits the view and sends what is left.

use std::cell::RefCell;
use std::rc::Rc;

use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{EventTarget, HtmlVideoElement};

use super::beacons::{Outcome, Outgoing, PageFacts, Tracker};
use super::engine::EngineReport;
use crate::components::viewer_identity::{random_uuid, viewer_id};

/// Where batches go (same origin: the embed frame's is the server's too).
const ENDPOINT: &str = "/api/v1/events";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    pub(super) fn fetch_with(url: &str, init: &JsValue) -> js_sys::Promise;

    #[wasm_bindgen(catch, js_namespace = navigator, js_name = sendBeacon)]
    fn send_beacon(url: &str, data: &JsValue) -> Result<bool, JsValue>;

    #[wasm_bindgen(js_name = Blob)]
    type JsonBlob;
    #[wasm_bindgen(constructor, js_class = "Blob")]
    fn new(parts: &js_sys::Array, options: &JsValue) -> JsonBlob;
}

fn now() -> i64 {
    js_sys::Date::now() as i64
}

pub(super) fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(super) fn set(target: &JsValue, key: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), &value);
}

fn page_facts(embedded: bool) -> PageFacts {
    let document = leptos::prelude::document();
    let ancestor_origin = embedded
        .then(|| {
            let origins = get(
                &leptos::prelude::window().location().into(),
                "ancestorOrigins",
            );
            if origins.is_undefined() || origins.is_null() {
                return None;
            }
            js_sys::Reflect::get_u32(&origins, 0).ok()?.as_string()
        })
        .flatten();
    PageFacts {
        referrer: document.referrer(),
        ancestor_origin,
        embedded,
    }
}

struct Shared {
    tracker: Tracker,
    video: HtmlVideoElement,
    /// The next `play` was the player's own autoplay.
    autoplay: bool,
}

type Handle = Rc<RefCell<Shared>>;
/// An event listener added, to remove on drop.
type Listener = (EventTarget, &'static str, Closure<dyn FnMut()>);

/// The beacons of one player; dropping it ends the view and stops listening.
pub struct Beacons {
    shared: Handle,
    listeners: Vec<Listener>,
    interval: Option<(i32, Closure<dyn FnMut()>)>,
}

impl Beacons {
    /// Starts reporting the views of `talk` played in `video`.
    pub fn start(video: HtmlVideoElement, talk: Uuid, embedded: bool) -> Beacons {
        let tracker = Tracker::new(
            talk,
            viewer_id(),
            page_facts(embedded),
            Box::new(random_uuid),
        );
        let shared = Rc::new(RefCell::new(Shared {
            tracker,
            video: video.clone(),
            autoplay: false,
        }));
        let mut beacons = Beacons {
            shared: shared.clone(),
            listeners: Vec::new(),
            interval: None,
        };
        let element: EventTarget = video.into();
        let on = |beacons: &mut Beacons,
                  target: &EventTarget,
                  name: &'static str,
                  step: fn(&mut Shared, i64)| {
            let shared = shared.clone();
            let closure = Closure::<dyn FnMut()>::new(move || {
                let Ok(mut shared) = shared.try_borrow_mut() else {
                    return;
                };
                step(&mut shared, now());
            });
            let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            beacons.listeners.push((target.clone(), name, closure));
        };
        on(&mut beacons, &element, "play", |s, now| {
            let autoplay = std::mem::take(&mut s.autoplay);
            let position = s.video.current_time();
            s.tracker.play_requested(now, position, autoplay);
        });
        on(&mut beacons, &element, "playing", |s, now| {
            let position = s.video.current_time();
            s.tracker.playing(now, position);
        });
        on(&mut beacons, &element, "waiting", |s, now| {
            let position = s.video.current_time();
            s.tracker.waiting(now, position);
        });
        on(&mut beacons, &element, "seeking", |s, now| {
            let position = s.video.current_time();
            s.tracker.seeking(now, position);
        });
        on(&mut beacons, &element, "timeupdate", |s, now| {
            let video = &s.video;
            let advancing = !video.paused() && !video.seeking();
            let (position, rate) = (video.current_time(), video.playback_rate());
            s.tracker.time_update(now, position, rate, advancing);
        });
        on(&mut beacons, &element, "pause", |s, now| {
            let position = s.video.current_time();
            s.tracker.paused(now, position);
        });
        on(&mut beacons, &element, "ended", |s, now| {
            let position = s.video.current_time();
            s.tracker.ended(now, position);
        });
        on(&mut beacons, &element, "error", |s, now| {
            // The element's own error (native HLS, or a decode error under hls.js).
            let error = get(&s.video, "error");
            if error.is_null() || error.is_undefined() {
                return;
            }
            let code = get(&error, "code").as_f64().unwrap_or(0.0);
            let message = get(&error, "message").as_string().unwrap_or_default();
            s.tracker
                .error(now, &format!("media_error_{code}"), &message, true);
        });
        let window = leptos::prelude::window();
        let window_target: EventTarget = window.clone().into();
        let document_target: EventTarget = leptos::prelude::document().into();
        // Leaving: the view exits (also before its first frame) and everything queued goes
        // with sendBeacon, which outlives the page.
        let leaving = shared.clone();
        let on_pagehide = Closure::<dyn FnMut()>::new(move || {
            let Ok(mut s) = leaving.try_borrow_mut() else {
                return;
            };
            let position = s.video.current_time();
            s.tracker.exit(now(), position);
            flush_with_beacon(&mut s.tracker);
        });
        let _ = window_target
            .add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
        beacons
            .listeners
            .push((window_target, "pagehide", on_pagehide));
        // Hidden is the last moment a mobile browser reliably runs the page's code: send what
        // there is; the view goes on if the page comes back.
        let hiding = shared.clone();
        let on_visibility = Closure::<dyn FnMut()>::new(move || {
            if !leptos::prelude::document().hidden() {
                return;
            }
            let Ok(mut s) = hiding.try_borrow_mut() else {
                return;
            };
            let position = s.video.current_time();
            s.tracker.hidden(now(), position);
            flush_with_beacon(&mut s.tracker);
        });
        let _ = document_target.add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
        beacons
            .listeners
            .push((document_target, "visibilitychange", on_visibility));

        let ticking = shared.clone();
        let on_tick = Closure::<dyn FnMut()>::new(move || {
            let due = {
                let mut s = ticking.borrow_mut();
                let position = s.video.current_time();
                s.tracker.tick(now(), position)
            };
            if due {
                send(&ticking);
            }
        });
        beacons.interval = window
            .set_interval_with_callback_and_timeout_and_arguments_0(
                on_tick.as_ref().unchecked_ref(),
                1000,
            )
            .ok()
            .map(|handle| (handle, on_tick));
        beacons
    }

    /// The next `play` is the player's autoplay.
    pub fn expect_autoplay(&self) {
        self.shared.borrow_mut().autoplay = true;
    }

    /// What the engine calls with hls.js' quality switches and errors.
    pub fn engine_reports(&self) -> Rc<dyn Fn(EngineReport)> {
        let shared = self.shared.clone();
        Rc::new(move |report| {
            let Ok(mut s) = shared.try_borrow_mut() else {
                return;
            };
            match report {
                EngineReport::Level { bitrate, height } => {
                    s.tracker.quality(now(), bitrate, height)
                }
                EngineReport::Error {
                    code,
                    detail,
                    fatal,
                } => s.tracker.error(now(), &code, &detail, fatal),
            }
        })
    }
}

impl Drop for Beacons {
    fn drop(&mut self) {
        if let Some((handle, _)) = self.interval.take() {
            leptos::prelude::window().clear_interval_with_handle(handle);
        }
        for (target, name, closure) in self.listeners.drain(..) {
            let _ =
                target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
        if let Ok(mut s) = self.shared.try_borrow_mut() {
            let position = s.video.current_time();
            s.tracker.exit(now(), position);
            flush_with_beacon(&mut s.tracker);
        }
    }
}

/// Everything queued, as beacons (the browser sends them even after the page is gone).
fn flush_with_beacon(tracker: &mut Tracker) {
    while let Some(outgoing) = tracker.final_batch(now()) {
        let parts = js_sys::Array::of1(&JsValue::from_str(&outgoing.body));
        let options = js_sys::Object::new();
        set(&options, "type", JsValue::from_str("application/json"));
        let blob = JsonBlob::new(&parts, &options);
        if send_beacon(ENDPOINT, &blob).unwrap_or(false) {
            continue;
        }
        // The browser's beacon quota is full: keep them for a later send.
        tracker.outbox.unsent(outgoing);
        break;
    }
}

/// Sends the next batch with `fetch` (one at a time), and settles it by the answer.
fn send(shared: &Handle) {
    let Some(outgoing) = shared.borrow_mut().tracker.next_batch(now()) else {
        return;
    };
    let shared = shared.clone();
    leptos::task::spawn_local(async move {
        let outcome = post(&outgoing).await;
        let mut s = shared.borrow_mut();
        if s.tracker.outbox.settle(outgoing, outcome, now()) {
            leptos::logging::warn!(
                "player analytics: the server refused a batch of events; dropped (reported once)"
            );
        }
    });
}

async fn post(outgoing: &Outgoing) -> Outcome {
    let init = js_sys::Object::new();
    set(&init, "method", JsValue::from_str("POST"));
    set(&init, "body", JsValue::from_str(&outgoing.body));
    set(&init, "keepalive", JsValue::TRUE);
    set(&init, "credentials", JsValue::from_str("same-origin"));
    let headers = js_sys::Object::new();
    set(
        &headers,
        "content-type",
        JsValue::from_str("application/json"),
    );
    set(&init, "headers", headers.into());
    let Ok(response) = JsFuture::from(fetch_with(ENDPOINT, &init)).await else {
        return Outcome::Failed;
    };
    let status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
    let retry_after = get(&response, "headers")
        .dyn_into::<js_sys::Object>()
        .ok()
        .and_then(|headers| {
            let lookup = get(&headers, "get").dyn_into::<js_sys::Function>().ok()?;
            lookup
                .call1(&headers, &JsValue::from_str("retry-after"))
                .ok()?
                .as_string()
        });
    Outcome::of_response(status, retry_after.as_deref())
}
