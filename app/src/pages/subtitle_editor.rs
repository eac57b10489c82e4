//! `/studio/talks/{id}/subtitles`: the subtitle editor. The app renders the page — the real
//! player, an element carrying the editor's data, the keyboard shortcuts — and a module script
//! that loads the editor's own wasm bundle (`subtitle-editor/`, `/pkg/subtitle_editor.*`),
//! which mounts the timeline there once the app has hydrated. No other page loads that
//! bundle, and the app's bundle holds none of the editor's code.

use ferrotape_model::catalog::PlayableVideo;
use ferrotape_model::subtitles::SubtitleEditorData;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::AppError;
use crate::api::subtitle_editor::load_subtitle_editor;
use crate::components::player::Player;
use crate::pages::not_found::NotFound;
use crate::pages::studio::AccessRefused;

/// The editor bundle's name under `/pkg/`.
pub const EDITOR_BUNDLE: &str = "subtitle_editor";

/// Loads the editor bundle; its start function mounts the editor. No `<`, `>` or `&`, and set
/// as the element's raw content, so nothing is escaped.
const LOADER: &str = "import init from \"/pkg/subtitle_editor.js\"; \
     init({ module_or_path: \"/pkg/subtitle_editor.wasm\" });";

/// Every shortcut of the editor, as the page documents them.
pub const SHORTCUTS: [(&str, &str); 17] = [
    ("Space", "play or pause"),
    (
        "← / →",
        "select the previous or next cue (the player seeks to it)",
    ),
    (
        "Alt+← / Alt+→",
        "move the selected cue by 0.1 s (with Shift: 1 s)",
    ),
    (
        ", / .",
        "move the selected cue's start 0.1 s earlier or later",
    ),
    (
        "< / >",
        "move the selected cue's end 0.1 s earlier or later",
    ),
    (
        "S",
        "split the selected cue at the playhead (or in the middle)",
    ),
    ("M", "merge the selected cue with the next one"),
    ("N", "add a cue at the playhead"),
    ("Delete", "delete the selected cue"),
    ("Enter", "edit the selected cue's text"),
    ("Escape", "leave the text field, back to the timeline"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z or Ctrl+Y", "redo"),
    ("+ / -", "zoom in or out"),
    ("0", "show the whole talk"),
    (
        "Ctrl+S",
        "save now (changes are saved by themselves a moment after you stop)",
    ),
    (
        "Alt while dragging",
        "drag without snapping to words and neighbouring cues",
    ),
];

#[component]
pub fn SubtitleEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, load_subtitle_editor);
    view! {
        <section class="subtitle-editor-page" aria-labelledby="subtitles-heading">
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading the subtitles…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <EditorPage data/> }.into_any(),
                        Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn EditorPage(data: SubtitleEditorData) -> impl IntoView {
    let props = serde_json::to_string(&data).unwrap_or_default();
    let back = format!("/studio/talks/{}", data.talk_id);
    let player = data.master_url.clone().map(|master_url| {
        let video = PlayableVideo {
            id: data.talk_id,
            master_url,
            poster_url: data.poster_url.clone(),
            thumbnails_url: None,
            width: None,
            height: None,
            processing: false,
            available_seconds: None,
            captions: Vec::new(),
        };
        view! {
            <div class="subtitle-player">
                <Player video title=data.title.clone() duration_hint=Some(data.duration_ms / 1000)/>
            </div>
        }
    });
    let nonce = leptos::nonce::use_nonce();
    view! {
        <Title text=format!("Subtitles: {}", data.title)/>
        // A full page load, so the page's loader script runs and fetches the editor bundle.
        <p class="breadcrumb"><a href=back rel="external">"← Back to the talk"</a></p>
        <h1 id="subtitles-heading"><span class="visually-hidden">"Subtitles of "</span>{data.title.clone()}</h1>
        {player}
        <div id="subtitle-editor" class="subtitle-editor" data-props=props>
            <p class="editor-loading" role="status">"Loading the subtitle editor…"</p>
            <noscript><p>"The subtitle editor needs JavaScript. Tracks can also be imported, exported and published through the REST API (/api/v1/docs)."</p></noscript>
        </div>
        <section class="editor-panel shortcuts" aria-labelledby="editor-shortcuts-heading">
            <h2 id="editor-shortcuts-heading">"Keyboard shortcuts"</h2>
            <p class="field-hint">"On the timeline (outside text fields). Cues are blocks over the waveform: drag one to move it, its edges to trim it; edges snap to word boundaries and neighbouring cues. Uncertain words are marked."</p>
            <dl id="editor-shortcuts" class="shortcut-list">
                {SHORTCUTS.into_iter().map(|(keys, what)| view! { <dt><kbd>{keys}</kbd></dt><dd>{what}</dd> }).collect_view()}
            </dl>
        </section>
        <script type="module" nonce=nonce inner_html=LOADER></script>
    }
}
