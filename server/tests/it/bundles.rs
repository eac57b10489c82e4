//! Which browser bundle a page loads: the public viewer pages the small islands bundle
//! (`viewer/`), every other page the whole app's; and the islands' props survive any title.

use crate::common;

use axum::http::StatusCode;
use common::{TestApp, insert_ready_video, insert_talk};
use ferrotape_app::islands::{PlayerProps, ShareProps};
use ferrotape_model::TenantId;
use time::OffsetDateTime;

const HOSTILE: &str = r#"</div><script>alert("x")</script> & 'quotes' <b>"#;

async fn watchable_talk(app: &TestApp, slug: &str, title: &str) -> uuid::Uuid {
    let published = Some(OffsetDateTime::now_utc() - time::Duration::hours(1));
    let id = insert_talk(&app.pool, TenantId::DEFAULT, slug, title, published, &[]).await;
    insert_ready_video(&app.pool, TenantId::DEFAULT, id, 61500).await;
    id
}

/// The wasm bundle a page's head preloads (`viewer` or `ferrotape`).
fn bundle(html: &str) -> Vec<&str> {
    let mut names: Vec<&str> = html
        .match_indices("/pkg/")
        .filter_map(|(at, _)| html[at + 5..].split_once(".wasm").map(|(name, _)| name))
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    names.dedup();
    names
}

/// The `data-props` of the island of `kind`, decoded from its HTML attribute.
fn island_props(html: &str, kind: &str) -> String {
    let marker = format!(r#"data-island="{kind}" data-props=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {kind} island in {html}"))
        + marker.len();
    let raw = &html[start..start + html[start..].find('"').unwrap()];
    raw.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn public_pages_load_the_viewer_bundle_and_the_rest_the_app() {
    let app = TestApp::spawn().await;
    let id = watchable_talk(&app, "watch-me", "Watch me").await;
    for path in [
        "/".to_owned(),
        "/?q=watch".to_owned(),
        "/talks/watch-me".to_owned(),
        format!("/embed/{id}"),
        "/speakers/nobody".to_owned(),
    ] {
        let page = app.get(&path).await;
        assert_eq!(bundle(&page.body), ["viewer"], "{path}");
        assert!(page.body.contains(r#"href="/pkg/viewer.js""#), "{path}");
    }
    for path in ["/login", "/signup", "/forgot-password", "/nowhere"] {
        let page = app.get(path).await;
        assert_eq!(bundle(&page.body), ["ferrotape"], "{path}");
    }
}

#[tokio::test]
async fn pages_with_a_player_preload_its_engine() {
    let app = TestApp::spawn().await;
    let id = watchable_talk(&app, "watch-me", "Watch me").await;
    let preload =
        r#"<link as="script" fetchpriority="low" href="/vendor/hls.light.min.js" rel="preload">"#;
    for path in ["/talks/watch-me".to_owned(), format!("/embed/{id}")] {
        let page = app.get(&path).await;
        assert_eq!(
            page.body.matches(preload).count(),
            1,
            "{path}: {}",
            page.body
        );
    }
    // Nothing to play, nothing to preload.
    sqlx::query("DELETE FROM videos")
        .execute(&app.pool)
        .await
        .unwrap();
    for path in [
        "/talks/watch-me".to_owned(),
        format!("/embed/{id}"),
        "/".to_owned(),
    ] {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("hls.light.min.js"), "{path}");
    }
}

#[tokio::test]
async fn island_props_carry_hostile_titles_intact_and_inert() {
    let app = TestApp::spawn().await;
    let id = watchable_talk(&app, "hostile", HOSTILE).await;

    let page = app.get("/talks/hostile").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    let player: PlayerProps = serde_json::from_str(&island_props(&page.body, "player")).unwrap();
    assert_eq!(player.title, HOSTILE);
    assert_eq!(player.video.master_url, "/media/t/v/hls/master.m3u8");
    assert_eq!(player.duration_hint, Some(62));
    assert_eq!((player.start_at, player.embedded), (0, false));
    let share: ShareProps = serde_json::from_str(&island_props(&page.body, "share")).unwrap();
    assert_eq!(share.title, HOSTILE);
    assert!(
        share.page_url.ends_with("/talks/hostile"),
        "{}",
        share.page_url
    );
    assert!(share.embed_url.ends_with(&format!("/embed/{id}")));

    // The start time and the embed options reach the island as the server parsed them.
    let page = app.get("/talks/hostile?t=1m5s").await;
    let player: PlayerProps = serde_json::from_str(&island_props(&page.body, "player")).unwrap();
    assert_eq!(player.start_at, 65);
    let page = app.get(&format!("/embed/{id}?autoplay=1&t=7")).await;
    assert!(!page.body.contains("<script>alert"));
    let player: PlayerProps = serde_json::from_str(&island_props(&page.body, "player")).unwrap();
    assert_eq!(
        (player.start_at, player.embedded, player.autoplay_muted),
        (7, true, true)
    );
}
