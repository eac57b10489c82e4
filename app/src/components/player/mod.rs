//! The video player of the watch and embed pages: a `<video>` fed by hls.js (or the browser's
//! own HLS), with controls built here: play/pause, a seek bar showing buffered ranges and
//! thumbnail previews, volume, captions, speed and quality menus, picture-in-picture,
//! fullscreen and YouTube's keyboard shortcuts.
//!
//! Server-rendered with the poster so the page has its final layout at once; everything that
//! moves needs the hydrated app (`body[data-hydrated]` reveals the controls).

#[cfg(feature = "hydrate")]
mod beacon_wiring;
pub mod beacons;
#[cfg(feature = "hydrate")]
mod embed_api;
#[cfg(feature = "hydrate")]
mod engine;
#[cfg(feature = "hydrate")]
mod hls;
pub mod live;
pub mod previews;
mod transcript;

use ferrotape_model::catalog::TranscriptLine;
use ferrotape_model::talk::Chapter;
use ferrotape_model::{PlayableVideo, time_format};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlVideoElement, KeyboardEvent, PointerEvent, TextTrackKind, TextTrackMode};

use previews::{Tile, parse_tile};
use transcript::Transcript;

#[cfg(feature = "hydrate")]
use engine::Engine;

/// On the server there is no engine; the type keeps the handlers the same in both builds.
#[cfg(not(feature = "hydrate"))]
struct Engine;
#[cfg(not(feature = "hydrate"))]
impl Engine {
    fn pin_level(&self, _level: Option<usize>) {}
}

/// Where the build puts hls.js, light build (scripts/build-site.sh copies it from node_modules).
pub const HLS_SCRIPT: &str = "/vendor/hls.light.min.js";

/// For the `<head>` of a page with a player: fetches hls.js alongside the wasm instead of after
/// hydration, so playback can start one download sooner. Low priority, so it never delays the
/// page's own assets (Apple browsers play HLS natively and never run it).
#[component]
pub fn PreloadPlayerEngine() -> impl IntoView {
    view! { <leptos_meta::Link rel="preload" as_="script" href=HLS_SCRIPT fetchpriority="low"/> }
}

/// What the engine needs to start a stream.
#[derive(Debug, Clone)]
pub struct Streams {
    pub master_url: String,
    /// A live stream: hls.js stays close to its edge (`player::live`).
    pub live: bool,
}

/// One rung of the ladder as the quality menu shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityLevel {
    /// hls.js' level index.
    pub index: usize,
    pub height: u32,
    pub bitrate: f64,
}

impl QualityLevel {
    pub fn label(&self) -> String {
        format!("{}p", self.height)
    }
}

/// Playback speeds the speed menu offers.
pub const SPEEDS: [f64; 7] = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0];

/// Label of the hidden metadata track carrying the seek-preview cues.
const THUMBNAILS_LABEL: &str = "thumbnails";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Menu {
    Captions,
    Speed,
    Quality,
}

/// A subtitle or caption track of the `<video>`.
#[derive(Debug, Clone, PartialEq)]
struct CaptionTrack {
    /// Index in `video.textTracks`.
    index: u32,
    label: String,
    /// BCP 47, as the track declares it (`srclang`).
    language: String,
}

/// The captions a viewer last chose, kept in this browser's storage for every talk: a
/// language, or off.
mod caption_preference {
    const KEY: &str = "ferrotape.captions";
    const OFF: &str = "off";

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    /// `None`: never chosen; `Some(None)`: turned off; `Some(Some(language))`.
    pub fn load() -> Option<Option<String>> {
        let value = storage()?.get_item(KEY).ok().flatten()?;
        Some((value != OFF).then_some(value))
    }

    pub fn save(language: Option<&str>) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(KEY, language.unwrap_or(OFF));
        }
    }
}

/// The seek-bar tooltip under the pointer.
#[derive(Debug, Clone, PartialEq)]
struct Preview {
    percent: f64,
    time: f64,
    tile: Option<Tile>,
}

/// SVG paths of the control icons (24×24, filled with the text colour). Inline SVG, not emoji:
/// emoji fonts are missing on many systems.
mod icon {
    pub const PLAY: &str = "M8 5v14l11-7z";
    pub const PAUSE: &str = "M6 5h4v14H6zm8 0h4v14h-4z";
    pub const VOLUME: &str = "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.47 4.47 0 0 0 2.5-4zM14 3.23v2.06a7 7 0 0 1 0 13.42v2.06a9 9 0 0 0 0-17.54z";
    pub const MUTED: &str = "M3 9v6h4l5 5V4L7 9H3zm12.5.5 1.4-1.4 2.1 2.1 2.1-2.1 1.4 1.4-2.1 2.1 2.1 2.1-1.4 1.4-2.1-2.1-2.1 2.1-1.4-1.4 2.1-2.1z";
    pub const FULLSCREEN: &str =
        "M4 4h6v2H6v4H4zm10 0h6v6h-2V6h-4zM4 14h2v4h4v2H4zm14 0h2v6h-6v-2h4z";
    pub const PIP: &str = "M3 5h18v14H3zm2 2v10h14V7zm6 4h7v5h-7z";
}

