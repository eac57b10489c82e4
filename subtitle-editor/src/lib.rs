//! The subtitle editor: the wasm bundle of `/studio/talks/{id}/subtitles` and of no other
//! page, so nothing else downloads it. The app renders the page (the player, an element
//! carrying the editor's data, the shortcut list) and a module script that loads this bundle;
//! once the app has hydrated (`body[data-hydrated]`), [`start`] mounts the editor in that
//! element.
//!
//! The cues live in one `StoredValue<Vec<Cue>>` with a version signal bumped once per
//! committed change. The timeline renders only the cues inside its window; a drag moves the
//! dragged block's element directly on every pointer move (O(1): no signal, no re-render) and
//! commits the cue once, on release. Edits use `model::subtitles` (split, merge, snap, checks),
//! the same code the server validates with. Changes are saved (debounced) through the REST
//! API with the revision they are based on; a save refused as stale stops autosaving and says
//! so, and nothing is overwritten.

#![recursion_limit = "512"]

mod api;
mod editor;
mod timeline;

use ferrotape_model::subtitles::SubtitleEditorData;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The element the page renders for the editor.
const ROOT_ID: &str = "subtitle-editor";

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    when_hydrated(0, mount);
}

/// Runs `then` once the app bundle has hydrated the page (so the editor never mounts into
/// markup the app is still claiming), or after 10 s without it.
fn when_hydrated(tries: u32, then: fn()) {
    let hydrated = document()
        .body()
        .is_some_and(|b| b.has_attribute("data-hydrated"));
    if hydrated || tries > 200 {
        then();
        return;
    }
    let retry = Closure::once_into_js(move || when_hydrated(tries + 1, then));
    if let Some(window) = web_sys::window() {
        let _ =
            window.set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), 50);
    }
}

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("a document")
}

fn mount() {
    let Some(root) = document().get_element_by_id(ROOT_ID) else {
        return;
    };
    let data: SubtitleEditorData = match root
        .get_attribute("data-props")
        .map(|json| serde_json::from_str(&json))
    {
        Some(Ok(data)) => data,
        Some(Err(err)) => {
            root.set_text_content(Some(&format!(
                "The subtitle editor cannot start: its data is unreadable ({err})."
            )));
            return;
        }
        None => return,
    };
    if let Ok(Some(loading)) = root.query_selector(".editor-loading") {
        let _ = loading.set_attribute("hidden", "");
    }
    let Ok(host) = document().create_element("div") else {
        return;
    };
    let _ = host.set_attribute("class", "editor-app");
    let _ = root.append_child(&host);
    let Ok(host) = host.dyn_into::<web_sys::HtmlElement>() else {
        return;
    };
    leptos::mount::mount_to(host, move || editor::view(data)).forget();
    let _ = root.set_attribute("data-editor", "ready");
}
