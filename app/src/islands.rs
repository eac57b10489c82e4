//! Islands: the few interactive parts of the public viewer pages (catalog, speaker, watch and
//! embed pages), hydrated by the small viewer bundle (`viewer/`) instead of the whole app.
//!
//! A viewer landing on a shared link should not download the studio, the account forms and the
//! router to watch one talk: the app's bundle is ~760 KiB gzipped, the viewer bundle carries
//! only the player, the share dialog, the library's row and button and the menu button. The server picks the bundle per page
//! (`bundle_for_path`); pages reached by client-side navigation inside the full app render these
//! same components through the full bundle, so both paths run one implementation.
//!
//! Each island is a `<div class="island" data-island=KIND data-props=JSON>` around a component
//! rendered on the server. The viewer bundle reads the JSON back and hydrates the component in
//! place; the props are the very values the server rendered with, so the DOM matches.

use ferrotape_model::PlayableVideo;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::library::{ContinueWatching, WatchLaterButton};
use crate::components::player::Player;
use crate::components::player::live::LivePlayer;
use crate::components::share::ShareButton;

/// Output name of the viewer bundle (`/pkg/viewer.js`, `/pkg/viewer.wasm`).
pub const VIEWER_BUNDLE: &str = "viewer";

/// Whether `path` is a public viewer page (catalog, watch, speaker, embed): the same HTML for
/// every anonymous viewer (the server's page cache keeps it) and nothing interactive but
/// islands (it loads the viewer bundle).
pub fn is_public_page(path: &str) -> bool {
    path == "/"
        || ["/talks/", "/embed/", "/speakers/"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
        || is_live_page(path)
}

/// `/live/{id}`, the live watch page (not its playlists and segments below it).
fn is_live_page(path: &str) -> bool {
    path.strip_prefix("/live/")
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// The address of a public page reduced to what its rendering depends on: the path and the
/// query parameters the page reads, parsed the way the router parses them for the page and
/// written back in one canonical form. Anything else in the query (`?x=1`, a repeated or
/// differently spelled parameter) leaves the page unchanged and so leaves the address
/// unchanged; the page cache keys on it, so junk queries cannot multiply its entries.
pub fn public_page_address(path: &str, query: Option<&str>) -> String {
    use ferrotape_model::{CatalogQuery, time_format};
    let target = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let params = leptos_router::location::RequestUrl::new(&target)
        .parse()
        .map(|url| url.search_params().clone())
        .unwrap_or_default();
    let start = || {
        params
            .get("t")
            .and_then(|t| time_format::parse_start_time(&t))
    };
    let mut canonical = Vec::new();
    if path == "/" {
        let query = CatalogQuery {
            q: params.get("q"),
            tag: params.get("tag"),
            speaker: params.get("speaker"),
            page: CatalogQuery::page_from(params.get("page").as_deref()),
        }
        .normalized();
        return query.href(query.page);
    } else if path.starts_with("/talks/") {
        canonical.extend(start().map(|t| format!("t={t}")));
    } else if path.starts_with("/embed/") {
        canonical.extend(start().map(|t| format!("t={t}")));
        if matches!(params.get("autoplay").as_deref(), Some("1" | "true")) {
            canonical.push("autoplay=1".to_owned());
        }
    } else if path.starts_with("/speakers/") {
        let page = CatalogQuery::page_from(params.get("page").as_deref());
        if page > 1 {
            canonical.push(format!("page={page}"));
        }
    }
    if canonical.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", canonical.join("&"))
    }
}

/// The bundle a server-rendered page loads: the viewer's for the public pages, the full app's
/// (client-side routing, forms, studio) for the rest.
pub fn bundle_for_path(path: &str) -> Option<&'static str> {
    is_public_page(path).then_some(VIEWER_BUNDLE)
}

/// What the player island is rendered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerProps {
    pub video: PlayableVideo,
    pub title: String,
    pub duration_hint: Option<u64>,
    pub start_at: u64,
    #[serde(default)]
    pub embedded: bool,
    #[serde(default)]
    pub autoplay_muted: bool,
    #[serde(default)]
    pub chapters: Vec<ferrotape_model::talk::Chapter>,
    #[serde(default)]
    pub transcript: Vec<ferrotape_model::catalog::TranscriptLine>,
    /// The talk whose views the player reports (`player::beacons`); `None`: none reported.
    #[serde(default)]
    pub talk: Option<uuid::Uuid>,
}

