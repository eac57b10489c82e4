//! Attaches a stream to the `<video>`: hls.js over Media Source Extensions where available,
//! the browser's own HLS (Safari, iOS) otherwise. Browser-only.

use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

use super::hls::{self, Hls};
use super::{HLS_SCRIPT, QualityLevel, Streams};

/// What hls.js tells the player's beacons (`beacon_wiring.rs`).
pub enum EngineReport {
    /// Playing the rendition of `bitrate` (bits/s, the playlist's `BANDWIDTH`) and `height`.
    Level { bitrate: f64, height: u32 },
    /// hls.js' `ERROR`: `code` its `details` (`fragLoadError`), `detail` its `type` and what
    /// else it says (HTTP status, reason).
    Error {
        code: String,
        detail: String,
        fatal: bool,
    },
}

/// A running engine; dropping it detaches hls.js.
pub struct Engine {
    hls: Option<Hls>,
    _listeners: Vec<Closure<dyn FnMut(JsValue, JsValue)>>,
    _element_listener: Option<Closure<dyn FnMut()>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(hls) = &self.hls {
            hls.destroy();
        }
    }
}

impl Engine {
    /// Pins a quality level (`None`: automatic).
    pub fn pin_level(&self, level: Option<usize>) {
        if let Some(hls) = &self.hls {
            hls.set_current_level(level.map_or(-1, |l| l as i32));
        }
    }
}

/// Whether the browser should play HLS natively: Apple's engines do it best (AirPlay, power),
/// and browsers without MSE have no other way. Elsewhere hls.js gives quality control.
fn prefers_native(video: &HtmlVideoElement) -> bool {
    let native = !video
        .can_play_type("application/vnd.apple.mpegurl")
        .is_empty();
    let apple = js_sys::Reflect::get(&window().navigator(), &JsValue::from_str("vendor"))
        .ok()
        .and_then(|vendor| vendor.as_string())
        .is_some_and(|vendor| vendor.contains("Apple"));
    native && (apple || !has_mse())
}

fn has_mse() -> bool {
    let global = js_sys::global();
    ["MediaSource", "ManagedMediaSource"]
        .iter()
        .any(|name| js_sys::Reflect::has(&global, &JsValue::from_str(name)).unwrap_or(false))
}

/// Loads hls.js once per page.
async fn load_hls_script() -> Result<(), String> {
    if hls::loaded() {
        return Ok(());
    }
    let document = document();
    let existing = document.get_element_by_id("hls-script");
    let script: web_sys::HtmlScriptElement = match existing {
        Some(element) => element.unchecked_into(),
        None => {
            let script: web_sys::HtmlScriptElement = document
                .create_element("script")
                .map_err(|_| "cannot create a script element")?
                .unchecked_into();
            script.set_id("hls-script");
            script.set_src(HLS_SCRIPT);
            document
                .head()
                .ok_or("the page has no head")?
                .append_child(&script)
                .map_err(|_| "cannot add the player script")?;
            script
        }
    };
    let loaded = js_sys::Promise::new(&mut |resolve, reject| {
        script.set_onload(Some(&resolve));
        script.set_onerror(Some(&reject));
    });
    if hls::loaded() {
        return Ok(());
    }
    JsFuture::from(loaded)
        .await
        .map_err(|_| "the player script could not be loaded".to_owned())?;
    Ok(())
}

/// Loads what `attach` will need for `video` ahead of it (hls.js, unless the browser plays
/// HLS itself), so that other work can overlap the download. Failures are left for `attach`
/// to report.
pub async fn preload(video: &HtmlVideoElement) {
    if !prefers_native(video) {
        let _ = load_hls_script().await;
    }
}

