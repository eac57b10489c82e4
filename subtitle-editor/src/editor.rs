//! The editor's state and its panels: track picker, import/export, the selected cue (times,
//! text, words), warnings with their thresholds, undo/redo, autosave and publishing.

use ferrotape_model::subtitles::{
    CheckLimits, Cue, EditableTrack, SubtitleEditorData, TrackSummary, check_cues, merge_cues,
    normalize_text, sort_cues, split_cue_at, split_cue_at_word,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::api;
use crate::timeline::Timeline;

/// Undo steps kept.
const HISTORY: usize = 200;
/// Quiet time after a change before it is saved.
const AUTOSAVE_MS: i32 = 1200;
/// Below this a word is shown as uncertain.
pub const LOW_PROBABILITY: f32 = 0.5;
/// A new cue's length.
const NEW_CUE_MS: u64 = 2000;
/// What the nudge keys move by.
pub const NUDGE_MS: i64 = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum SaveState {
    Saved,
    Dirty,
    Saving,
    /// Another tab or editor saved first: nothing more is saved until a reload.
    Stale(String),
    Failed(String),
}

impl SaveState {
    fn code(&self) -> &'static str {
        match self {
            SaveState::Saved => "saved",
            SaveState::Dirty => "dirty",
            SaveState::Saving => "saving",
            SaveState::Stale(_) => "stale",
            SaveState::Failed(_) => "error",
        }
    }
}

/// Every handle of the editor's state (all `Copy`).
#[derive(Clone, Copy)]
pub struct Ed {
    pub talk: StoredValue<Uuid>,
    pub duration_ms: StoredValue<u64>,
    pub cues: StoredValue<Vec<Cue>>,
    /// Bumped once per committed change of the cues (and on load).
    pub version: RwSignal<u64>,
    saved_version: StoredValue<u64>,
    pub selected: RwSignal<Option<usize>>,
    /// Bumped with `version` except by typing in the cue panel, so the panel (and the text
    /// field being typed in) is not rebuilt under the typist's fingers.
    pub panel: RwSignal<u64>,
    quiet_panel: StoredValue<bool>,
    pub track: RwSignal<Option<TrackSummary>>,
    pub tracks: RwSignal<Vec<TrackSummary>>,
    undo: StoredValue<Vec<Vec<Cue>>>,
    redo: StoredValue<Vec<Vec<Cue>>>,
    /// What the last edit was, so typing in one cue is one undo step.
    last_edit: StoredValue<Option<(String, f64)>>,
    pub save_state: RwSignal<SaveState>,
    saving: StoredValue<bool>,
    timer: StoredValue<Option<i32>>,
    pub notice: RwSignal<String>,
    pub limits: RwSignal<CheckLimits>,
    pub view_start: RwSignal<f64>,
    pub ms_per_px: RwSignal<f64>,
    pub width_px: RwSignal<f64>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

/// The page's `<video>` (the app's player above the editor).
pub fn video() -> Option<web_sys::HtmlVideoElement> {
    crate::document()
        .query_selector("video")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into().ok())
}

pub fn playhead_ms() -> u64 {
    video().map_or(0, |v| (v.current_time() * 1000.0).max(0.0) as u64)
}

pub fn seek_ms(ms: u64) {
    if let Some(v) = video() {
        v.set_current_time(ms as f64 / 1000.0);
    }
}