/// What the live player island is rendered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePlayerProps {
    pub stream: uuid::Uuid,
    pub title: String,
    pub master_url: String,
    /// On air when the page was rendered.
    pub live: bool,
    pub viewers: u32,
}

/// What the share island is rendered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareProps {
    pub page_url: String,
    pub embed_url: String,
    pub title: String,
}

/// What the watch-later island is rendered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchLaterProps {
    pub talk: uuid::Uuid,
    /// The watch page, where a plain form post comes back to.
    pub next: String,
}

/// The `data-island` names the server writes and the viewer bundle looks up.
const PLAYER: &str = "player";
const LIVE_PLAYER: &str = "live-player";
const SHARE: &str = "share";
const CONTINUE_WATCHING: &str = "continue-watching";
const WATCH_LATER: &str = "watch-later";

/// The player, as an island. `position` follows playback (the share dialog reads it).
#[component]
pub fn PlayerIsland(props: PlayerProps, position: RwSignal<f64>) -> impl IntoView {
    island(PLAYER, props, move |props| player(props, position))
}

/// The live player, as an island.
#[component]
pub fn LivePlayerIsland(props: LivePlayerProps) -> impl IntoView {
    island(LIVE_PLAYER, props, live_player)
}

fn live_player(props: LivePlayerProps) -> impl IntoView {
    let LivePlayerProps {
        stream,
        title,
        master_url,
        live,
        viewers,
    } = props;
    view! { <LivePlayer stream title master_url live viewers/> }
}

/// The share button and dialog, as an island.
#[component]
pub fn ShareIsland(props: ShareProps, position: RwSignal<f64>) -> impl IntoView {
    island(SHARE, props, move |props| share(props, position))
}

/// The home page's "Continue watching" row, as an island (filled in by the browser).
#[component]
pub fn ContinueWatchingIsland() -> impl IntoView {
    island(CONTINUE_WATCHING, (), |()| view! { <ContinueWatching/> })
}

/// The watch page's "Watch later" button, as an island.
#[component]
pub fn WatchLaterIsland(props: WatchLaterProps) -> impl IntoView {
    island(WATCH_LATER, props, watch_later)
}

fn watch_later(props: WatchLaterProps) -> impl IntoView {
    let WatchLaterProps { talk, next } = props;
    view! { <WatchLaterButton talk next/> }
}

/// The one island markup: what `inside` renders from `props` (the part the viewer bundle
/// hydrates), wrapped in an element that names the island and carries those props.
fn island<P: Serialize, V: IntoView>(
    kind: &'static str,
    props: P,
    inside: impl FnOnce(P) -> V,
) -> impl IntoView {
    let json = serde_json::to_string(&props).unwrap_or_default();
    view! { <div class="island" data-island=kind data-props=json>{inside(props)}</div> }
}

/// The inside of the player island: what the server renders and the browser hydrates.
fn player(props: PlayerProps, position: RwSignal<f64>) -> impl IntoView {
    let PlayerProps {
        video,
        title,
        duration_hint,
        start_at,
        embedded,
        autoplay_muted,
        chapters,
        transcript,
        talk,
    } = props;
    view! {
        <Player video title duration_hint start_at position embedded autoplay_muted chapters transcript talk/>
    }
}

/// The inside of the share island.
fn share(props: ShareProps, position: RwSignal<f64>) -> impl IntoView {
    let ShareProps {
        page_url,
        embed_url,
        title,
    } = props;
    view! { <ShareButton page_url embed_url title position/> }
}

