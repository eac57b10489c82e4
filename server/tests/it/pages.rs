//! The site as a visitor sees it: SSR pages, status codes, escaping, health endpoints.

use crate::common;

use axum::http::StatusCode;
use common::{TestApp, insert_talk, insert_tenant};
use ferrotape_model::TenantId;
use time::{Duration, OffsetDateTime};

/// The page's text without markup (tags and hydration comments removed).
fn text_of(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

fn days_ago(days: i64) -> Option<OffsetDateTime> {
    Some(OffsetDateTime::now_utc() - Duration::days(days))
}

#[tokio::test]
async fn an_empty_catalog_tells_editors_how_to_add_talks() {
    let app = TestApp::spawn().await;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("No talks published yet"),
        "{}",
        page.body
    );
    assert!(page.body.contains("ferrotape seed-demo"));
    assert!(page.body.contains("<title>Talks · Ferrotape</title>"));
}

#[tokio::test]
async fn the_catalog_lists_published_talks_newest_first_with_their_speakers() {
    let app = TestApp::spawn().await;
    let t = TenantId::DEFAULT;
    insert_talk(
        &app.pool,
        t,
        "older",
        "Older talk",
        days_ago(10),
        &[("ada", "Ada")],
    )
    .await;
    insert_talk(
        &app.pool,
        t,
        "newer",
        "Newer talk",
        days_ago(1),
        &[("ada", "Ada"), ("bo", "Bo"), ("cy", "Cy")],
    )
    .await;
    insert_talk(&app.pool, t, "draft", "Draft talk", None, &[]).await;
    insert_talk(
        &app.pool,
        t,
        "scheduled",
        "Scheduled talk",
        Some(OffsetDateTime::now_utc() + Duration::days(3)),
        &[],
    )
    .await;

    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let newer = page.body.find("Newer talk").expect("newer talk listed");
    let older = page.body.find("Older talk").expect("older talk listed");
    assert!(newer < older, "newest first");
    // Speaker names link to their pages and read like prose.
    assert!(
        text_of(&page.body).contains("Ada, Bo and Cy"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"href="/speakers/bo""#));
    assert!(page.body.contains(r#"href="/talks/newer""#));
    assert!(!page.body.contains("Draft talk"), "drafts are not public");
    assert!(
        !page.body.contains("Scheduled talk"),
        "future publications are not public yet"
    );
}

#[tokio::test]
async fn a_talk_page_renders_its_title_speakers_and_description() {
    let app = TestApp::spawn().await;
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "rust-video",
        "Rust video",
        days_ago(2),
        &[("ada", "Ada Okafor")],
    )
    .await;
    let page = app.get("/talks/rust-video").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<title>Rust video · Ferrotape</title>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"<h1 id="talk-title">Rust video</h1>"#));
    assert!(page.body.contains("Ada Okafor"));
    assert!(page.body.contains("About Rust video."));
    assert!(
        page.body
            .contains("No video has been published for this talk yet.")
    );
}

#[tokio::test]
async fn unknown_unpublished_and_malformed_talks_are_404() {
    let app = TestApp::spawn().await;
    insert_talk(&app.pool, TenantId::DEFAULT, "draft", "Draft", None, &[]).await;
    for path in [
        "/talks/nope",
        "/talks/draft",
        "/talks/..%2F..%2Fetc%2Fpasswd",
        "/talks/UPPER",
        "/no/such/page",
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            page.body.contains("Page not found"),
            "{path}: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn hostile_titles_are_rendered_escaped() {
    let app = TestApp::spawn().await;
    let title = r#"</title><script>alert("x")</script> & <img src=x onerror=alert(1)>"#;
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "hostile",
        title,
        days_ago(1),
        &[("evil", "<b>Mallory</b>")],
    )
    .await;
    sqlx::query("UPDATE talks SET description = $1 WHERE slug = 'hostile'")
        .bind(r#""><script>alert(2)</script>"#)
        .execute(&app.pool)
        .await
        .unwrap();
    for path in ["/", "/talks/hostile"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains("<script>alert"),
            "{path} leaked a script tag"
        );
        assert!(
            !page.body.contains("<img src=x"),
            "{path} leaked an img tag"
        );
        assert!(!page.body.contains("<b>Mallory</b>"));
        assert!(
            !page.body.contains("</title><script>"),
            "{path} broke out of <title>"
        );
        assert!(
            !page.body.contains(r#""><script>alert(2)"#),
            "{path} broke out of an attribute"
        );
        assert!(
            page.body.contains("&lt;script&gt;alert"),
            "{path}: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn another_tenants_talks_are_invisible() {
    let app = TestApp::spawn().await;
    let other = insert_tenant(&app.pool, "other").await;
    insert_talk(
        &app.pool,
        other,
        "secret",
        "Other tenant's talk",
        days_ago(1),
        &[("x", "X")],
    )
    .await;
    assert!(!app.get("/").await.body.contains("Other tenant's talk"));
    assert_eq!(app.get("/talks/secret").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn server_functions_answer_typed_json() {
    let app = TestApp::spawn().await;
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "json-talk",
        "JSON talk",
        days_ago(1),
        &[("ada", "Ada")],
    )
    .await;
    let list = app
        .call_server_fn("talks/catalog", "query[q]=json&query[page]=1")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let page: serde_json::Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["hits"][0]["talk"]["slug"], "json-talk");
    assert_eq!(page["hits"][0]["talk"]["speakers"][0]["name"], "Ada");
    assert_eq!(page["hits"][0]["marked_title"], "\u{1}JSON\u{2} talk");

    let missing = app.call_server_fn("talks/get", "slug=nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&missing.body).unwrap(),
        serde_json::json!("NotFound")
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(
        health.headers.contains_key("x-request-id"),
        "every response carries a request id"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);

    // With the database gone, the process is still healthy but no longer ready.
    app.pool.close().await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let unready = app.get("/readyz").await;
    assert_eq!(unready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        unready
            .body
            .contains("the database is temporarily unavailable"),
        "{}",
        unready.body
    );
}

#[tokio::test]
async fn a_database_failure_is_a_clear_503_not_swallowed() {
    let app = TestApp::spawn().await;
    app.pool.close().await;
    let page = app.get("/").await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("temporarily unavailable"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("PoolClosed"),
        "internals stay in the log"
    );
}

#[tokio::test]
async fn pages_are_compressed_and_carry_security_headers() {
    let app = TestApp::spawn().await;
    let response = app
        .request(
            axum::http::Request::builder()
                .uri("/")
                .header("accept-encoding", "gzip")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers["content-encoding"], "gzip");
    assert_eq!(response.headers["x-content-type-options"], "nosniff");
    assert_eq!(
        response.headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    let policy = response.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self' 'nonce-"), "{policy}");
    assert!(policy.ends_with("frame-ancestors 'self'"), "{policy}");

    // Clients that do not ask for compression get plain HTML.
    let plain = app.get("/").await;
    assert!(!plain.headers.contains_key("content-encoding"));
    assert!(plain.body.starts_with("<!DOCTYPE html>"));
}