pub fn format_ms(ms: u64) -> String {
    let (secs, rest) = (ms / 1000, ms % 1000);
    format!(
        "{}:{:02}:{:02}.{rest:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `1:02:03.400`, `2:03.4`, `83.25`: seconds with optional minutes and hours.
fn parse_time(text: &str) -> Option<u64> {
    let mut total = 0f64;
    for part in text.trim().split(':') {
        let value: f64 = part.trim().parse().ok()?;
        if !(0.0..1e7).contains(&value) {
            return None;
        }
        total = total * 60.0 + value;
    }
    Some((total * 1000.0).round() as u64)
}

impl Ed {
    fn new(data: &SubtitleEditorData) -> Ed {
        Ed {
            talk: StoredValue::new(data.talk_id),
            duration_ms: StoredValue::new(data.duration_ms.max(1000)),
            cues: StoredValue::new(Vec::new()),
            version: RwSignal::new(0),
            saved_version: StoredValue::new(0),
            selected: RwSignal::new(None),
            panel: RwSignal::new(0),
            quiet_panel: StoredValue::new(false),
            track: RwSignal::new(None),
            tracks: RwSignal::new(data.tracks.clone()),
            undo: StoredValue::new(Vec::new()),
            redo: StoredValue::new(Vec::new()),
            last_edit: StoredValue::new(None),
            save_state: RwSignal::new(SaveState::Saved),
            saving: StoredValue::new(false),
            timer: StoredValue::new(None),
            notice: RwSignal::new(String::new()),
            limits: RwSignal::new(CheckLimits::default()),
            view_start: RwSignal::new(0.0),
            ms_per_px: RwSignal::new(50.0),
            width_px: RwSignal::new(1000.0),
        }
    }

    fn base(&self) -> String {
        format!("/api/v1/talks/{}/subtitles", self.talk.get_value())
    }

    /// Applies a change to the cues as one undo step (or as part of the last one when
    /// `coalesce` names the same thing within a second), keeps them in display order and
    /// selects the cue `select` returns.
    pub fn edit(
        &self,
        coalesce: Option<String>,
        change: impl FnOnce(&mut Vec<Cue>) -> Option<Option<usize>>,
    ) {
        if matches!(self.save_state.get_untracked(), SaveState::Stale(_)) {
            self.notice.set(
                "This track changed elsewhere: reload the page before editing further.".into(),
            );
            return;
        }
        let before = self.cues.with_value(Clone::clone);
        let mut after = before.clone();
        let Some(select) = change(&mut after) else {
            return;
        };
        // Keep the selected cue selected across the re-sort.
        let chosen = select.and_then(|i| after.get(i).cloned());
        sort_cues(&mut after);
        let select = chosen.and_then(|c| after.iter().position(|x| *x == c));
        let merge = coalesce.as_ref().is_some_and(|key| {
            self.last_edit.with_value(|last| {
                last.as_ref()
                    .is_some_and(|(k, at)| k == key && now_ms() - at < 1000.0)
            })
        });
        if !merge {
            self.undo.update_value(|u| {
                u.push(before);
                if u.len() > HISTORY {
                    u.remove(0);
                }
            });
        }
        self.last_edit
            .set_value(coalesce.map(|key| (key, now_ms())));
        self.redo.update_value(Vec::clear);
        self.cues.set_value(after);
        self.selected.set(select);
        self.changed();
    }

    fn changed(&self) {
        self.version.update(|v| *v += 1);
        if !self.quiet_panel.get_value() {
            self.panel.update(|v| *v += 1);
        }
        if !matches!(self.save_state.get_untracked(), SaveState::Stale(_)) {
            self.save_state.set(SaveState::Dirty);
            self.schedule_save(AUTOSAVE_MS);
        }
    }

    pub fn undo(&self) {
        self.history_step(true);
    }

    pub fn redo(&self) {
        self.history_step(false);
    }

    fn history_step(&self, back: bool) {
        if matches!(self.save_state.get_untracked(), SaveState::Stale(_)) {
            return;
        }
        let (from, to) = if back {
            (self.undo, self.redo)
        } else {
            (self.redo, self.undo)
        };
        let Some(state) = from.try_update_value(Vec::pop).flatten() else {
            return;
        };
        let current = self.cues.with_value(Clone::clone);
        to.update_value(|s| s.push(current));
        self.cues.set_value(state);
        self.last_edit.set_value(None);
        let count = self.cues.with_value(Vec::len);
        self.selected.update(|s| *s = s.filter(|i| *i < count));
        self.changed();
    }

    pub fn can_undo(&self) -> bool {
        self.version.track();
        self.undo.with_value(|u| !u.is_empty())
    }

    pub fn can_redo(&self) -> bool {
        self.version.track();
        self.redo.with_value(|r| !r.is_empty())
    }

    fn schedule_save(&self, delay: i32) {
        if let Some(id) = self.timer.get_value() {
            window().clear_timeout_with_handle(id);
        }
        let ed = *self;
        let callback = Closure::once_into_js(move || ed.save_now());
        let id = window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), delay)
            .ok();
        self.timer.set_value(id);
    }

    /// Saves the cues as they are now with the revision they were loaded or last saved at.
    pub fn save_now(&self) {
        let Some(track) = self.track.get_untracked() else {
            return;
        };
        if matches!(self.save_state.get_untracked(), SaveState::Stale(_)) {
            return;
        }
        let version = self.version.get_untracked();
        if version == self.saved_version.get_value() {
            self.save_state.set(SaveState::Saved);
            return;
        }
        if self.saving.get_value() {
            // Saved again when the running save ends.
            return;
        }
        self.saving.set_value(true);
        self.save_state.set(SaveState::Saving);
        let cues: Vec<Cue> = self.cues.with_value(|cues| {
            cues.iter()
                .map(|c| Cue {
                    text: normalize_text(&c.text),
                    ..c.clone()
                })
                .collect()
        });
        let body = serde_json::json!({ "cues": cues }).to_string();
        let url = format!("{}/{}", self.base(), track.id);
        let ed = *self;
        spawn_local(async move {
            let started = now_ms();
            let answer = api::call(
                "PUT",
                &url,
                Some(track.revision),
                Some(JsValue::from_str(&body)),
                Some("application/json"),
            )
            .await;
            let elapsed = now_ms() - started;
            let _ = js_sys::Reflect::set(
                &window(),
                &JsValue::from_str("__editorLastSaveMs"),
                &JsValue::from_f64(elapsed),
            );
            ed.saving.set_value(false);
            match answer {
                Ok(answer) if answer.ok() => {
                    if let Ok(summary) = serde_json::from_str::<TrackSummary>(&answer.body) {
                        ed.remember(summary);
                    }
                    ed.saved_version.set_value(version);
                    if ed.version.get_untracked() == version {
                        ed.save_state.set(SaveState::Saved);
                    } else {
                        ed.save_now();
                    }
                }
                Ok(answer) if answer.status == 412 => {
                    ed.save_state.set(SaveState::Stale(
                        "Not saved: this track was changed in another tab or by another editor \
                         since you opened it. Nothing was overwritten. Reload the page to get \
                         the current version (copy any text you want to keep first)."
                            .into(),
                    ));
                }
                Ok(answer) => ed.save_state.set(SaveState::Failed(format!(
                    "Not saved: {}",
                    answer.message()
                ))),
                Err(err) => {
                    ed.save_state.set(SaveState::Failed(format!(
                        "Not saved ({err}); trying again in a few seconds."
                    )));
                    ed.schedule_save(5000);
                }
            }
        });
    }

    fn remember(&self, summary: TrackSummary) {
        self.tracks.update(|tracks| {
            if let Some(t) = tracks.iter_mut().find(|t| t.id == summary.id) {
                *t = summary.clone();
            } else {
                tracks.push(summary.clone());
            }
        });
        self.track.set(Some(summary));
    }

    pub fn load_track(&self, id: Uuid) {
        let url = format!("{}/{id}", self.base());
        let ed = *self;
        self.notice.set("Loading the track…".into());
        spawn_local(async move {
            match api::get(&url).await {
                Ok(answer) if answer.ok() => {
                    match parse_track(&answer.body) {
                        Ok(track) => {
                            // A track may run past the video (imported for a longer cut):
                            // the timeline reaches its last cue.
                            let last = track.cues.iter().map(|c| c.end_ms).max().unwrap_or(0);
                            ed.duration_ms.update_value(|d| *d = (*d).max(last + 1000));
                            ed.cues.set_value(track.cues);
                            ed.undo.update_value(Vec::clear);
                            ed.redo.update_value(Vec::clear);
                            ed.selected.set(None);
                            ed.remember(track.summary);
                            ed.version.update(|v| *v += 1);
                            ed.panel.update(|v| *v += 1);
                            ed.saved_version.set_value(ed.version.get_untracked());
                            ed.save_state.set(SaveState::Saved);
                            ed.notice.set(String::new());
                        }
                        Err(err) => ed.notice.set(format!("The track is unreadable: {err}")),
                    }
                }
                Ok(answer) => ed
                    .notice
                    .set(format!("Cannot load the track: {}", answer.message())),
                Err(err) => ed.notice.set(format!("Cannot load the track: {err}")),
            }
        });
    }

    pub fn publish(&self) {
        let Some(track) = self.track.get_untracked() else {
            return;
        };
        if self.version.get_untracked() != self.saved_version.get_value() {
            self.notice
                .set("Saving first; publish again once it says Saved.".into());
            self.save_now();
            return;
        }
        let url = format!("{}/{}/publish", self.base(), track.id);
        let ed = *self;
        self.notice.set("Publishing…".into());
        spawn_local(async move {
            match api::call("POST", &url, Some(track.revision), None, None).await {
                Ok(answer) if answer.ok() => {
                    if let Ok(summary) = serde_json::from_str::<TrackSummary>(&answer.body) {
                        ed.notice.set(format!(
                            "Published revision {} as {}: viewers get it now.",
                            summary.revision, summary.label
                        ));
                        ed.remember(summary);
                    }
                }
                Ok(answer) if answer.status == 412 => ed.save_state.set(SaveState::Stale(
                    "Not published: this track was changed in another tab or by another editor. \
                     Nothing was overwritten. Reload the page to get the current version."
                        .into(),
                )),
                Ok(answer) => ed
                    .notice
                    .set(format!("Not published: {}", answer.message())),
                Err(err) => ed.notice.set(format!("Not published: {err}")),
            }
        });
    }

    // The edits, each one undo step.

    pub fn split_at_playhead(&self) {
        let Some(i) = self
            .selected
            .get_untracked()
            .or_else(|| self.cue_at(playhead_ms()))
        else {
            self.notice.set("Select a cue to split.".into());
            return;
        };
        let at = playhead_ms();
        let ed = *self;
        self.edit(None, move |cues| {
            let cue = cues.get(i)?;
            let at = if at > cue.start_ms && at < cue.end_ms {
                at
            } else {
                (cue.start_ms + cue.end_ms) / 2
            };
            match split_cue_at(cue, at) {
                Some((a, b)) => {
                    cues[i] = a;
                    cues.insert(i + 1, b);
                    Some(Some(i + 1))
                }
                None => {
                    ed.notice
                        .set("This cue cannot be split there (it has a single word).".into());
                    None
                }
            }
        });
    }

    pub fn split_at_word(&self, i: usize, word: usize) {
        self.edit(None, move |cues| {
            let (a, b) = split_cue_at_word(cues.get(i)?, word)?;
            cues[i] = a;
            cues.insert(i + 1, b);
            Some(Some(i + 1))
        });
    }

    pub fn merge_next(&self) {
        let Some(i) = self.selected.get_untracked() else {
            self.notice
                .set("Select a cue to merge with the next one.".into());
            return;
        };
        self.edit(None, move |cues| {
            let next = cues.get(i + 1)?.clone();
            cues[i] = merge_cues(&cues[i], &next);
            cues.remove(i + 1);
            Some(Some(i))
        });
    }

    pub fn add_at_playhead(&self) {
        let at = playhead_ms();
        let duration = self.duration_ms.get_value();
        self.edit(None, move |cues| {
            // In the gap at the playhead, up to the next cue.
            let next_start = cues
                .iter()
                .map(|c| c.start_ms)
                .filter(|s| *s > at)
                .min()
                .unwrap_or(duration);
            let end = (at + NEW_CUE_MS).min(next_start).min(duration);
            let (start, end) = if end > at + 100 {
                (at, end)
            } else {
                (at, (at + NEW_CUE_MS).min(duration.max(at + 1)))
            };
            cues.push(Cue::new(start, end.max(start + 1), "New cue"));
            Some(Some(cues.len() - 1))
        });
    }

    pub fn delete_selected(&self) {
        let Some(i) = self.selected.get_untracked() else {
            return;
        };
        self.edit(None, move |cues| {
            if i >= cues.len() {
                return None;
            }
            cues.remove(i);
            Some((!cues.is_empty()).then(|| i.min(cues.len() - 1)))
        });
    }

    /// Moves the selected cue's start, end or both by `delta_ms`, keeping it inside the video
    /// and at least 100 ms long.
    pub fn nudge(&self, start: bool, end: bool, delta_ms: i64) {
        let Some(i) = self.selected.get_untracked() else {
            return;
        };
        let duration = self.duration_ms.get_value() as i64;
        self.edit(Some(format!("nudge:{i}:{start}:{end}")), move |cues| {
            let cue = cues.get_mut(i)?;
            let (mut s, mut e) = (cue.start_ms as i64, cue.end_ms as i64);
            if start && end {
                let d = delta_ms.clamp(-s, duration - e);
                s += d;
                e += d;
            } else if start {
                s = (s + delta_ms).clamp(0, e - 100);
            } else {
                e = (e + delta_ms).clamp(s + 100, duration);
            }
            set_times(cue, s.max(0) as u64, e.max(0) as u64);
            Some(Some(i))
        });
    }

    pub fn set_text(&self, i: usize, text: String) {
        self.quiet_panel.set_value(true);
        self.edit(Some(format!("text:{i}")), move |cues| {
            let cue = cues.get_mut(i)?;
            if cue.text == text {
                return None;
            }
            cue.text = text;
            Some(Some(i))
        });
        self.quiet_panel.set_value(false);
    }

    pub fn set_cue_times(&self, i: usize, start: Option<u64>, end: Option<u64>) {
        self.edit(None, move |cues| {
            let cue = cues.get_mut(i)?;
            let s = start.unwrap_or(cue.start_ms);
            let e = end.unwrap_or(cue.end_ms);
            if e <= s {
                return None;
            }
            set_times(cue, s, e);
            Some(Some(i))
        });
    }

    /// The cue under `ms`, if any.
    pub fn cue_at(&self, ms: u64) -> Option<usize> {
        self.cues
            .with_value(|cues| cues.iter().position(|c| c.start_ms <= ms && ms < c.end_ms))
    }

    pub fn select_step(&self, forward: bool) {
        let count = self.cues.with_value(Vec::len);
        if count == 0 {
            return;
        }
        let next = match self.selected.get_untracked() {
            None => {
                let at = playhead_ms();
                self.cues
                    .with_value(|cues| cues.iter().position(|c| c.end_ms > at).unwrap_or(count - 1))
            }
            Some(i) if forward => (i + 1).min(count - 1),
            Some(i) => i.saturating_sub(1),
        };
        self.select(next);
    }

    /// Selects a cue, seeks the player to it and scrolls the timeline to show it.
    pub fn select(&self, i: usize) {
        let Some((start, end)) = self
            .cues
            .with_value(|cues| cues.get(i).map(|c| (c.start_ms, c.end_ms)))
        else {
            return;
        };
        self.selected.set(Some(i));
        seek_ms(start);
        let span = self.ms_per_px.get_untracked() * self.width_px.get_untracked();
        let view = self.view_start.get_untracked();
        if (start as f64) < view || (end as f64) > view + span {
            self.scroll_to(start as f64 - span * 0.2);
        }
    }

    pub fn scroll_to(&self, start: f64) {
        let span = self.ms_per_px.get_untracked() * self.width_px.get_untracked();
        let max = (self.duration_ms.get_value() as f64 - span).max(0.0);
        self.view_start.set(start.clamp(0.0, max));
    }

    /// Zooms by `factor` around the time at `anchor_px`: from the whole talk down to about one
    /// second across the timeline.
    pub fn zoom(&self, factor: f64, anchor_px: f64) {
        let width = self.width_px.get_untracked().max(1.0);
        let old = self.ms_per_px.get_untracked();
        let whole = self.duration_ms.get_value() as f64 / width;
        let new = (old * factor).clamp(1000.0 / width, whole.max(1000.0 / width));
        let anchor_ms = self.view_start.get_untracked() + anchor_px * old;
        self.ms_per_px.set(new);
        self.scroll_to(anchor_ms - anchor_px * new);
    }

    pub fn zoom_whole(&self) {
        let width = self.width_px.get_untracked().max(1.0);
        self.ms_per_px
            .set(self.duration_ms.get_value() as f64 / width);
        self.view_start.set(0.0);
    }
}