fn icon_view(path: &'static str) -> impl IntoView {
    view! {
        <svg class="player-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d=path fill="currentColor"/>
        </svg>
    }
}

fn speed_label(rate: f64) -> String {
    if rate == 1.0 {
        "Normal".to_owned()
    } else {
        format!("{rate}×")
    }
}

fn finite_or_zero(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

#[component]
pub fn Player(
    video: PlayableVideo,
    /// The talk's title, for labels.
    #[prop(into)]
    title: String,
    /// Known before the stream loads, so the seek bar and time have their size at once.
    duration_hint: Option<u64>,
    /// Where to start (`?t=`), in seconds.
    #[prop(optional)]
    start_at: Option<u64>,
    /// Kept at the current position (the share dialog reads it).
    #[prop(optional)]
    position: Option<RwSignal<f64>>,
    /// Inside `/embed/{id}`: answer the postMessage API and post events to the parent.
    #[prop(optional)]
    embedded: bool,
    /// Start playing at once, muted (browsers only allow muted autoplay).
    #[prop(optional)]
    autoplay_muted: bool,
    /// The talk's chapters: marks on the seek bar, names in the seek preview and the seek
    /// bar's spoken value, and (outside embeds) a list under the player that seeks.
    #[prop(optional)]
    chapters: Vec<Chapter>,
    /// The talk's transcript: a panel under the player (outside embeds) whose lines seek.
    #[prop(optional)]
    transcript: Vec<TranscriptLine>,
    /// The talk whose views this player reports (`beacons`, `POST /api/v1/events`); without
    /// it (the studio's previews) it reports nothing.
    #[prop(default = None)]
    talk: Option<uuid::Uuid>,
) -> impl IntoView {
    let video_ref = NodeRef::<html::Video>::new();
    let player_ref = NodeRef::<html::Div>::new();
    let seek_ref = NodeRef::<html::Div>::new();

    let playing = RwSignal::new(false);
    let started = RwSignal::new(false);
    let waiting = RwSignal::new(false);
    let current = RwSignal::new(start_at.unwrap_or(0) as f64);
    let duration = RwSignal::new(duration_hint.unwrap_or(0) as f64);
    // While the video still transcodes: where what exists ends (seeking stops there). It grows
    // with the stream's seekable range as the playlists do.
    let available = RwSignal::new(
        video
            .processing
            .then(|| video.available_seconds.unwrap_or(0) as f64),
    );
    let buffered = RwSignal::new(Vec::<(f64, f64)>::new());
    let volume = RwSignal::new(1.0_f64);
    let muted = RwSignal::new(autoplay_muted);
    let rate = RwSignal::new(1.0_f64);
    let levels = RwSignal::new(Vec::<QualityLevel>::new());
    let playing_level = RwSignal::new(None::<usize>);
    let pinned_level = RwSignal::new(None::<usize>);
    let captions = RwSignal::new(Vec::<CaptionTrack>::new());
    let active_caption = RwSignal::new(None::<u32>);
    let last_caption = RwSignal::new(None::<u32>);
    let menu = RwSignal::new(None::<Menu>);
    let fullscreen = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // Where playback picked up from the viewer's library ("Resuming at 12:34 · Start over").
    let resumed = RwSignal::new(None::<u64>);
    let preview = RwSignal::new(None::<Preview>);
    // The engine holds JS objects, so in the browser it lives in thread-local storage. On the
    // server a local value would be dropped on whichever worker thread finishes the render and
    // panic there; the server's stand-in engine is plain data.
    #[cfg(feature = "hydrate")]
    let engine = StoredValue::new_local(None::<Engine>);
    #[cfg(not(feature = "hydrate"))]
    let engine = StoredValue::new(None::<Engine>);
    // The view beacons; dropped with the player (which exits its view).
    #[cfg(feature = "hydrate")]
    let beacons = StoredValue::new_local(None::<beacon_wiring::Beacons>);
    // The view exits while the engine still plays: the owner drops the engine first, and
    // hls.js' `destroy` resets the element (its position to 0, a `pause`).
    #[cfg(feature = "hydrate")]
    on_cleanup(move || {
        let _ = beacons.try_update_value(Option::take);
    });

    let thumbnails_url = video.thumbnails_url.clone();
    let element = move || -> Option<HtmlVideoElement> { video_ref.get_untracked() };

    // --- Actions -------------------------------------------------------------------------
    let toggle_play = move || {
        if let Some(video) = element() {
            if video.paused() || video.ended() {
                let _ = video.play();
            } else {
                let _ = video.pause();
            }
        }
    };
    let seek_to = move |seconds: f64| {
        if let Some(video) = element() {
            let mut end = finite_or_zero(video.duration()).max(duration.get_untracked());
            if let Some(available) = available.get_untracked() {
                end = end.min(available);
            }
            let target = if end > 0.0 {
                seconds.clamp(0.0, end)
            } else {
                seconds.max(0.0)
            };
            video.set_current_time(target);
            current.set(target);
        }
    };
    let seek_by = move |delta: f64| {
        if let Some(video) = element() {
            seek_to(video.current_time() + delta);
        }
    };
    let set_volume = move |value: f64| {
        if let Some(video) = element() {
            video.set_volume(value.clamp(0.0, 1.0));
            if value > 0.0 {
                video.set_muted(false);
            }
        }
    };
    let toggle_mute = move || {
        if let Some(video) = element() {
            video.set_muted(!video.muted());
        }
    };
    let set_rate = move |value: f64| {
        if let Some(video) = element() {
            video.set_playback_rate(value);
        }
    };
    let refresh_captions = move || {
        let Some(video) = element() else { return };
        let tracks = video.text_tracks();
        let Some(tracks) = tracks else { return };
        let mut list = Vec::new();
        let mut showing = None;
        for index in 0..tracks.length() {
            let Some(track) = tracks.get(index) else {
                continue;
            };
            match track.kind() {
                TextTrackKind::Subtitles | TextTrackKind::Captions => {
                    let label = match (track.label(), track.language()) {
                        (label, _) if !label.is_empty() => label,
                        (_, language) if !language.is_empty() => language,
                        _ => format!("Track {}", list.len() + 1),
                    };
                    if track.mode() == TextTrackMode::Showing {
                        showing = Some(index);
                    }
                    list.push(CaptionTrack {
                        index,
                        label,
                        language: track.language(),
                    });
                }
                // Cues load only for tracks that are at least hidden.
                TextTrackKind::Metadata
                    if track.label() == THUMBNAILS_LABEL
                        && track.mode() == TextTrackMode::Disabled =>
                {
                    track.set_mode(TextTrackMode::Hidden);
                }
                _ => {}
            }
        }
        // The viewer's last choice, in this browser, for every talk: the same language again.
        let preferred = caption_preference::load();
        if showing.is_none()
            && let Some(Some(language)) = preferred.as_ref()
            && let Some(track) = list.iter().find(|t| &t.language == language)
            && let Some(text_track) = tracks.get(track.index)
        {
            text_track.set_mode(TextTrackMode::Showing);
            showing = Some(track.index);
        }
        captions.set(list);
        active_caption.set(showing);
        if showing.is_some() {
            last_caption.set(showing);
        }
    };
    let choose_caption = move |choice: Option<u32>| {
        let Some(tracks) = element().and_then(|v| v.text_tracks()) else {
            return;
        };
        for CaptionTrack { index, .. } in captions.get_untracked() {
            if let Some(track) = tracks.get(index) {
                track.set_mode(if Some(index) == choice {
                    TextTrackMode::Showing
                } else {
                    TextTrackMode::Disabled
                });
            }
        }
        active_caption.set(choice);
        if choice.is_some() {
            last_caption.set(choice);
        }
        let language = choice.and_then(|index| {
            captions.with_untracked(|c| {
                c.iter()
                    .find(|t| t.index == index)
                    .map(|t| t.language.clone())
            })
        });
        caption_preference::save(language.as_deref());
    };
    let toggle_captions = move || {
        if active_caption.get_untracked().is_some() {
            choose_caption(None);
        } else {
            let first = captions.with_untracked(|c| c.first().map(|t| t.index));
            if let Some(track) = last_caption.get_untracked().or(first) {
                choose_caption(Some(track));
            }
        }
    };
    let pin_level = move |level: Option<usize>| {
        pinned_level.set(level);
        engine.with_value(|engine| {
            if let Some(engine) = engine {
                engine.pin_level(level);
            }
        });
    };
    let toggle_fullscreen = move || {
        let document = document();
        if document.fullscreen_element().is_some() {
            document.exit_fullscreen();
        } else if let Some(player) = player_ref.get_untracked() {
            let _ = player.request_fullscreen();
        }
    };
    let pip_supported = RwSignal::new(false);
    let toggle_pip = move || {
        let Some(video) = element() else { return };
        let document = document();
        let call = |target: &JsValue, method: &str| {
            if let Ok(function) = js_sys::Reflect::get(target, &method.into())
                && let Some(function) = function.dyn_ref::<js_sys::Function>()
            {
                let _ = function.call0(target);
            }
        };
        let in_pip = js_sys::Reflect::get(&document, &"pictureInPictureElement".into())
            .map(|e| !e.is_null() && !e.is_undefined())
            .unwrap_or(false);
        if in_pip {
            call(&document, "exitPictureInPicture");
        } else {
            call(&video, "requestPictureInPicture");
        }
    };
    let tile_at = move |time: f64| -> Option<Tile> {
        let url = thumbnails_url.as_deref()?;
        let tracks = element()?.text_tracks()?;
        let track = (0..tracks.length())
            .filter_map(|i| tracks.get(i))
            .find(|t| t.kind() == TextTrackKind::Metadata && t.label() == THUMBNAILS_LABEL)?;
        let cues = track.cues()?;
        (0..cues.length())
            .filter_map(|i| cues.get(i))
            .find(|cue| cue.start_time() <= time && time < cue.end_time())
            .and_then(|cue| cue.dyn_into::<web_sys::VttCue>().ok())
            .and_then(|cue| parse_tile(&cue.text(), url))
    };

    // --- Media events ----------------------------------------------------------------------
    let sync_time = move || {
        let Some(video) = element() else { return };
        let now = video.current_time();
        current.set(now);
        if let Some(position) = position {
            position.set(now);
        }
        if resumed
            .get_untracked()
            .is_some_and(|at| now > at as f64 + 10.0)
        {
            resumed.set(None);
        }
        let end = finite_or_zero(video.duration());
        if let Some(known) = available.get_untracked() {
            // A growing stream's duration is what exists so far: the talk's length stays the
            // bar's length, and the seekable end says how far one may go.
            let seekable = video.seekable();
            let reachable = (0..seekable.length())
                .filter_map(|i| seekable.end(i).ok())
                .map(finite_or_zero)
                .fold(end, f64::max);
            if reachable > known {
                available.set(Some(reachable));
            }
            if end > duration.get_untracked() {
                duration.set(end);
            }
        } else if end > 0.0 {
            duration.set(end);
        }
        let ranges = video.buffered();
        let list = (0..ranges.length())
            .filter_map(|i| Some((ranges.start(i).ok()?, ranges.end(i).ok()?)))
            .collect();
        buffered.set(list);
    };
    #[allow(unused_variables)]
    let announce = move |event: &str| {
        #[cfg(feature = "hydrate")]
        if embedded && let Some(video) = element() {
            embed_api::post_event(&video, event);
        }
    };

    // --- Start the engine once the element exists (browser only) -------------------------
    #[cfg(feature = "hydrate")]
    {
        let streams = Streams {
            master_url: video.master_url.clone(),
            live: false,
        };
        let attached = StoredValue::new(false);
        Effect::new(move |_| {
            let Some(element) = video_ref.get() else {
                return;
            };
            if attached.get_value() {
                return;
            }
            attached.set_value(true);
            pip_supported.set(
                js_sys::Reflect::get(&document(), &"pictureInPictureEnabled".into())
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            );
            if let Some(tracks) = element.text_tracks() {
                let on_change =
                    wasm_bindgen::closure::Closure::<dyn FnMut()>::new(refresh_captions);
                tracks.set_onaddtrack(Some(on_change.as_ref().unchecked_ref()));
                tracks.set_onchange(Some(on_change.as_ref().unchecked_ref()));
                on_change.forget();
            }
            refresh_captions();
            if embedded {
                embed_api::listen(element.clone());
            }
            if let Some(talk) = talk {
                beacons.set_value(Some(beacon_wiring::Beacons::start(
                    element.clone(),
                    talk,
                    embedded,
                )));
            }
            let reports = beacons.with_value(|b| b.as_ref().map(|b| b.engine_reports()));
            let streams = streams.clone();
            // `?t=` arrives as a prop; `#t=` never reaches the server, so it is read here.
            let from_hash = || {
                let hash = window().location().hash().ok()?;
                time_format::parse_start_time(hash.strip_prefix("#t=")?)
            };
            let mut start = start_at.filter(|s| *s > 0).or_else(from_hash).unwrap_or(0) as f64;
            if let Some(available) = available.get_untracked() {
                start = start.min(available);
            }
            // A growing stream plays from `start`, never from its live edge.
            let from_start = available.get_untracked().is_some();
            // Without `?t=`/`#t=`, the watch page picks up where this viewer stopped (their
            // library), asked while hls.js downloads. A browser without a viewer id has
            // played nothing here, so it has nothing to resume.
            let resume = talk
                .filter(|_| start == 0.0 && !embedded)
                .zip(crate::components::viewer_identity::stored_viewer_id());
            leptos::task::spawn_local(async move {
                let mut start = start;
                if let Some((talk, viewer)) = resume {
                    let (progress, ()) = futures::join!(
                        crate::api::library::load_talk_progress(
                            talk.to_string(),
                            Some(viewer.to_string())
                        ),
                        engine::preload(&element),
                    );
                    if let Some(at) = progress.ok().and_then(|p| p.resume_seconds) {
                        let at = available
                            .get_untracked()
                            .map_or(at as f64, |a| a.min(at as f64));
                        // A place at or past the end of the video served now (it was replaced
                        // by a shorter one) is no place to resume.
                        let length = duration.get_untracked();
                        let past_end = length > 0.0
                            && at >= length * ferrotape_model::library::WATCHED_FRACTION;
                        if at > 0.0 && !past_end {
                            start = at;
                            current.set(at);
                            resumed.set(Some(at as u64));
                        }
                    }
                }
                match engine::attach(
                    element.clone(),
                    &streams,
                    start,
                    from_start,
                    levels,
                    playing_level,
                    reports,
                )
                .await
                {
                    Ok(running) => {
                        engine.set_value(Some(running));
                        if autoplay_muted {
                            let _ = beacons.try_with_value(|b| {
                                if let Some(b) = b {
                                    b.expect_autoplay();
                                }
                            });
                            element.set_muted(true);
                            let _ = element.play();
                        }
                    }
                    Err(message) => error.set(Some(message)),
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (
        talk,
        &engine,
        &levels,
        &playing_level,
        autoplay_muted,
        &pip_supported,
    );

    // --- Keyboard shortcuts (YouTube's) ------------------------------------------------------
    let on_keydown = move |event: KeyboardEvent| {
        if event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        let tag = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .map(|e| e.tag_name())
            .unwrap_or_default();
        let in_control = matches!(tag.as_str(), "INPUT" | "SELECT" | "TEXTAREA");
        let on_button = tag == "BUTTON";
        let key = event.key();
        match key.as_str() {
            " " if !in_control && !on_button => toggle_play(),
            "k" | "K" => toggle_play(),
            "j" | "J" => seek_by(-10.0),
            "l" | "L" => seek_by(10.0),
            "ArrowLeft" if !in_control => seek_by(-5.0),
            "ArrowRight" if !in_control => seek_by(5.0),
            "ArrowUp" if !in_control => set_volume(volume.get_untracked() + 0.05),
            "ArrowDown" if !in_control => set_volume(volume.get_untracked() - 0.05),
            "f" | "F" => toggle_fullscreen(),
            "m" | "M" => toggle_mute(),
            "c" | "C" => toggle_captions(),
            "Escape" if menu.get_untracked().is_some() => menu.set(None),
            digit if digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit() => {
                let tenth = f64::from(digit.as_bytes()[0] - b'0');
                seek_to(duration.get_untracked() * tenth / 10.0);
            }
            _ => return,
        }
        event.prevent_default();
    };

    // --- Seek previews -----------------------------------------------------------------------
    let on_seek_hover = move |event: PointerEvent| {
        let Some(bar) = seek_ref.get_untracked() else {
            return;
        };
        let rect = bar.get_bounding_client_rect();
        if rect.width() <= 0.0 {
            return;
        }
        let fraction = ((f64::from(event.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0);
        let time = fraction * duration.get_untracked();
        preview.set(Some(Preview {
            percent: fraction * 100.0,
            time,
            tile: tile_at(time),
        }));
    };

    // --- View ----------------------------------------------------------------------------
    let (ratio_w, ratio_h) = video.aspect_ratio();
    let player_style = format!("--player-aspect: {ratio_w} / {ratio_h};");
    let percent_of = move |seconds: f64| {
        let end = duration.get();
        if end > 0.0 {
            (seconds / end * 100.0).clamp(0.0, 100.0)
        } else {
            0.0
        }
    };
    let time_text = move || {
        format!(
            "{} / {}",
            time_format::clock(current.get() as u64),
            time_format::clock(duration.get() as u64)
        )
    };
    let chapters = StoredValue::new(chapters);
    let seek_valuetext = move || {
        let at = format!(
            "{} of {}",
            time_format::spoken(current.get() as u64),
            time_format::spoken(duration.get() as u64)
        );
        match chapters.with_value(|c| chapter_at(c, current.get()).map(|c| c.title.clone())) {
            Some(title) => format!("{at}, chapter: {title}"),
            None => at,
        }
    };
    let chapter_marks = move || {
        chapters.with_value(|list| {
            list.iter()
                .filter(|c| c.start_ms > 0)
                .map(|c| {
                    let style = format!("left: {:.3}%;", percent_of(c.start_ms as f64 / 1000.0));
                    view! { <span class="player-chapter-mark" style=style></span> }
                })
                .collect_view()
        })
    };
    let chapter_list = (!embedded && chapters.with_value(|c| !c.is_empty())).then(|| {
        let items = chapters.with_value(|list| {
            list.iter()
                .map(|chapter| {
                    let secs = chapter.start_ms / 1000;
                    let start_ms = chapter.start_ms;
                    let title = chapter.title.clone();
                    let is_current = move || {
                        chapters.with_value(|c| {
                            chapter_at(c, current.get()).is_some_and(|now| now.start_ms == start_ms)
                        })
                    };
                    view! {
                        <li>
                            <a
                                href=format!("?t={}", time_format::share_time(secs))
                                aria-current=move || is_current().then_some("true")
                                on:click=move |event| {
                                    event.prevent_default();
                                    seek_to(secs as f64);
                                    if let Some(video) = element() && video.paused() {
                                        let _ = video.play();
                                    }
                                }
                            >
                                <time class="chapter-time">{time_format::clock(secs)}</time>
                                <span class="chapter-title">{title}</span>
                            </a>
                        </li>
                    }
                })
                .collect_view()
        });
        view! {
            <nav class="chapters" aria-label="Chapters">
                <h2 class="chapters-heading">"Chapters"</h2>
                <ol class="chapter-list">{items}</ol>
            </nav>
        }
    });
    let quality_label = move || match pinned_level.get() {
        Some(index) => levels
            .with(|l| l.iter().find(|q| q.index == index).map(QualityLevel::label))
            .unwrap_or_else(|| "Auto".to_owned()),
        None => match playing_level
            .get()
            .and_then(|i| levels.with(|l| l.iter().find(|q| q.index == i).map(QualityLevel::label)))
        {
            Some(now) => format!("Auto ({now})"),
            None => "Auto".to_owned(),
        },
    };
    let toggle_menu = move |which: Menu| {
        menu.update(|open| {
            *open = if *open == Some(which) {
                None
            } else {
                Some(which)
            }
        });
    };
    let title_for_label = title.clone();

    view! {
        <div
            class="player"
            node_ref=player_ref
            style=player_style
            tabindex="0"
            role="region"
            aria-label=format!("Video player: {title_for_label}")
            data-playing=move || playing.get().to_string()
            data-started=move || started.get().to_string()
            data-embedded=embedded.to_string()
            on:keydown=on_keydown
            on:fullscreenchange=move |_| fullscreen.set(document().fullscreen_element().is_some())
        >
            <video
                node_ref=video_ref
                class="player-video"
                poster=video.poster_url.clone()
                preload="metadata"
                playsinline=true
                crossorigin="anonymous"
                muted=autoplay_muted
                aria-label=title.clone()
                on:click=move |_| {
                    toggle_play();
                    if let Some(player) = player_ref.get_untracked() {
                        let _ = player.focus();
                    }
                }
                on:play=move |_| {
                    playing.set(true);
                    started.set(true);
                    announce("play");
                }
                on:pause=move |_| {
                    playing.set(false);
                    announce("pause");
                }
                on:ended=move |_| {
                    playing.set(false);
                    announce("ended");
                }
                on:timeupdate=move |_| {
                    sync_time();
                    announce("timeupdate");
                }
                on:progress=move |_| sync_time()
                on:durationchange=move |_| sync_time()
                on:loadedmetadata=move |_| {
                    sync_time();
                    refresh_captions();
                    announce("ready");
                }
                on:seeked=move |_| sync_time()
                on:waiting=move |_| waiting.set(true)
                on:playing=move |_| waiting.set(false)
                on:canplay=move |_| waiting.set(false)
                on:volumechange=move |_| {
                    if let Some(video) = element() {
                        volume.set(video.volume());
                        muted.set(video.muted());
                    }
                }
                on:ratechange=move |_| {
                    if let Some(video) = element() {
                        rate.set(video.playback_rate());
                    }
                }
                on:error=move |_| {
                    if error.get_untracked().is_none() {
                        error.set(Some("The video could not be played.".to_owned()));
                    }
                }
            >
                {video.thumbnails_url.clone().map(|src| view! {
                    <track kind="metadata" label=THUMBNAILS_LABEL src=src default=true/>
                })}
                {video.captions.iter().map(|track| view! {
                    <track kind="subtitles" srclang=track.language.clone()
                        label=track.label.clone() src=track.url.clone()/>
                }).collect_view()}
            </video>
            <noscript>
                <p class="player-noscript">"The player needs JavaScript. "
                    <a href=video.master_url.clone()>"Open the stream"</a>
                    " in a player that plays HLS."</p>
            </noscript>
            <Show when=move || waiting.get() && error.get().is_none()>
                <div class="player-spinner" role="status" aria-label="Loading"></div>
            </Show>
            {move || error.get().map(|message| view! {
                <p class="player-error" role="alert">{message}</p>
            })}
            {move || resumed.get().map(|at| view! {
                <p class="player-resumed" role="status">
                    "Resuming at " {time_format::clock(at)} " · "
                    <button type="button" class="link-button" on:click=move |_| {
                        resumed.set(None);
                        seek_to(0.0);
                    }>"Start over"</button>
                </p>
            })}
            <button
                type="button"
                class="player-big-play"
                aria-label=format!("Play {title}")
                on:click=move |_| toggle_play()
                hidden=move || started.get()
            >
                {icon_view(icon::PLAY)}
            </button>
            <div class="player-controls">
                <div
                    class="player-seek"
                    node_ref=seek_ref
                    on:pointermove=on_seek_hover
                    on:pointerleave=move |_| preview.set(None)
                >
                    <div class="player-buffered" aria-hidden="true">
                        {move || buffered.get().into_iter().map(|(start, end)| {
                            let style = format!("left: {:.3}%; width: {:.3}%;", percent_of(start), (percent_of(end) - percent_of(start)).max(0.0));
                            view! { <span style=style></span> }
                        }).collect_view()}
                    </div>
                    <div class="player-played" aria-hidden="true"
                        style=move || format!("width: {:.3}%;", percent_of(current.get()))></div>
                    <div class="player-chapter-marks" aria-hidden="true">{chapter_marks}</div>
                    {move || available.get().map(|end| view! {
                        <div class="player-unavailable" aria-hidden="true"
                            style=format!("left: {:.3}%;", percent_of(end))></div>
                    })}
                    <input
                        type="range"
                        class="player-seek-input"
                        aria-label="Seek"
                        min="0"
                        step="any"
                        max=move || duration.get().max(0.0).to_string()
                        prop:value=move || current.get().to_string()
                        aria-valuetext=seek_valuetext
                        on:input=move |event| {
                            if let Ok(seconds) = event_target_value(&event).parse::<f64>() {
                                seek_to(seconds);
                            }
                        }
                    />
                    {move || preview.get().map(|p| {
                        let image = p.tile.as_ref().map(|tile| {
                            let style = format!(
                                "background-image: url(\"{}\"); background-position: -{}px -{}px; width: {}px; height: {}px;",
                                tile.image, tile.x, tile.y, tile.width, tile.height
                            );
                            view! { <div class="player-preview-image" style=style></div> }
                        });
                        view! {
                            <div class="player-preview" aria-hidden="true" style=format!("left: {:.3}%;", p.percent)>
                                {image}
                                {chapters.with_value(|c| chapter_at(c, p.time).map(|c| c.title.clone())).map(|title| view! {
                                    <span class="player-preview-chapter">{title}</span>
                                })}
                                <span class="player-preview-time">{time_format::clock(p.time as u64)}</span>
                            </div>
                        }
                    })}
                </div>
                <div class="player-bar">
                    <button type="button" class="player-button" on:click=move |_| toggle_play()
                        aria-label=move || if playing.get() { "Pause (k)" } else { "Play (k)" }>
                        {move || icon_view(if playing.get() { icon::PAUSE } else { icon::PLAY })}
                    </button>
                    <button type="button" class="player-button player-skip" on:click=move |_| seek_by(-10.0)
                        aria-label="Back 10 seconds (j)"><span aria-hidden="true">"↺10"</span></button>
                    <button type="button" class="player-button player-skip" on:click=move |_| seek_by(10.0)
                        aria-label="Forward 10 seconds (l)"><span aria-hidden="true">"10↻"</span></button>
                    <div class="player-volume">
                        <button type="button" class="player-button" on:click=move |_| toggle_mute()
                            aria-label=move || if muted.get() { "Unmute (m)" } else { "Mute (m)" }>
                            {move || icon_view(if muted.get() || volume.get() == 0.0 { icon::MUTED } else { icon::VOLUME })}
                        </button>
                        <input type="range" class="player-volume-input" aria-label="Volume"
                            min="0" max="1" step="0.05"
                            prop:value=move || if muted.get() { "0".to_owned() } else { volume.get().to_string() }
                            aria-valuetext=move || format!("{}%", if muted.get() { 0 } else { (volume.get() * 100.0).round() as u32 })
                            on:input=move |event| {
                                if let Ok(value) = event_target_value(&event).parse::<f64>() {
                                    set_volume(value);
                                }
                            }
                        />
                    </div>
                    <span class="player-time" aria-live="off">{time_text}</span>
                    <span class="player-spacer"></span>
                    <div class="player-menu-wrap">
                        <button type="button" class="player-button" aria-haspopup="true"
                            aria-controls="player-captions-menu"
                            aria-expanded=move || (menu.get() == Some(Menu::Captions)).to_string()
                            on:click=move |_| toggle_menu(Menu::Captions)>
                            <span aria-hidden="true">"CC"</span>
                            <span class="visually-hidden">{move || format!("Captions: {} (c)", active_caption.get().and_then(|i| captions.with(|c| c.iter().find(|t| t.index == i).map(|t| t.label.clone()))).unwrap_or_else(|| "off".to_owned()))}</span>
                        </button>
                        <Show when=move || menu.get() == Some(Menu::Captions)>
                            <fieldset class="player-menu" id="player-captions-menu">
                                <legend>"Captions"</legend>
                                <label>
                                    <input type="radio" name="player-captions"
                                        prop:checked=move || active_caption.get().is_none()
                                        on:change=move |_| choose_caption(None)/>
                                    "Off"
                                </label>
                                {move || captions.get().into_iter().map(|track| {
                                    let index = track.index;
                                    view! {
                                        <label>
                                            <input type="radio" name="player-captions"
                                                prop:checked=move || active_caption.get() == Some(index)
                                                on:change=move |_| choose_caption(Some(index))/>
                                            {track.label}
                                        </label>
                                    }
                                }).collect_view()}
                                <Show when=move || captions.with(Vec::is_empty)>
                                    <p class="player-menu-note">"This talk has no captions yet."</p>
                                </Show>
                            </fieldset>
                        </Show>
                    </div>
                    <div class="player-menu-wrap">
                        <button type="button" class="player-button" aria-haspopup="true"
                            aria-controls="player-speed-menu"
                            aria-expanded=move || (menu.get() == Some(Menu::Speed)).to_string()
                            on:click=move |_| toggle_menu(Menu::Speed)>
                            <span aria-hidden="true">{move || format!("{}×", rate.get())}</span>
                            <span class="visually-hidden">{move || format!("Speed: {}", speed_label(rate.get()))}</span>
                        </button>
                        <Show when=move || menu.get() == Some(Menu::Speed)>
                            <fieldset class="player-menu" id="player-speed-menu">
                                <legend>"Speed"</legend>
                                {SPEEDS.into_iter().map(|speed| view! {
                                    <label>
                                        <input type="radio" name="player-speed"
                                            prop:checked=move || rate.get() == speed
                                            on:change=move |_| set_rate(speed)/>
                                        {speed_label(speed)}
                                    </label>
                                }).collect_view()}
                            </fieldset>
                        </Show>
                    </div>
                    <div class="player-menu-wrap">
                        <button type="button" class="player-button player-quality-button" aria-haspopup="true"
                            aria-controls="player-quality-menu"
                            aria-expanded=move || (menu.get() == Some(Menu::Quality)).to_string()
                            aria-label=move || format!("Quality: {}", quality_label())
                            on:click=move |_| toggle_menu(Menu::Quality)>
                            <span aria-hidden="true">{quality_label}</span>
                        </button>
                        <Show when=move || menu.get() == Some(Menu::Quality)>
                            <fieldset class="player-menu" id="player-quality-menu">
                                <legend>"Quality"</legend>
                                <label>
                                    <input type="radio" name="player-quality" value="auto"
                                        prop:checked=move || pinned_level.get().is_none()
                                        on:change=move |_| pin_level(None)/>
                                    {move || match playing_level.get().and_then(|i| levels.with(|l| l.iter().find(|q| q.index == i).map(QualityLevel::label))) {
                                        Some(now) => format!("Auto ({now})"),
                                        None => "Auto".to_owned(),
                                    }}
                                </label>
                                {move || {
                                    let mut rungs = levels.get();
                                    rungs.sort_by(|a, b| b.height.cmp(&a.height).then(b.bitrate.total_cmp(&a.bitrate)));
                                    rungs.into_iter().map(|level| {
                                        let index = level.index;
                                        view! {
                                            <label>
                                                <input type="radio" name="player-quality" value=level.label()
                                                    prop:checked=move || pinned_level.get() == Some(index)
                                                    on:change=move |_| pin_level(Some(index))/>
                                                {level.label()}
                                                <span class="player-menu-note">{format!(" {:.1} Mb/s", level.bitrate / 1_000_000.0)}</span>
                                            </label>
                                        }
                                    }).collect_view()
                                }}
                                <Show when=move || levels.with(Vec::is_empty)>
                                    <p class="player-menu-note">"This browser picks the quality itself."</p>
                                </Show>
                            </fieldset>
                        </Show>
                    </div>
                    <Show when=move || pip_supported.get()>
                        <button type="button" class="player-button player-pip-button" on:click=move |_| toggle_pip()
                            aria-label="Picture in picture">
                            {icon_view(icon::PIP)}
                        </button>
                    </Show>
                    <button type="button" class="player-button" on:click=move |_| toggle_fullscreen()
                        aria-label=move || if fullscreen.get() { "Exit full screen (f)" } else { "Full screen (f)" }>
                        {icon_view(icon::FULLSCREEN)}
                    </button>
                </div>
            </div>
        </div>
        {chapter_list}
        {(!embedded && !transcript.is_empty()).then(|| {
            let seek = Callback::new(move |seconds: f64| {
                seek_to(seconds);
                if let Some(video) = element() && video.paused() {
                    let _ = video.play();
                }
            });
            view! { <Transcript lines=transcript current seek/> }
        })}
    }
}

/// The chapter playing at `seconds`: the last one starting at or before it.
fn chapter_at(chapters: &[Chapter], seconds: f64) -> Option<&Chapter> {
    let at_ms = (seconds.max(0.0) * 1000.0) as u64;
    chapters.iter().take_while(|c| c.start_ms <= at_ms).last()
}
