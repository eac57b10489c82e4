//! The live player of `/live/{id}`: hls.js tuned for live (two 1 s segments behind the edge,
//! catching up by playing slightly faster when it falls behind), the browser's own controls
//! for play, volume and seeking back in the DVR window, and a "go to live edge" button that
//! says how far behind the viewer is. While the stream is not live the player asks for the
//! playlist every few seconds and starts when it appears. Every 10 s of playback it tells the
//! server it is still watching and shows the viewer count the server answers.

use leptos::html;
use leptos::prelude::*;
use uuid::Uuid;
#[cfg(feature = "hydrate")]
use wasm_bindgen::JsCast;

/// How far behind the edge (seconds) counts as "live": hls.js keeps two segments back,
/// plus the segment being written and network jitter.
pub const LIVE_WITHIN_SECS: f64 = 5.0;
/// Where "go to live edge" lands, behind the newest playable second.
const EDGE_OFFSET_SECS: f64 = 2.0;
/// How often a page waiting for the stream asks for its playlist.
#[cfg(feature = "hydrate")]
const WAIT_POLL_MS: u32 = 4_000;
/// How often playback says "still watching" (the server counts 30 s windows).
#[cfg(feature = "hydrate")]
const WATCHING_PING_MS: u32 = 10_000;

/// How far behind the live edge `current` is in a seekable window ending at `edge`.
pub fn seconds_behind(current: f64, edge: f64) -> f64 {
    if edge.is_finite() && current.is_finite() {
        (edge - current).max(0.0)
    } else {
        0.0
    }
}

/// The live-edge button's text.
pub fn edge_label(behind: f64) -> String {
    if behind <= LIVE_WITHIN_SECS {
        "Live".to_owned()
    } else {
        format!("Go to live edge ({} behind)", clock(behind))
    }
}

fn clock(seconds: f64) -> String {
    ferrotape_model::time_format::clock(seconds.round() as u64)
}

/// The viewer count as the page reads it.
pub fn viewers_label(viewers: u32) -> String {
    match viewers {
        1 => "1 watching".to_owned(),
        n => format!("{n} watching"),
    }
}

