//! The wasm entry point: hydrates the server-rendered page and nothing else.

// The watch page's view types are deep; laying them out in release builds needs more than
// the default 128.
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ferrotape_app::App);
}