/// A track with its cues, read through a JSON value: a server from before `cue_count` sent
/// the count as a second `cues` key, which the value drops (the last key wins).
fn parse_track(body: &str) -> Result<EditableTrack, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_str(body)?;
    let cues: Vec<Cue> = serde_json::from_value(value["cues"].take())?;
    if let Some(object) = value.as_object_mut() {
        object.remove("cues");
    }
    let summary: TrackSummary = serde_json::from_value(value)?;
    Ok(EditableTrack { summary, cues })
}

/// New times for a cue, its word timings kept inside it.
pub fn set_times(cue: &mut Cue, start: u64, end: u64) {
    cue.start_ms = start;
    cue.end_ms = end;
    for w in &mut cue.words {
        w.start_ms = w.start_ms.clamp(start, end);
        w.end_ms = w.end_ms.clamp(w.start_ms, end);
    }
}

fn event_value(ev: &web_sys::Event) -> String {
    ev.target()
        .and_then(|t| {
            t.dyn_ref::<web_sys::HtmlInputElement>()
                .map(|i| i.value())
                .or_else(|| {
                    t.dyn_ref::<web_sys::HtmlTextAreaElement>()
                        .map(|a| a.value())
                })
                .or_else(|| t.dyn_ref::<web_sys::HtmlSelectElement>().map(|s| s.value()))
        })
        .unwrap_or_default()
}

