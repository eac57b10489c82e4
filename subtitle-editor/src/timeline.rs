//! The timeline: the waveform on a canvas, a time ruler, the cues inside the visible window as
//! blocks, the playhead. Blocks move and trim by dragging (pointer events, snapping to word
//! boundaries and the neighbouring cues unless Alt is held); during a drag only the dragged
//! block's element changes, and the cue is committed once when the pointer is released.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use ferrotape_model::subtitles::{Cue, CueWarning, Word, snap_time};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::editor::{Ed, LOW_PROBABILITY, format_ms, playhead_ms, seek_ms, set_times, video};

/// Pixels within which a dragged edge snaps.
const SNAP_PX: f64 = 8.0;
/// The most blocks drawn at once; zoomed out further, blocks thinner than a pixel are merged
/// by the eye anyway and only every n-th is drawn.
const MAX_BLOCKS: usize = 800;
const HEIGHT: f64 = 96.0;
/// Peaks per second in `waveform.json`.
const DEFAULT_RATE: f64 = 100.0;

/// The playhead's animation-frame callback, which schedules itself again.
type FrameLoop = Rc<RefCell<Option<Closure<dyn FnMut()>>>>;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Move,
    Start,
    End,
}

struct Drag {
    index: usize,
    mode: Mode,
    origin_x: f64,
    start: u64,
    end: u64,
    new_start: u64,
    new_end: u64,
    element: web_sys::HtmlElement,
    neighbours: Vec<Cue>,
    words: Vec<Word>,
    moved: bool,
}

#[derive(Clone, PartialEq)]
struct Block {
    index: usize,
    start: u64,
    end: u64,
    text: String,
    warned: bool,
    uncertain: bool,
}

/// The indices of the cues overlapping `[from, to)`, in order (cues are in display order).
fn visible_range(cues: &[Cue], from: f64, to: f64) -> Vec<usize> {
    let mut first = cues.partition_point(|c| (c.start_ms as f64) < from);
    // Cues that start before the window may still reach into it.
    let mut back = 0;
    while first > 0 && back < 50 {
        if cues[first - 1].end_ms as f64 > from {
            back = 0;
        } else {
            back += 1;
        }
        first -= 1;
    }
    (first..cues.len())
        .take_while(|&i| (cues[i].start_ms as f64) < to)
        .filter(|&i| cues[i].end_ms as f64 > from)
        .collect()
}

fn tick_step(ms_per_px: f64) -> f64 {
    const STEPS: [f64; 12] = [
        100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0, 30_000.0, 60_000.0, 120_000.0,
        300_000.0, 600_000.0,
    ];
    STEPS
        .into_iter()
        .find(|s| s / ms_per_px >= 90.0)
        .unwrap_or(1_800_000.0)
}

fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    peaks: &[u8],
    rate: f64,
    view_start: f64,
    ms_per_px: f64,
    width: f64,
) {
    let ratio = web_sys::window()
        .map_or(1.0, |w| w.device_pixel_ratio())
        .max(1.0);
    canvas.set_width((width * ratio) as u32);
    canvas.set_height((HEIGHT * ratio) as u32);
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let _ = ctx.scale(ratio, ratio);
    ctx.clear_rect(0.0, 0.0, width, HEIGHT);
    ctx.set_fill_style_str("#3b82f680");
    let mid = HEIGHT / 2.0;
    let per_ms = rate / 1000.0;
    for x in 0..width as usize {
        let t0 = view_start + x as f64 * ms_per_px;
        let p0 = (t0 * per_ms) as usize;
        let p1 = (((t0 + ms_per_px) * per_ms) as usize).max(p0 + 1);
        if p0 >= peaks.len() {
            break;
        }
        let peak = peaks[p0..p1.min(peaks.len())]
            .iter()
            .copied()
            .max()
            .unwrap_or(0);
        let h = (f64::from(peak) / 255.0 * (HEIGHT - 16.0)).max(1.0);
        ctx.fill_rect(x as f64, mid - h / 2.0, 1.0, h);
    }
    // The ruler.
    let step = tick_step(ms_per_px);
    ctx.set_fill_style_str("#9ca3af");
    ctx.set_font("11px system-ui, sans-serif");
    let mut t = (view_start / step).ceil() * step;
    while t < view_start + width * ms_per_px {
        let x = (t - view_start) / ms_per_px;
        ctx.fill_rect(x, 0.0, 1.0, 6.0);
        let label = format_ms(t as u64);
        let label = label
            .trim_start_matches("0:")
            .trim_end_matches(".000")
            .to_owned();
        let _ = ctx.fill_text(&label, x + 3.0, 12.0);
        t += step;
    }
}

