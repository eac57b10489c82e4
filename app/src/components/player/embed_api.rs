//! The embedded player's postMessage API (documented in docs/EMBEDDING.md). Browser-only.
//!
//! Requests from the embedding page: `{"ferrotape": "play" | "pause" | "mute" | "unmute"}`,
//! `{"ferrotape": "seek", "seconds": 30}`, `{"ferrotape": "getCurrentTime", "id": …}`.
//! Replies: `{"ferrotape": "currentTime", "id": …, "seconds": 12.5}`.
//! Events to the parent: `{"ferrotape": "event", "event": "ready" | "play" | "pause" | "ended"
//! | "timeupdate", "currentTime": …, "duration": …}`.

use js_sys::{Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlVideoElement, MessageEvent};

fn field(data: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(data, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined())
}

fn message(pairs: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

/// Tells the embedding page about a player event. Its origin is unknown, and nothing here is
/// private (the talk is public), so the target is `*`.
pub fn post_event(video: &HtmlVideoElement, event: &str) {
    let Ok(Some(parent)) = window().parent() else {
        return;
    };
    if parent == window() {
        return;
    }
    let payload = message(&[
        ("ferrotape", JsValue::from_str("event")),
        ("event", JsValue::from_str(event)),
        ("currentTime", JsValue::from_f64(video.current_time())),
        ("duration", JsValue::from_f64(finite(video.duration()))),
    ]);
    let _ = parent.post_message(&payload, "*");
}

fn finite(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

/// Answers requests from the embedding page for as long as the page lives.
pub fn listen(video: HtmlVideoElement) {
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let Some(request) = field(&data, "ferrotape").and_then(|r| r.as_string()) else {
            return;
        };
        match request.as_str() {
            "play" => {
                let _ = video.play();
            }
            "pause" => {
                let _ = video.pause();
            }
            "mute" => video.set_muted(true),
            "unmute" => video.set_muted(false),
            "seek" => {
                if let Some(seconds) = field(&data, "seconds").and_then(|s| s.as_f64())
                    && seconds.is_finite()
                {
                    video.set_current_time(seconds.max(0.0));
                }
            }
            "getCurrentTime" => {
                let reply = message(&[
                    ("ferrotape", JsValue::from_str("currentTime")),
                    ("id", field(&data, "id").unwrap_or(JsValue::NULL)),
                    ("seconds", JsValue::from_f64(video.current_time())),
                ]);
                if let Some(source) = event.source() {
                    let target = if event.origin().is_empty() || event.origin() == "null" {
                        "*".to_owned()
                    } else {
                        event.origin()
                    };
                    if let Ok(post) = Reflect::get(&source, &JsValue::from_str("postMessage"))
                        && let Some(post) = post.dyn_ref::<js_sys::Function>()
                    {
                        let _ = post.call2(&source, &reply, &JsValue::from_str(&target));
                    }
                }
            }
            _ => {}
        }
    });
    let _ = window().add_event_listener_with_callback("message", handler.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    handler.forget();
}