/// Whether a key event comes from a field that takes typing.
fn in_field(ev: &web_sys::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
}

fn on_key(ed: Ed, ev: web_sys::KeyboardEvent) {
    let key = ev.key();
    let ctrl = ev.ctrl_key() || ev.meta_key();
    if ctrl && (key == "s" || key == "S") {
        ev.prevent_default();
        ed.save_now();
        return;
    }
    if in_field(&ev) {
        if key == "Escape"
            && let Some(el) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = el.blur();
            if let Ok(Some(timeline)) = crate::document().query_selector(".timeline") {
                let _ = timeline.unchecked_into::<web_sys::HtmlElement>().focus();
            }
        }
        return;
    }
    let on_control = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "BUTTON" | "A" | "SUMMARY"));
    if on_control && (key == "Enter" || key == " ") {
        return;
    }
    let handled = match key.as_str() {
        "z" | "Z" if ctrl && ev.shift_key() => {
            ed.redo();
            true
        }
        "z" | "Z" if ctrl => {
            ed.undo();
            true
        }
        "y" | "Y" if ctrl => {
            ed.redo();
            true
        }
        _ if ctrl => false,
        " " => {
            if let Some(v) = video() {
                if v.paused() {
                    let _ = v.play();
                } else {
                    let _ = v.pause();
                }
            }
            true
        }
        "ArrowLeft" | "ArrowRight" if ev.alt_key() => {
            let step = if ev.shift_key() { 1000 } else { NUDGE_MS };
            ed.nudge(true, true, if key == "ArrowLeft" { -step } else { step });
            true
        }
        "ArrowLeft" | "ArrowRight" => {
            ed.select_step(key == "ArrowRight");
            true
        }
        "," => {
            ed.nudge(true, false, -NUDGE_MS);
            true
        }
        "." => {
            ed.nudge(true, false, NUDGE_MS);
            true
        }
        "<" => {
            ed.nudge(false, true, -NUDGE_MS);
            true
        }
        ">" => {
            ed.nudge(false, true, NUDGE_MS);
            true
        }
        "s" | "S" => {
            ed.split_at_playhead();
            true
        }
        "m" | "M" => {
            ed.merge_next();
            true
        }
        "n" | "N" => {
            ed.add_at_playhead();
            true
        }
        "Delete" | "Backspace" => {
            ed.delete_selected();
            true
        }
        "Enter" => {
            if let Ok(Some(text)) = crate::document().query_selector("#cue-text") {
                let _ = text.unchecked_into::<web_sys::HtmlElement>().focus();
            }
            true
        }
        "+" | "=" => {
            ed.zoom(0.5, ed.width_px.get_untracked() / 2.0);
            true
        }
        "-" | "_" => {
            ed.zoom(2.0, ed.width_px.get_untracked() / 2.0);
            true
        }
        "0" => {
            ed.zoom_whole();
            true
        }
        _ => false,
    };
    if handled {
        ev.prevent_default();
    }
}

