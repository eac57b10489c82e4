//! This browser's anonymous viewer id: a random UUID in localStorage (`ferrotape.viewer`) that
//! ties an anonymous viewer's plays to their library (continue watching, watch later, history)
//! until they sign in and it merges into their account. Browser-only.
//!
//! The id is made on first need (a play, a save) and never when the browser sends Global
//! Privacy Control or Do Not Track: then nothing but aggregate counts is kept.

use uuid::Uuid;
use wasm_bindgen::JsValue;

use super::player::beacons::viewer_id_allowed;

/// The anonymous viewer id in `localStorage`.
const VIEWER_KEY: &str = "ferrotape.viewer";

/// A version-4 UUID from the browser's cryptographic random numbers.
pub fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn allowed(window: &web_sys::Window) -> bool {
    let navigator: JsValue = window.navigator().into();
    let get = |key: &str| {
        js_sys::Reflect::get(&navigator, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    };
    viewer_id_allowed(
        get("globalPrivacyControl").as_bool(),
        get("doNotTrack").as_string().as_deref(),
    )
}

/// The id this browser already has, if it has one and its privacy signals allow it (reads
/// never make one: a first visit has no library to read).
pub fn stored_viewer_id() -> Option<Uuid> {
    let window = web_sys::window()?;
    if !allowed(&window) {
        return None;
    }
    window
        .local_storage()
        .ok()??
        .get_item(VIEWER_KEY)
        .ok()
        .flatten()
        .and_then(|text| Uuid::parse_str(&text).ok())
}

/// This browser's id, made on first use, unless its privacy signals say no or it keeps no
/// storage.
pub fn viewer_id() -> Option<Uuid> {
    if let Some(id) = stored_viewer_id() {
        return Some(id);
    }
    let window = web_sys::window()?;
    if !allowed(&window) {
        return None;
    }
    let id = random_uuid();
    window
        .local_storage()
        .ok()??
        .set_item(VIEWER_KEY, &id.to_string())
        .ok()?;
    Some(id)
}

/// Runs `work` once the component being built is live in the browser: right away when the
/// browser builds it (a client-side navigation), after hydration when it hydrates the server's
/// HTML. The server cannot see localStorage, so a hydrating component must first render what
/// the server rendered and only then read the id.
pub fn once_live(work: impl Fn() + 'static) {
    let hydrating = leptos::prelude::Owner::current_shared_context()
        .is_some_and(|context| context.during_hydration());
    if hydrating {
        leptos::prelude::Effect::new(move |_| work());
    } else {
        work();
    }
}