fn element_of(
    target: Option<web_sys::EventTarget>,
    selector: &str,
) -> Option<web_sys::HtmlElement> {
    target
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest(selector).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
}

fn place(element: &web_sys::HtmlElement, start: u64, end: u64, view_start: f64, ms_per_px: f64) {
    let style = element.style();
    let _ = style.set_property(
        "left",
        &format!("{:.1}px", (start as f64 - view_start) / ms_per_px),
    );
    let _ = style.set_property(
        "width",
        &format!("{:.1}px", ((end - start) as f64 / ms_per_px).max(2.0)),
    );
}

#[component]
pub fn Timeline(
    ed: Ed,
    waveform_url: Option<String>,
    warnings: Memo<Vec<CueWarning>>,
) -> impl IntoView {
    let container = NodeRef::<html::Div>::new();
    let canvas = NodeRef::<html::Canvas>::new();
    let playhead = NodeRef::<html::Div>::new();
    let peaks: StoredValue<(f64, Vec<u8>)> = StoredValue::new((DEFAULT_RATE, Vec::new()));
    let peaks_loaded = RwSignal::new(false);
    let drag: StoredValue<Option<Drag>> = StoredValue::new(None);

    // The waveform, fetched once.
    if let Some(url) = waveform_url {
        leptos::task::spawn_local(async move {
            if let Ok(answer) = crate::api::get(&url).await
                && answer.ok()
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(&answer.body)
            {
                let rate = json["rate"].as_f64().unwrap_or(DEFAULT_RATE).max(1.0);
                let values: Vec<u8> = json["peaks"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| v.as_u64().unwrap_or(0).min(255) as u8)
                            .collect()
                    })
                    .unwrap_or_default();
                peaks.set_value((rate, values));
                peaks_loaded.set(true);
            }
        });
    }

    // Width: measured once mounted and on every resize.
    let measure = move || {
        if let Some(el) = container.get_untracked() {
            let width = el.client_width() as f64;
            if width > 0.0 && (width - ed.width_px.get_untracked()).abs() > 0.5 {
                let first =
                    ed.width_px.get_untracked() == 1000.0 && ed.view_start.get_untracked() == 0.0;
                ed.width_px.set(width);
                if first {
                    // Start at about 30 s across, or the whole talk when it is shorter.
                    let whole = ed.duration_ms.get_value() as f64 / width;
                    ed.ms_per_px.set((30_000.0 / width).min(whole));
                }
            }
        }
    };
    Effect::new(move |_| {
        if container.get().is_some() {
            measure();
        }
    });
    let on_resize = Closure::<dyn Fn()>::new(measure);
    if let Some(window) = web_sys::window() {
        let _ =
            window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
    }
    on_resize.forget();

    // The canvas follows the view.
    Effect::new(move |_| {
        let (start, mpp, width) = (ed.view_start.get(), ed.ms_per_px.get(), ed.width_px.get());
        peaks_loaded.track();
        if let Some(canvas) = canvas.get() {
            peaks.with_value(|(rate, p)| draw(&canvas, p, *rate, start, mpp, width));
        }
    });

    // The playhead follows the video every frame (one style write), and the view follows the
    // playhead while playing.
    let frame: FrameLoop = Rc::new(RefCell::new(None));
    let again = frame.clone();
    *frame.borrow_mut() = Some(Closure::new(move || {
        if let Some(line) = playhead.get_untracked() {
            let at = playhead_ms() as f64;
            let (start, mpp, width) = (
                ed.view_start.get_untracked(),
                ed.ms_per_px.get_untracked(),
                ed.width_px.get_untracked(),
            );
            let x = (at - start) / mpp;
            let line: &web_sys::HtmlElement = line.unchecked_ref();
            let _ = line
                .style()
                .set_property("transform", &format!("translateX({x:.1}px)"));
            let playing = video().is_some_and(|v| !v.paused());
            if playing && drag.with_value(Option::is_none) && (x < 0.0 || x > width) {
                ed.scroll_to(at - width * mpp * 0.1);
            }
        }
        if let (Some(window), Some(callback)) = (web_sys::window(), again.borrow().as_ref()) {
            let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
        }
    }));
    if let (Some(window), Some(callback)) = (web_sys::window(), frame.borrow().as_ref()) {
        let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
    }
    std::mem::forget(frame);

    let warned = Memo::new(move |_| {
        warnings
            .get()
            .into_iter()
            .map(|w| w.cue_index)
            .collect::<HashSet<usize>>()
    });
    let blocks = Memo::new(move |_| {
        ed.version.track();
        let (start, mpp, width) = (ed.view_start.get(), ed.ms_per_px.get(), ed.width_px.get());
        let warned = warned.get();
        ed.cues.with_value(|cues| {
            let indices = visible_range(cues, start, start + width * mpp);
            let step = indices.len().div_ceil(MAX_BLOCKS).max(1);
            indices
                .into_iter()
                .step_by(step)
                .map(|i| {
                    let c = &cues[i];
                    Block {
                        index: i,
                        start: c.start_ms,
                        end: c.end_ms,
                        text: c.text.replace('\n', " / "),
                        warned: warned.contains(&i),
                        uncertain: c.words.iter().any(|w| w.probability < LOW_PROBABILITY),
                    }
                })
                .collect::<Vec<_>>()
        })
    });

    let on_pointerdown = move |ev: web_sys::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        let Some(block) = element_of(ev.target(), ".cue-block") else {
            // The background: seek there.
            if let Some(el) = container.get_untracked() {
                let x = ev.client_x() as f64 - el.get_bounding_client_rect().left();
                let ms = ed.view_start.get_untracked() + x * ed.ms_per_px.get_untracked();
                seek_ms(ms.max(0.0) as u64);
                ed.selected.set(None);
            }
            return;
        };
        let Some(index) = block
            .get_attribute("data-index")
            .and_then(|i| i.parse::<usize>().ok())
        else {
            return;
        };
        let mode = match element_of(ev.target(), ".cue-handle")
            .and_then(|h| h.get_attribute("data-edge"))
            .as_deref()
        {
            Some("start") => Mode::Start,
            Some("end") => Mode::End,
            _ => Mode::Move,
        };
        let Some((cue, neighbours)) = ed.cues.with_value(|cues| {
            let cue = cues.get(index)?.clone();
            let from = index.saturating_sub(2);
            let neighbours = cues[from..(index + 3).min(cues.len())]
                .iter()
                .enumerate()
                .filter(|(k, _)| from + k != index)
                .map(|(_, c)| c.clone())
                .collect::<Vec<_>>();
            Some((cue, neighbours))
        }) else {
            return;
        };
        ev.prevent_default();
        if let Some(el) = container.get_untracked() {
            let _ = el.set_pointer_capture(ev.pointer_id());
            let _ = el.focus();
        }
        let _ = block.class_list().add_1("dragging");
        drag.set_value(Some(Drag {
            index,
            mode,
            origin_x: ev.client_x() as f64,
            start: cue.start_ms,
            end: cue.end_ms,
            new_start: cue.start_ms,
            new_end: cue.end_ms,
            element: block,
            words: cue.words.clone(),
            neighbours,
            moved: false,
        }));
    };

    let on_pointermove = move |ev: web_sys::PointerEvent| {
        let (mpp, view) = (ed.ms_per_px.get_untracked(), ed.view_start.get_untracked());
        let duration = ed.duration_ms.get_value();
        let snap = !ev.alt_key();
        drag.update_value(|d| {
            let Some(d) = d.as_mut() else {
                return;
            };
            let dx = ev.client_x() as f64 - d.origin_x;
            if !d.moved && dx.abs() < 3.0 {
                return;
            }
            d.moved = true;
            let delta = (dx * mpp).round() as i64;
            let tolerance = (SNAP_PX * mpp) as u64;
            let snapped = |t: u64| {
                if snap {
                    snap_time(t, &d.neighbours, &d.words, tolerance)
                } else {
                    t
                }
            };
            let shift = |t: u64| (t as i64 + delta).clamp(0, duration as i64) as u64;
            let (s, e) = match d.mode {
                Mode::Start => {
                    let s = snapped(shift(d.start)).min(d.end.saturating_sub(100));
                    (s, d.end)
                }
                Mode::End => {
                    let e = snapped(shift(d.end)).max(d.start + 100).min(duration);
                    (d.start, e)
                }
                Mode::Move => {
                    let length = d.end - d.start;
                    let s = shift(d.start).min(duration.saturating_sub(length));
                    let snapped_start = snapped(s);
                    let s = if snapped_start != s {
                        snapped_start
                    } else {
                        let e = snapped(s + length);
                        e.saturating_sub(length)
                    };
                    (s, s + length)
                }
            };
            d.new_start = s;
            d.new_end = e;
            place(&d.element, s, e, view, mpp);
            let _ = d.element.set_attribute(
                "aria-label",
                &format!("{} to {}", format_ms(s), format_ms(e)),
            );
        });
    };

    let on_pointerup = move |_ev: web_sys::PointerEvent| {
        let Some(d) = drag.try_update_value(Option::take).flatten() else {
            return;
        };
        let _ = d.element.class_list().remove_1("dragging");
        let index = d.index;
        if d.moved && (d.new_start, d.new_end) != (d.start, d.end) {
            let (s, e) = (d.new_start, d.new_end);
            ed.edit(None, move |cues| {
                set_times(cues.get_mut(index)?, s, e);
                Some(Some(index))
            });
        } else {
            ed.selected.set(Some(index));
            if !d.moved {
                seek_ms(d.start);
            }
        }
    };

    let on_wheel = move |ev: web_sys::WheelEvent| {
        let Some(el) = container.get_untracked() else {
            return;
        };
        ev.prevent_default();
        if ev.ctrl_key() || ev.meta_key() {
            let x = ev.client_x() as f64 - el.get_bounding_client_rect().left();
            ed.zoom(if ev.delta_y() > 0.0 { 1.25 } else { 0.8 }, x);
        } else {
            let delta = if ev.delta_x().abs() > ev.delta_y().abs() {
                ev.delta_x()
            } else {
                ev.delta_y()
            };
            ed.scroll_to(ed.view_start.get_untracked() + delta * ed.ms_per_px.get_untracked());
        }
    };

    let span = move || ed.ms_per_px.get() * ed.width_px.get();
    let max_scroll = move || (ed.duration_ms.get_value() as f64 - span()).max(0.0);
    view! {
        <div class="timeline-wrap">
            <div class="timeline" node_ref=container tabindex="0" role="group"
                aria-label="Timeline: cues over the waveform. Drag a cue to move it, its edges to trim it; hold Alt to drag without snapping."
                aria-describedby="editor-shortcuts"
                on:pointerdown=on_pointerdown on:pointermove=on_pointermove
                on:pointerup=on_pointerup on:pointercancel=on_pointerup on:wheel=on_wheel>
                <canvas class="waveform" node_ref=canvas aria-hidden="true"></canvas>
                <div class="cue-layer">
                    {move || {
                        let (view, mpp) = (ed.view_start.get(), ed.ms_per_px.get());
                        let selected = ed.selected.get();
                        blocks.get().into_iter().map(|b| {
                            let left = (b.start as f64 - view) / mpp;
                            let width = ((b.end - b.start) as f64 / mpp).max(2.0);
                            let label = format!("Cue {}: {} to {}: {}", b.index + 1, format_ms(b.start), format_ms(b.end), b.text);
                            let wide = width > 24.0;
                            view! {
                                <div class="cue-block" data-index=b.index.to_string()
                                    class:selected=selected == Some(b.index) class:warned=b.warned
                                    class:uncertain=b.uncertain
                                    style=format!("left:{left:.1}px;width:{width:.1}px")
                                    role="button" aria-label=label aria-pressed=(selected == Some(b.index)).to_string()>
                                    <span class="cue-handle start" data-edge="start" aria-hidden="true"></span>
                                    {wide.then(|| view! { <span class="cue-label">{b.text.clone()}</span> })}
                                    <span class="cue-handle end" data-edge="end" aria-hidden="true"></span>
                                </div>
                            }
                        }).collect_view()
                    }}
                </div>
                <div class="playhead" node_ref=playhead aria-hidden="true"></div>
            </div>
            <label class="timeline-scroll">
                <span class="visually-hidden">"Scroll the timeline"</span>
                <input type="range" min="0" step="100" max=move || max_scroll().to_string()
                    prop:value=move || ed.view_start.get().to_string()
                    on:input=move |ev| {
                        let value = ev.target()
                            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                            .and_then(|i| i.value().parse::<f64>().ok());
                        if let Some(v) = value { ed.scroll_to(v); }
                    }/>
            </label>
            <p class="timeline-span field-hint">{move || format!(
                "Showing {} to {} ({:.1} s across)",
                format_ms(ed.view_start.get() as u64),
                format_ms((ed.view_start.get() + span()) as u64),
                span() / 1000.0
            )}</p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cues_in_the_window_are_visible() {
        let cues: Vec<Cue> = (0..1500)
            .map(|i| Cue::new(i * 3600, i * 3600 + 3000, "x"))
            .collect();
        let visible = visible_range(&cues, 36_000.0, 72_000.0);
        assert_eq!(visible.first(), Some(&10));
        assert_eq!(visible.last(), Some(&19));
        // A long cue starting before the window still shows.
        let mut long = cues.clone();
        long[9].end_ms = 40_000;
        assert_eq!(visible_range(&long, 36_000.0, 72_000.0).first(), Some(&9));
        assert!(visible_range(&cues, 10_000_000.0, 10_001_000.0).is_empty());
    }
}