/// Starts playback of `streams` in `video` at `start` seconds. `from_start`: the stream is
/// still growing (an `EVENT` playlist), which players treat as live and would join at its
/// end; it starts at `start` instead.
pub async fn attach(
    video: HtmlVideoElement,
    streams: &Streams,
    start: f64,
    from_start: bool,
    levels: RwSignal<Vec<QualityLevel>>,
    playing_level: RwSignal<Option<usize>>,
    report: Option<Rc<dyn Fn(EngineReport)>>,
) -> Result<Engine, String> {
    let report = move |what: EngineReport| {
        if let Some(report) = &report {
            report(what);
        }
    };
    if prefers_native(&video) {
        // A media fragment: the browser seeks there once metadata is known.
        if start > 0.0 {
            video.set_src(&format!("{}#t={start}", streams.master_url));
        } else {
            video.set_src(&streams.master_url);
        }
        let element_listener = from_start.then(|| {
            let element = video.clone();
            let listener = Closure::<dyn FnMut()>::new(move || {
                if element.current_time() > start + 1.0 {
                    element.set_current_time(start);
                }
            });
            let _ = video.add_event_listener_with_callback(
                "loadedmetadata",
                listener.as_ref().unchecked_ref(),
            );
            listener
        });
        return Ok(Engine {
            hls: None,
            _listeners: Vec::new(),
            _element_listener: element_listener,
        });
    }
    if !has_mse() {
        return Err("This browser cannot play adaptive video.".to_owned());
    }
    load_hls_script().await?;
    if !Hls::is_supported() {
        return Err("This browser cannot play adaptive video.".to_owned());
    }
    let config = js_sys::Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&config, &JsValue::from_str(key), &value);
    };
    set(
        "startPosition",
        JsValue::from_f64(if start > 0.0 || from_start {
            start
        } else {
            -1.0
        }),
    );
    // Start at a rung that fits the player, not the top one.
    set("capLevelToPlayerSize", JsValue::TRUE);
    set("enableWorker", JsValue::TRUE);
    if streams.live {
        // Two 1 s segments behind the edge; past six, hls.js plays up to 20 % faster until it
        // is back (rather than jumping), and never waits for a full buffer before starting.
        set("lowLatencyMode", JsValue::TRUE);
        set("liveSyncDurationCount", JsValue::from_f64(2.0));
        set("liveMaxLatencyDurationCount", JsValue::from_f64(6.0));
        set("maxLiveSyncPlaybackRate", JsValue::from_f64(1.2));
        set("backBufferLength", JsValue::from_f64(30.0));
    }
    // Captions come from the page's own `<track>` elements (every browser, one code path);
    // the master's subtitle renditions are for other HLS players, and would show twice.
    set("enableWebVTT", JsValue::FALSE);
    let hls = Hls::new(&config);

    let mut listeners = Vec::new();
    let on_manifest = {
        let hls = hls.clone();
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_event, _data| {
            let list = hls
                .levels()
                .iter()
                .enumerate()
                .map(|(index, level)| QualityLevel {
                    index,
                    height: level.height(),
                    bitrate: level.bitrate(),
                })
                .collect();
            levels.set(list);
        })
    };
    hls.on(
        hls::events::MANIFEST_PARSED,
        on_manifest.as_ref().unchecked_ref(),
    );
    listeners.push(on_manifest);

    let on_switch = {
        let hls = hls.clone();
        let report = report.clone();
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_event, data: JsValue| {
            let level = js_sys::Reflect::get(&data, &JsValue::from_str("level"))
                .ok()
                .and_then(|l| l.as_f64())
                .map(|l| l as usize);
            playing_level.set(level);
            if let Some(rung) = level.and_then(|l| hls.levels().into_iter().nth(l)) {
                report(EngineReport::Level {
                    bitrate: rung.bitrate(),
                    height: rung.height(),
                });
            }
        })
    };
    hls.on(
        hls::events::LEVEL_SWITCHED,
        on_switch.as_ref().unchecked_ref(),
    );
    listeners.push(on_switch);

    // Fatal network errors retry; fatal media errors try hls.js' recovery once, as its
    // documentation recommends. Anything else surfaces through the <video>'s own error.
    let on_error = {
        let hls = hls.clone();
        let mut recovered = false;
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_event, data: JsValue| {
            let field = |name: &str| js_sys::Reflect::get(&data, &JsValue::from_str(name)).ok();
            let fatal = field("fatal").and_then(|f| f.as_bool()).unwrap_or(false);
            let text =
                |value: Option<JsValue>| value.and_then(|v| v.as_string()).unwrap_or_default();
            let mut detail = text(field("type"));
            if let Some(status) = field("response")
                .and_then(|r| js_sys::Reflect::get(&r, &JsValue::from_str("code")).ok())
                .and_then(|c| c.as_f64())
            {
                detail.push_str(&format!(", HTTP {status}"));
            }
            let reason = text(field("reason"));
            if !reason.is_empty() {
                detail.push_str(&format!(", {reason}"));
            }
            report(EngineReport::Error {
                code: text(field("details")),
                detail,
                fatal,
            });
            if !fatal {
                return;
            }
            match field("type").and_then(|t| t.as_string()).as_deref() {
                Some("networkError") => hls.start_load(-1.0),
                Some("mediaError") if !recovered => {
                    recovered = true;
                    hls.recover_media_error();
                }
                _ => hls.destroy(),
            }
        })
    };
    hls.on(hls::events::ERROR, on_error.as_ref().unchecked_ref());
    listeners.push(on_error);

    hls.load_source(&streams.master_url);
    hls.attach_media(&video);
    Ok(Engine {
        hls: Some(hls),
        _listeners: listeners,
        _element_listener: None,
    })
}