pub fn view(data: SubtitleEditorData) -> impl IntoView {
    let ed = Ed::new(&data);
    let first = data
        .tracks
        .iter()
        .find(|t| t.origin == ferrotape_model::subtitles::TrackKind::Human)
        .or(data.tracks.first())
        .map(|t| t.id);
    if let Some(id) = first {
        ed.load_track(id);
    }
    let handler = Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(move |ev| on_key(ed, ev));
    let _ = crate::document()
        .add_event_listener_with_callback("keydown", handler.as_ref().unchecked_ref());
    handler.forget();
    // Flush a pending change when the tab goes away.
    let flush = Closure::<dyn Fn()>::new(move || ed.save_now());
    let _ = window().add_event_listener_with_callback("pagehide", flush.as_ref().unchecked_ref());
    flush.forget();

    let waveform_url = data.waveform_url.clone();
    let warnings = Memo::new(move |_| {
        ed.version.track();
        let limits = ed.limits.get();
        ed.cues.with_value(|cues| check_cues(cues, &limits))
    });
    let status_text = move || match ed.save_state.get() {
        SaveState::Saved => match ed.track.get() {
            Some(t) if t.unpublished_changes() => {
                format!("Saved (revision {}), not published yet", t.revision)
            }
            Some(t) => format!("Saved and published (revision {})", t.revision),
            None => "No track yet: import one".to_owned(),
        },
        SaveState::Dirty => "Unsaved changes…".to_owned(),
        SaveState::Saving => "Saving…".to_owned(),
        SaveState::Stale(m) | SaveState::Failed(m) => m,
    };
    view! {
        <div class="subtitle-editor-ui" data-save-state=move || ed.save_state.get().code()
            data-revision=move || ed.track.get().map(|t| t.revision.to_string()).unwrap_or_default()>
            <div class="editor-toolbar" role="toolbar" aria-label="Subtitle editing">
                <TrackPicker ed/>
                <button type="button" class="button" on:click=move |_| ed.undo() disabled=move || !ed.can_undo() aria-keyshortcuts="Control+Z">"Undo"</button>
                <button type="button" class="button" on:click=move |_| ed.redo() disabled=move || !ed.can_redo() aria-keyshortcuts="Control+Shift+Z">"Redo"</button>
                <button type="button" class="button" on:click=move |_| ed.split_at_playhead() aria-keyshortcuts="S">"Split"</button>
                <button type="button" class="button" on:click=move |_| ed.merge_next() aria-keyshortcuts="M">"Merge with next"</button>
                <button type="button" class="button" on:click=move |_| ed.add_at_playhead() aria-keyshortcuts="N">"Add cue"</button>
                <button type="button" class="button danger" on:click=move |_| ed.delete_selected() aria-keyshortcuts="Delete">"Delete cue"</button>
                <button type="button" class="button" on:click=move |_| ed.zoom(0.5, ed.width_px.get_untracked() / 2.0) aria-keyshortcuts="+">"Zoom in"</button>
                <button type="button" class="button" on:click=move |_| ed.zoom(2.0, ed.width_px.get_untracked() / 2.0) aria-keyshortcuts="-">"Zoom out"</button>
                <button type="button" class="button" on:click=move |_| ed.zoom_whole() aria-keyshortcuts="0">"Whole talk"</button>
                <button type="button" class="button" on:click=move |_| ed.save_now() aria-keyshortcuts="Control+S">"Save now"</button>
                <button type="button" class="button primary" on:click=move |_| ed.publish()
                    disabled=move || ed.track.get().is_none_or(|t| !t.unpublished_changes() && t.state == "ready")>"Publish"</button>
            </div>
            <p class="save-status" role="status" aria-live="polite"
                class:stale=move || matches!(ed.save_state.get(), SaveState::Stale(_) | SaveState::Failed(_))>{status_text}</p>
            <p class="editor-notice" role="status" aria-live="polite">{move || ed.notice.get()}</p>
            <Timeline ed waveform_url warnings/>
            <div class="editor-columns">
                <SelectedCue ed warnings/>
                <Warnings ed warnings/>
            </div>
            <ImportExport ed/>
        </div>
    }
}