#[cfg(feature = "hydrate")]
pub use browser::hydrate_viewer_page;

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use leptos::mount::hydrate_from;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::HtmlElement;

    /// The island of `kind` on this page and its props, if it is there and its props parse.
    fn find_island<P: for<'de> Deserialize<'de>>(kind: &str) -> Option<(HtmlElement, P)> {
        let element = document()
            .query_selector(&format!(".island[data-island=\"{kind}\"]"))
            .ok()??
            .dyn_into::<HtmlElement>()
            .ok()?;
        let json = element.get_attribute("data-props")?;
        match serde_json::from_str(&json) {
            Ok(props) => Some((element, props)),
            Err(err) => {
                leptos::logging::error!("island {kind}: unreadable props: {err}");
                None
            }
        }
    }

    /// Hydrates every island on the page, wires the menu button and marks the page
    /// interactive (`body[data-hydrated]`, as the full app does).
    pub fn hydrate_viewer_page() {
        let player_island = find_island::<PlayerProps>(PLAYER);
        let start = player_island
            .as_ref()
            .map_or(0, |(_, props)| props.start_at);
        // Shared by the player (writes) and the share dialog (reads), which hydrate as
        // separate roots; created outside both so neither owns it.
        let position = RwSignal::new(start as f64);
        if let Some((root, props)) = player_island {
            hydrate_from(root, move || player(props, position)).forget();
        }
        if let Some((root, props)) = find_island::<LivePlayerProps>(LIVE_PLAYER) {
            hydrate_from(root, move || live_player(props)).forget();
        }
        if let Some((root, props)) = find_island::<ShareProps>(SHARE) {
            hydrate_from(root, move || share(props, position)).forget();
        }
        if let Some((root, ())) = find_island::<()>(CONTINUE_WATCHING) {
            hydrate_from(root, || view! { <ContinueWatching/> }).forget();
        }
        if let Some((root, props)) = find_island::<WatchLaterProps>(WATCH_LATER) {
            hydrate_from(root, move || watch_later(props)).forget();
        }
        wire_menu_toggle();
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    }

    /// The header's menu button on narrow screens. The header itself is not an island (it
    /// is links and a log-out form that work as plain HTML), so the button is wired directly.
    fn wire_menu_toggle() {
        let document = document();
        let (Some(toggle), Some(nav)) = (
            document.query_selector(".menu-toggle").ok().flatten(),
            document.get_element_by_id("site-nav"),
        ) else {
            return;
        };
        let button = toggle.clone();
        let on_click = Closure::<dyn Fn()>::new(move || {
            let open = button.get_attribute("aria-expanded").as_deref() != Some("true");
            let _ = button.set_attribute("aria-expanded", if open { "true" } else { "false" });
            let _ = nav.class_list().toggle_with_force("open", open);
        });
        let _ = toggle.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        on_click.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_viewer_pages_take_the_viewer_bundle() {
        for path in [
            "/",
            "/talks/a-talk",
            "/embed/0b6c",
            "/speakers/ada",
            "/live/0b6c",
        ] {
            assert_eq!(bundle_for_path(path), Some(VIEWER_BUNDLE), "{path}");
        }
    }

    #[test]
    fn app_pages_and_lookalikes_take_the_app_bundle() {
        for path in [
            "/login",
            "/studio",
            "/admin/jobs",
            "/talks",
            "/talksx/a",
            "/embed",
            "//talks/x",
            "/live/",
            "/live/0b6c/master.m3u8",
            "/studio/live",
        ] {
            assert_eq!(bundle_for_path(path), None, "{path}");
        }
    }
}

#[cfg(test)]
mod address_tests {
    use super::public_page_address;

    #[test]
    fn unknown_parameters_do_not_change_the_address_and_known_ones_are_canonical() {
        assert_eq!(public_page_address("/", Some("x=1")), "/");
        assert_eq!(
            public_page_address("/", Some("page=01&q=%20rust%20&x=2")),
            "/?q=rust"
        );
        assert_eq!(
            public_page_address("/", Some("q=a&q=b")),
            public_page_address("/", Some("q=b"))
        );
        assert_ne!(
            public_page_address("/", Some("q=a")),
            public_page_address("/", Some("q=b"))
        );
        assert_eq!(
            public_page_address("/talks/a", Some("t=1m5s&utm=z")),
            "/talks/a?t=65"
        );
        assert_eq!(
            public_page_address("/talks/a", Some("t=nonsense")),
            "/talks/a"
        );
        assert_eq!(
            public_page_address("/embed/1", Some("autoplay=true&t=3")),
            "/embed/1?t=3&autoplay=1"
        );
        assert_eq!(
            public_page_address("/speakers/ada", Some("page=2&y=1")),
            "/speakers/ada?page=2"
        );
        assert_eq!(
            public_page_address("/speakers/ada", Some("page=1")),
            "/speakers/ada"
        );
    }
}
