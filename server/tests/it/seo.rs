//! `/robots.txt` and `/sitemap.xml`: published talks only, the video extension for talks that
//! can be watched, the tenant's own talks, links on the trusted origin, hostile titles escaped.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{SITE, TestApp, insert_ready_video, insert_talk};
use ferrotape_model::TenantId;
use time::OffsetDateTime;

async fn talk(app: &TestApp, slug: &str, title: &str, published: bool) -> uuid::Uuid {
    let published_at = published.then(|| OffsetDateTime::now_utc() - time::Duration::hours(1));
    insert_talk(&app.pool, TenantId::DEFAULT, slug, title, published_at, &[]).await
}

async fn get(app: &TestApp, path: &str, host: &str) -> common::TestResponse {
    app.request(
        Request::get(path)
            .header("host", host)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn the_sitemap_lists_published_talks_with_their_videos() {
    let app = TestApp::spawn().await;
    let watchable = talk(&app, "watchable", "Rust <at> scale & more", true).await;
    talk(&app, "no-video-yet", "Coming soon", true).await;
    talk(&app, "draft", "A draft", false).await;
    insert_ready_video(&app.pool, TenantId::DEFAULT, watchable, 1834500).await;

    let sitemap = get(&app, "/sitemap.xml", SITE).await;
    assert_eq!(sitemap.status, StatusCode::OK);
    assert_eq!(
        sitemap.headers["content-type"],
        "application/xml; charset=utf-8"
    );
    let xml = sitemap.body;
    let origin = format!("http://{SITE}");
    assert!(
        xml.contains(&format!("<loc>{origin}/talks/watchable</loc>")),
        "{xml}"
    );
    assert!(xml.contains(&format!("<loc>{origin}/talks/no-video-yet</loc>")));
    assert!(!xml.contains("draft"), "drafts stay out: {xml}");
    assert_eq!(xml.matches("<video:video>").count(), 1, "{xml}");
    assert!(xml.contains("<video:title>Rust &lt;at&gt; scale &amp; more</video:title>"));
    assert!(xml.contains(&format!(
        "<video:content_loc>{origin}/media/t/v/hls/master.m3u8</video:content_loc>"
    )));
    assert!(xml.contains("<video:duration>1834</video:duration>"));

    let robots = get(&app, "/robots.txt", SITE).await;
    assert_eq!(robots.status, StatusCode::OK);
    assert!(
        robots
            .body
            .contains(&format!("Sitemap: {origin}/sitemap.xml"))
    );
    assert!(robots.body.contains("Disallow: /studio"));
}

#[tokio::test]
async fn an_unknown_host_header_never_reaches_the_links() {
    let app = TestApp::spawn().await;
    talk(&app, "hello", "Hello", true).await;
    // An unmapped host falls back to the default tenant; its links use the configured origin.
    let sitemap = get(&app, "/sitemap.xml", "evil.example").await;
    assert_eq!(sitemap.status, StatusCode::OK);
    assert!(!sitemap.body.contains("evil.example"), "{}", sitemap.body);
    assert!(
        sitemap
            .body
            .contains(&format!("<loc>http://{SITE}/talks/hello</loc>"))
    );
    let robots = get(&app, "/robots.txt", "evil.example").await;
    assert!(!robots.body.contains("evil.example"), "{}", robots.body);
}
