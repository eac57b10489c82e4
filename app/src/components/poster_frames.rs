//! The poster picker: frames of the video as buttons, each posting its time (`at_ms`) to the
//! poster endpoint. Hydrated, the frames are the tiles of the seek-preview sprite sheets (read
//! from the thumbnails track); without JavaScript, a list of times does the same.

use leptos::prelude::*;

use crate::components::player::previews::{Tile, parse_tile};

/// At most this many frames are offered (evenly spread over the video).
const MAX_FRAMES: usize = 24;

/// One frame to offer: when, and its tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub start_ms: u64,
    pub tile: Tile,
}

/// `HH:MM:SS.mmm` or `MM:SS.mmm` (a WebVTT timestamp) in milliseconds.
fn vtt_time(text: &str) -> Option<u64> {
    let (clock, millis) = text.trim().split_once('.')?;
    let millis: u64 = millis.parse().ok()?;
    let mut secs = 0u64;
    for part in clock.split(':') {
        secs = secs * 60 + part.parse::<u64>().ok()?;
    }
    Some(secs * 1000 + millis)
}

/// The cues of a thumbnails track (`start --> end`, then `sheet.jpg#xywh=…`), at most
/// [`MAX_FRAMES`] of them evenly spread; tiles resolve against `track_url`.
pub fn frames_from_vtt(vtt: &str, track_url: &str) -> Vec<Frame> {
    let mut all = Vec::new();
    let mut lines = vtt.lines();
    while let Some(line) = lines.next() {
        let Some((start, _)) = line.split_once("-->") else {
            continue;
        };
        let (Some(start_ms), Some(payload)) = (vtt_time(start), lines.next()) else {
            continue;
        };
        if let Some(tile) = parse_tile(payload, track_url) {
            all.push(Frame { start_ms, tile });
        }
    }
    if all.len() <= MAX_FRAMES {
        return all;
    }
    let step = all.len() as f64 / MAX_FRAMES as f64;
    (0..MAX_FRAMES)
        .map(|i| all[(i as f64 * step) as usize].clone())
        .collect()
}

/// Evenly spread times (ms) over a video, for the list without JavaScript.
fn spread_times(duration_ms: u64) -> Vec<u64> {
    let count = 12u64;
    (0..count).map(|i| duration_ms * i / count).collect()
}

#[component]
pub fn PosterFrames(
    /// The poster endpoint (`POST`, multipart, `at_ms` and `return_to`).
    action: String,
    /// Where the endpoint sends the browser back.
    back: String,
    thumbnails_url: Option<String>,
    duration_ms: Option<u64>,
) -> impl IntoView {
    let frames = RwSignal::new(Vec::<Frame>::new());
    #[cfg(feature = "hydrate")]
    if let Some(url) = thumbnails_url.clone() {
        Effect::new(move |_| {
            let url = url.clone();
            leptos::task::spawn_local(async move {
                if let Some(text) = fetch_text(&url).await {
                    frames.set(frames_from_vtt(&text, &url));
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = &thumbnails_url;
    let Some(duration_ms) = duration_ms.filter(|d| *d > 0) else {
        return ().into_any();
    };
    let times = spread_times(duration_ms);
    let clock = |ms: u64| ferrotape_model::time_format::clock(ms / 1000);
    let (action_grid, back_grid) = (action.clone(), back.clone());
    view! {
        <Show when=move || !frames.with(Vec::is_empty)>
            <form class="frame-form" method="post" action=action_grid.clone() enctype="multipart/form-data">
                <input type="hidden" name="return_to" value=back_grid.clone()/>
                <p class="field-hint" id="frames-hint">"Choose a frame of the video:"</p>
                <ul class="frame-grid" role="list" aria-describedby="frames-hint">
                    {move || frames.get().into_iter().map(|frame| {
                        let Tile { image, x, y, width, height } = frame.tile;
                        let style = format!(
                            "background-image:url('{image}');background-position:-{x}px -{y}px;width:{width}px;height:{height}px"
                        );
                        view! {
                            <li>
                                <button type="submit" name="at_ms" value=frame.start_ms.to_string() class="frame-button">
                                    <span class="frame-image" style=style aria-hidden="true"></span>
                                    <span class="frame-time">
                                        <span class="visually-hidden">"Use the frame at "</span>{clock(frame.start_ms)}
                                    </span>
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </form>
        </Show>
        <form class="upload-form frame-times" method="post" action=action enctype="multipart/form-data">
            <input type="hidden" name="return_to" value=back/>
            <div class="field">
                <label for="poster-at">"A frame at"</label>
                <div class="field-inline">
                    <select id="poster-at" name="at_ms">
                        {times.into_iter().map(|ms| view! { <option value=ms.to_string()>{clock(ms)}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="button small">"Use this frame"</button>
                </div>
            </div>
        </form>
    }
    .into_any()
}

/// GET `url` as text (same origin: the signed thumbnails track).
#[cfg(feature = "hydrate")]
async fn fetch_text(url: &str) -> Option<String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    let xhr = web_sys::XmlHttpRequest::new().ok()?;
    xhr.open("GET", url).ok()?;
    let done = js_sys::Promise::new(&mut |resolve, _reject| {
        let on_done = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        xhr.set_onloadend(Some(on_done.unchecked_ref()));
    });
    xhr.send().ok()?;
    wasm_bindgen_futures::JsFuture::from(done).await.ok()?;
    (xhr.status().ok()? == 200)
        .then(|| xhr.response_text().ok().flatten())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_become_frames_spread_over_the_video() {
        let mut vtt = String::from("WEBVTT\n\n");
        for k in 0..50u32 {
            vtt.push_str(&format!(
                "00:{:02}:{:02}.000 --> 00:{:02}:{:02}.000\nsprite_0.jpg#xywh={},0,160,90\n\n",
                (k * 2) / 60,
                (k * 2) % 60,
                (k * 2 + 2) / 60,
                (k * 2 + 2) % 60,
                k * 160
            ));
        }
        let frames = frames_from_vtt(&vtt, "/media/s/1/sig/t/v/v1/thumbs/thumbs.vtt");
        assert_eq!(frames.len(), MAX_FRAMES);
        assert_eq!(frames[0].start_ms, 0);
        assert!(frames.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
        assert_eq!(
            frames[0].tile.image,
            "/media/s/1/sig/t/v/v1/thumbs/sprite_0.jpg"
        );
        assert!(
            frames_from_vtt(
                "WEBVTT\n\nnonsense --> x\n//evil/x.jpg#xywh=0,0,1,1\n",
                "/a/b.vtt"
            )
            .is_empty()
        );
    }
}
