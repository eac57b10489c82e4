//! The public-page micro-cache: anonymous viewers share recent renders; anyone with a cookie,
//! other hosts and other URLs get their own.

use crate::common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{SITE, TestApp, TestResponse, insert_talk, insert_tenant};
use ferrotape_model::TenantId;
use time::OffsetDateTime;

fn published() -> Option<OffsetDateTime> {
    Some(OffsetDateTime::now_utc() - time::Duration::days(1))
}

async fn get(app: &TestApp, path: &str, host: &str, cookie: Option<&str>) -> TestResponse {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", host);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    app.request(request.body(Body::empty()).unwrap()).await
}

/// A page with its script nonces blanked out.
fn without_nonces(html: &str) -> String {
    let mut parts = html.split("nonce=\"");
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        out.push_str("nonce=\"");
        out.push_str(part.split_once('"').map_or("", |(_, rest)| rest));
    }
    out
}

fn cache_status(response: &TestResponse) -> &str {
    response
        .headers
        .get("x-ferrotape-cache")
        .map_or("none", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn anonymous_viewers_share_a_recent_render_and_everyone_else_gets_a_fresh_one() {
    let app = TestApp::spawn_with_page_cache(Duration::from_secs(600)).await;
    let t = TenantId::DEFAULT;
    insert_talk(&app.pool, t, "first", "First talk", published(), &[]).await;

    let first = get(&app, "/", SITE, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(cache_status(&first), "miss");
    assert!(first.body.contains("First talk"));

    // A talk published now: anonymous viewers keep getting the cached catalog (for the TTL)...
    insert_talk(&app.pool, t, "second", "Second talk", published(), &[]).await;
    let again = get(&app, "/", SITE, None).await;
    assert_eq!(cache_status(&again), "hit");
    assert_eq!(
        without_nonces(&again.body),
        without_nonces(&first.body),
        "the same page (each copy has its own script nonce)"
    );
    assert!(!again.body.contains("Second talk"));

    // ...while a signed-in editor (any cookie) sees it at once, and never fills the cache.
    let editor = get(&app, "/", SITE, Some("ft_access=x")).await;
    assert_eq!(cache_status(&editor), "none");
    assert!(editor.body.contains("Second talk"));

    // Other URLs are separate entries.
    let search = get(&app, "/?q=second", SITE, None).await;
    assert_eq!(cache_status(&search), "miss");
    assert!(search.body.contains("Second talk"));

    // Another tenant's host gets its own catalog, not the cached one of the default tenant.
    let beta = insert_tenant(&app.pool, "beta").await;
    ferrotape_store::tenants::add_host(&app.pool, beta, "talks.beta.test")
        .await
        .unwrap();
    insert_talk(&app.pool, beta, "beta", "Beta talk", published(), &[]).await;
    let beta_page = get(&app, "/", "talks.beta.test", None).await;
    assert_eq!(cache_status(&beta_page), "miss");
    assert!(beta_page.body.contains("Beta talk"));
    assert!(!beta_page.body.contains("First talk"));
    // An unmapped Host header is the default tenant on the site's own origin: it may share
    // the cached page, which therefore never carries a forged host.
    let forged = get(&app, "/", "evil.example", None).await;
    assert!(forged.body.contains("First talk"));
    assert!(!forged.body.contains("evil.example"));

    // Not-found pages are cached too (a crawler hammering dead links); private pages never.
    let missing = get(&app, "/talks/nope", SITE, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        cache_status(&get(&app, "/talks/nope", SITE, None).await),
        "hit"
    );
    let studio = get(&app, "/studio", SITE, None).await;
    assert_eq!(cache_status(&studio), "none");
    let api = get(&app, "/robots.txt", SITE, None).await;
    assert_eq!(cache_status(&api), "none");
}

#[tokio::test]
async fn a_zero_ttl_turns_the_cache_off() {
    let app = TestApp::spawn().await;
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "a",
        "A talk",
        published(),
        &[],
    )
    .await;
    let first = get(&app, "/", SITE, None).await;
    assert_eq!(cache_status(&first), "none");
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "b",
        "B talk",
        published(),
        &[],
    )
    .await;
    let second = get(&app, "/", SITE, None).await;
    assert!(second.body.contains("B talk"));
}

#[tokio::test]
async fn a_renamed_talks_old_address_stops_serving_the_cached_page() {
    let app = TestApp::spawn_with_page_cache(Duration::from_millis(200)).await;
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "old-name",
        "Renamed talk",
        published(),
        &[],
    )
    .await;
    assert_eq!(
        cache_status(&get(&app, "/talks/old-name", SITE, None).await),
        "miss"
    );
    sqlx::query("UPDATE talks SET slug = 'new-name' WHERE slug = 'old-name'")
        .execute(&app.pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The first request after the TTL may still get the old copy while the page is rendered
    // again; that render answers 301, and the copy goes with it (it was served on for up to
    // 10 s, the longest a stale page is kept).
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let moved = loop {
        let response = get(&app, "/talks/old-name", SITE, None).await;
        if response.status == StatusCode::MOVED_PERMANENTLY || std::time::Instant::now() > deadline
        {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        moved.status,
        StatusCode::MOVED_PERMANENTLY,
        "{}",
        moved.body
    );
    assert_eq!(moved.headers["location"], "/talks/new-name");
}