#[component]
pub fn LivePlayer(
    stream: Uuid,
    #[prop(into)] title: String,
    /// `/live/{id}/master.m3u8`.
    #[prop(into)]
    master_url: String,
    /// Live or reconnecting when the page was rendered (otherwise: wait for it).
    live: bool,
    /// The viewer count when the page was rendered.
    viewers: u32,
) -> impl IntoView {
    let video_ref = NodeRef::<html::Video>::new();
    let behind = RwSignal::new(0.0_f64);
    let count = RwSignal::new(viewers);
    let playing = RwSignal::new(false);
    let status = RwSignal::new((!live).then(|| {
        "This stream is not live right now. The player starts by itself when it goes live."
            .to_owned()
    }));
    let edge_of = |video: &web_sys::HtmlVideoElement| {
        let ranges = video.seekable();
        let n = ranges.length();
        if n == 0 {
            return f64::NAN;
        }
        ranges.end(n - 1).unwrap_or(f64::NAN)
    };
    let track_edge = move || {
        if let Some(video) = video_ref.get_untracked() {
            behind.set(seconds_behind(video.current_time(), edge_of(&video)));
        }
    };
    let go_live = move |_| {
        if let Some(video) = video_ref.get_untracked() {
            let edge = edge_of(&video);
            if edge.is_finite() {
                video.set_current_time((edge - EDGE_OFFSET_SECS).max(0.0));
            }
            let _ = video.play();
        }
    };

    #[cfg(feature = "hydrate")]
    browser::start(
        stream,
        master_url.clone(),
        video_ref,
        status,
        count,
        playing,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (stream, &playing);

    view! {
        <div class="live-player" role="region" aria-label=format!("Live video: {title}")>
            <video
                node_ref=video_ref
                class="live-video"
                controls=true
                playsinline=true
                crossorigin="anonymous"
                preload="none"
                aria-label=title.clone()
                on:timeupdate=move |_| track_edge()
                on:progress=move |_| track_edge()
                on:playing=move |_| {
                    playing.set(true);
                    status.set(None);
                }
                on:pause=move |_| playing.set(false)
                on:ended=move |_| {
                    playing.set(false);
                    status.set(Some("The stream has ended.".to_owned()));
                }
            ></video>
            <noscript>
                <p class="player-noscript">"The player needs JavaScript. "
                    <a href=master_url.clone()>"Open the stream"</a>
                    " in a player that plays HLS."</p>
            </noscript>
            <div class="live-bar">
                <button
                    type="button"
                    class="live-edge"
                    data-behind=move || format!("{:.1}", behind.get())
                    aria-pressed=move || (behind.get() <= LIVE_WITHIN_SECS).to_string()
                    on:click=go_live
                >
                    <span class="live-dot" aria-hidden="true"></span>
                    {move || edge_label(behind.get())}
                </button>
                <span class="live-viewers" data-figure="live-viewers" aria-live="polite">
                    {move || viewers_label(count.get())}
                </span>
            </div>
            {move || status.get().map(|message| view! {
                <p class="live-status" role="status">{message}</p>
            })}
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use crate::components::player::Streams;
    use crate::components::player::beacon_wiring::{fetch_with, get, set};
    use crate::components::player::engine::{self, Engine};
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;

    /// A timer as a future (`setTimeout`).
    async fn sleep_ms(ms: u32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let _ =
                window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        });
        let _ = JsFuture::from(promise).await;
    }

    /// The status of a request for `url` (0 when it failed).
    async fn status_of(url: &str, method: &str) -> (u16, JsValue) {
        let init = js_sys::Object::new();
        set(&init, "method", JsValue::from_str(method));
        set(&init, "cache", JsValue::from_str("no-store"));
        set(&init, "credentials", JsValue::from_str("same-origin"));
        match JsFuture::from(fetch_with(url, &init)).await {
            Ok(response) => (
                get(&response, "status").as_f64().unwrap_or(0.0) as u16,
                response,
            ),
            Err(_) => (0, JsValue::UNDEFINED),
        }
    }

    pub fn start(
        stream: Uuid,
        master_url: String,
        video_ref: NodeRef<html::Video>,
        status: RwSignal<Option<String>>,
        count: RwSignal<u32>,
        playing: RwSignal<bool>,
    ) {
        let engine = StoredValue::new_local(None::<Engine>);
        let started = StoredValue::new(false);
        Effect::new(move |_| {
            let Some(element) = video_ref.get() else {
                return;
            };
            if started.get_value() {
                return;
            }
            started.set_value(true);
            let master_url = master_url.clone();
            leptos::task::spawn_local(async move {
                // Wait until the stream has a playlist (it may not be live yet).
                loop {
                    let (code, _) = status_of(&master_url, "GET").await;
                    if code == 200 {
                        break;
                    }
                    sleep_ms(WAIT_POLL_MS).await;
                    if engine.is_disposed() {
                        return;
                    }
                }
                status.set(None);
                let streams = Streams {
                    master_url: master_url.clone(),
                    live: true,
                };
                let levels = RwSignal::new(Vec::new());
                let level = RwSignal::new(None);
                match engine::attach(element.clone(), &streams, 0.0, false, levels, level, None)
                    .await
                {
                    Ok(running) => {
                        engine.set_value(Some(running));
                        // Autoplay is allowed muted only; the viewer unmutes with the controls.
                        element.set_muted(true);
                        let _ = element.play();
                    }
                    Err(message) => status.set(Some(message)),
                }
            });
            let watching = format!("/live/{stream}/watching");
            leptos::task::spawn_local(async move {
                loop {
                    sleep_ms(WATCHING_PING_MS).await;
                    if engine.is_disposed() {
                        return;
                    }
                    if !playing.get_untracked() {
                        continue;
                    }
                    let (code, response) = status_of(&watching, "POST").await;
                    if code != 200 {
                        continue;
                    }
                    let json = get(&response, "json")
                        .dyn_into::<js_sys::Function>()
                        .ok()
                        .and_then(|f| f.call0(&response).ok())
                        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
                    if let Some(promise) = json
                        && let Ok(body) = JsFuture::from(promise).await
                        && let Some(n) = get(&body, "viewers").as_f64()
                    {
                        count.set(n as u32);
                    }
                }
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_button_says_live_near_the_edge_and_how_far_behind_otherwise() {
        assert_eq!(edge_label(seconds_behind(100.0, 103.0)), "Live");
        assert_eq!(
            edge_label(seconds_behind(10.0, 95.0)),
            "Go to live edge (1:25 behind)"
        );
        // Before the stream has a window, nothing is behind.
        assert_eq!(seconds_behind(0.0, f64::NAN), 0.0);
        assert_eq!(seconds_behind(12.0, 10.0), 0.0);
    }

    #[test]
    fn the_viewer_count_reads_as_a_sentence() {
        assert_eq!(viewers_label(1), "1 watching");
        assert_eq!(viewers_label(0), "0 watching");
        assert_eq!(viewers_label(12), "12 watching");
    }
}
