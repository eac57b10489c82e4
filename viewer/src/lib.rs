//! The wasm entry point of the public viewer pages (catalog, speaker, watch, embed): hydrates
//! their islands and nothing else, so a viewer downloads the player, not the studio. The
//! server picks this bundle or the app's (`frontend/`) per page: `ferrotape_app::islands`.

// The player's view types are deep; laying them out in release builds needs more than the
// default 128.
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    ferrotape_app::islands::hydrate_viewer_page();
}
