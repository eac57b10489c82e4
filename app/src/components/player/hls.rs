//! wasm-bindgen bindings for the parts of hls.js (the `Hls` global of `hls.light.min.js`, pinned in
//! package.json and copied to `/vendor/` by the build) that the player uses.
//! API reference: <https://github.com/video-dev/hls.js/blob/master/docs/API.md>.

use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// One hls.js instance, bound to one `<video>`.
    #[derive(Debug, Clone)]
    pub type Hls;

    /// Whether this browser has Media Source Extensions hls.js can feed.
    #[wasm_bindgen(static_method_of = Hls, js_name = isSupported)]
    pub fn is_supported() -> bool;

    #[wasm_bindgen(constructor)]
    pub fn new(config: &JsValue) -> Hls;

    #[wasm_bindgen(method, js_name = loadSource)]
    pub fn load_source(this: &Hls, url: &str);

    #[wasm_bindgen(method, js_name = attachMedia)]
    pub fn attach_media(this: &Hls, media: &web_sys::HtmlMediaElement);

    #[wasm_bindgen(method)]
    pub fn on(this: &Hls, event: &str, listener: &Function);

    #[wasm_bindgen(method)]
    pub fn destroy(this: &Hls);

    #[wasm_bindgen(method, js_name = startLoad)]
    pub fn start_load(this: &Hls, start_position: f64);

    #[wasm_bindgen(method, js_name = recoverMediaError)]
    pub fn recover_media_error(this: &Hls);

    /// The variant streams of the master playlist, lowest first.
    #[wasm_bindgen(method, getter)]
    pub fn levels(this: &Hls) -> Vec<Level>;

    /// The level playing now (-1 before the first fragment).
    #[wasm_bindgen(method, getter, js_name = currentLevel)]
    pub fn current_level(this: &Hls) -> i32;

    /// Pins a level immediately (flushing the buffer); -1 returns to automatic selection.
    #[wasm_bindgen(method, setter, js_name = currentLevel)]
    pub fn set_current_level(this: &Hls, level: i32);

    #[wasm_bindgen(method, getter, js_name = autoLevelEnabled)]
    pub fn auto_level_enabled(this: &Hls) -> bool;

    /// A variant stream.
    #[derive(Debug, Clone)]
    pub type Level;

    #[wasm_bindgen(method, getter)]
    pub fn height(this: &Level) -> u32;

    #[wasm_bindgen(method, getter)]
    pub fn width(this: &Level) -> u32;

    /// Peak bits per second from `BANDWIDTH`.
    #[wasm_bindgen(method, getter)]
    pub fn bitrate(this: &Level) -> f64;
}

/// Event names (`Hls.Events.*` values).
pub mod events {
    pub const MANIFEST_PARSED: &str = "hlsManifestParsed";
    pub const LEVEL_SWITCHED: &str = "hlsLevelSwitched";
    pub const ERROR: &str = "hlsError";
}

/// Whether the `Hls` global is defined (its script has run).
pub fn loaded() -> bool {
    js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str("Hls")).unwrap_or(false)
}