#[component]
fn TrackPicker(ed: Ed) -> impl IntoView {
    view! {
        <label class="track-picker">"Track "
            <select on:change=move |ev| {
                if let Ok(id) = event_value(&ev).parse::<Uuid>() {
                    ed.save_now();
                    ed.load_track(id);
                }
            }>
                {move || {
                    let current = ed.track.get().map(|t| t.id);
                    ed.tracks.get().into_iter().map(|t| {
                        let label = format!("{} · {} cues{}", t.label, t.cue_count,
                            if t.unpublished_changes() { " · unpublished changes" } else { "" });
                        view! { <option value=t.id.to_string() selected=current == Some(t.id)>{label}</option> }
                    }).collect_view()
                }}
            </select>
        </label>
    }
}

#[component]
fn SelectedCue(
    ed: Ed,
    warnings: Memo<Vec<ferrotape_model::subtitles::CueWarning>>,
) -> impl IntoView {
    let cue = move || {
        ed.panel.track();
        let i = ed.selected.get()?;
        ed.cues
            .with_value(|cues| cues.get(i).cloned())
            .map(|c| (i, c))
    };
    view! {
        <section class="editor-panel selected-cue" aria-labelledby="selected-cue-heading">
            <h2 id="selected-cue-heading">"Cue"</h2>
            {move || match cue() {
                None => view! { <p class="field-hint">"Select a cue on the timeline (click it, or ← →), or add one with N."</p> }.into_any(),
                Some((i, c)) => {
                    let words = c.words.clone();
                    view! {
                        <p class="cue-number">{format!("Cue {} of {}", i + 1, ed.cues.with_value(Vec::len))}</p>
                        <div class="cue-times">
                            <label>"Start "
                                <input type="text" inputmode="decimal" value=format_ms(c.start_ms) aria-describedby="time-format"
                                    on:change=move |ev| match parse_time(&event_value(&ev)) {
                                        Some(ms) => ed.set_cue_times(i, Some(ms), None),
                                        None => ed.notice.set("Times are seconds, m:ss.mmm or h:mm:ss.mmm.".into()),
                                    }/>
                            </label>
                            <label>"End "
                                <input type="text" inputmode="decimal" value=format_ms(c.end_ms) aria-describedby="time-format"
                                    on:change=move |ev| match parse_time(&event_value(&ev)) {
                                        Some(ms) => ed.set_cue_times(i, None, Some(ms)),
                                        None => ed.notice.set("Times are seconds, m:ss.mmm or h:mm:ss.mmm.".into()),
                                    }/>
                            </label>
                            <span id="time-format" class="field-hint">"h:mm:ss.mmm"</span>
                        </div>
                        <label for="cue-text">"Text"</label>
                        <textarea id="cue-text" rows="3" class="cue-text"
                            prop:value=c.text.clone()
                            on:input=move |ev| ed.set_text(i, event_value(&ev))></textarea>
                        {(!words.is_empty()).then(|| view! {
                            <p class="field-hint">"Words (uncertain ones marked; click a word to split the cue before it):"</p>
                            <p class="cue-words">
                                {words.into_iter().enumerate().map(|(w, word)| {
                                    let low = word.probability < LOW_PROBABILITY;
                                    let label = format!("Split before “{}” ({:.0} % sure)", word.text.trim(), word.probability * 100.0);
                                    view! {
                                        <button type="button" class="word" class:low-probability=low
                                            title=label.clone() aria-label=label disabled=w == 0
                                            on:click=move |_| ed.split_at_word(i, w)>{word.text.clone()}</button>
                                    }
                                }).collect_view()}
                            </p>
                        })}
                        <ul class="cue-warnings">
                            {move || warnings.get().into_iter().filter(|w| w.cue_index == i)
                                .map(|w| view! { <li>{w.message}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn Warnings(ed: Ed, warnings: Memo<Vec<ferrotape_model::subtitles::CueWarning>>) -> impl IntoView {
    let limit_input =
        move |label: &'static str, get: fn(&CheckLimits) -> f64, set: fn(&mut CheckLimits, f64)| {
            view! {
                <label>{label}" "
                    <input type="number" min="0" step="1" value=get(&ed.limits.get_untracked())
                        on:change=move |ev| {
                            if let Ok(v) = event_value(&ev).parse::<f64>() && v >= 0.0 {
                                ed.limits.update(|l| set(l, v));
                            }
                        }/>
                </label>
            }
        };
    view! {
        <section class="editor-panel warnings" aria-labelledby="warnings-heading">
            <h2 id="warnings-heading">{move || format!("Warnings ({})", warnings.get().len())}</h2>
            <details class="limits">
                <summary>"Thresholds"</summary>
                {limit_input("Characters per second", |l| l.max_chars_per_second as f64, |l, v| l.max_chars_per_second = v as f32)}
                {limit_input("Characters per line", |l| l.max_line_chars as f64, |l, v| l.max_line_chars = v as usize)}
                {limit_input("Lines", |l| l.max_lines as f64, |l, v| l.max_lines = v as usize)}
                {limit_input("Shortest cue (ms)", |l| l.min_duration_ms as f64, |l, v| l.min_duration_ms = v as u64)}
                {limit_input("Smallest gap (ms)", |l| l.min_gap_ms as f64, |l, v| l.min_gap_ms = v as u64)}
            </details>
            <ul class="warning-list">
                {move || warnings.get().into_iter().take(100).map(|w| {
                    let i = w.cue_index;
                    view! { <li><button type="button" class="link-button" on:click=move |_| ed.select(i)>{format!("Cue {}: {}", i + 1, w.message)}</button></li> }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn ImportExport(ed: Ed) -> impl IntoView {
    let language = RwSignal::new("en".to_owned());
    let file_ref = NodeRef::<leptos::html::Input>::new();
    let import = move |_| {
        let Some(input) = file_ref.get_untracked() else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            ed.notice.set("Choose a .vtt or .srt file first.".into());
            return;
        };
        let lang = language.get_untracked().trim().to_owned();
        let existing = ed
            .tracks
            .get_untracked()
            .into_iter()
            .find(|t| t.language.eq_ignore_ascii_case(&lang));
        if existing.is_some() {
            let confirmed = window()
                .confirm_with_message(&format!(
                    "Replace the cues of the {lang} track with this file?"
                ))
                .unwrap_or(false);
            if !confirmed {
                return;
            }
        }
        let name = file.name();
        let url = format!(
            "/api/v1/talks/{}/subtitles?language={}&filename={}",
            ed.talk.get_value(),
            String::from(js_sys::encode_uri_component(&lang)),
            String::from(js_sys::encode_uri_component(&name))
        );
        ed.notice.set(format!("Importing {name}…"));
        ed.save_now();
        spawn_local(async move {
            let answer = api::call(
                "POST",
                &url,
                existing.map(|t| t.revision),
                Some(file.into()),
                Some("text/plain"),
            )
            .await;
            match answer {
                Ok(answer) if answer.ok() => {
                    if let Ok(summary) = serde_json::from_str::<TrackSummary>(&answer.body) {
                        ed.notice.set(format!(
                            "Imported {} cues into {}.",
                            summary.cue_count, summary.label
                        ));
                        ed.load_track(summary.id);
                    }
                }
                Ok(answer) if answer.status == 412 => ed.notice.set(
                    "Not imported: the track changed meanwhile. Reload the page and try again."
                        .into(),
                ),
                Ok(answer) => ed.notice.set(format!("Not imported: {}", answer.message())),
                Err(err) => ed.notice.set(format!("Not imported: {err}")),
            }
        });
    };
    let export = move |format: &'static str| {
        move || {
            ed.track.get().map(|t| {
                format!(
                    "/api/v1/talks/{}/subtitles/{}/export?format={format}",
                    ed.talk.get_value(),
                    t.id
                )
            })
        }
    };
    view! {
        <section class="editor-panel import-export" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import and export"</h2>
            <div class="inline-form">
                <label>"Language " <input type="text" size="6" prop:value=move || language.get()
                    on:input=move |ev| language.set(event_value(&ev)) aria-describedby="import-hint"/></label>
                <label>"File " <input type="file" accept=".vtt,.srt,text/vtt" node_ref=file_ref/></label>
                <button type="button" class="button" on:click=import>"Import"</button>
            </div>
            <p id="import-hint" class="field-hint">"A WebVTT or SubRip file (UTF-8, at most 8 MiB). A language that has a track gets its cues replaced; a new language becomes a new track. A file with any error is refused whole, with the lines to fix."</p>
            <p>
                <a class="button" href=export("vtt") download="">"Export .vtt"</a>" "
                <a class="button" href=export("srt") download="">"Export .srt"</a>
            </p>
        </section>
    }
}
