//! The headers that protect pages: a Content-Security-Policy whose script nonce matches every
//! `<script>` of the page (fresh per response, cached copies included), HSTS only over HTTPS,
//! and a page cache that junk query parameters cannot fill.

use crate::common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{SITE, TestApp, TestResponse, insert_ready_video, insert_talk};
use ferrotape_accounts::AccountsConfig;
use ferrotape_model::TenantId;
use time::OffsetDateTime;

async fn anonymous_get(app: &TestApp, path: &str) -> TestResponse {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", SITE)
        .body(Body::empty())
        .unwrap();
    app.request(request).await
}

fn csp(response: &TestResponse) -> String {
    response.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The nonce of the policy's `script-src`.
fn policy_nonce(policy: &str) -> String {
    let start = policy.find("'nonce-").expect("a script nonce") + "'nonce-".len();
    policy[start..].split('\'').next().unwrap().to_owned()
}

/// Every `<script …>` start tag of a page.
fn script_tags(html: &str) -> Vec<&str> {
    html.match_indices("<script")
        .map(|(at, _)| {
            let end = html[at..].find('>').unwrap();
            &html[at..=at + end]
        })
        .collect()
}

/// Asserts the page's policy allows its scripts by nonce only, and each script carries it.
fn assert_scripts_carry_the_nonce(path: &str, response: &TestResponse) -> String {
    assert!(
        response.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{path}"
    );
    let policy = csp(response);
    assert!(
        policy.contains("script-src 'self' 'nonce-"),
        "{path}: {policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    assert!(policy.contains("object-src 'none'"), "{path}: {policy}");
    let nonce = policy_nonce(&policy);
    assert!(nonce.len() >= 16, "{path}: a nonce of 128 bits");
    let tags = script_tags(&response.body);
    assert!(
        !tags.is_empty(),
        "{path}: the page has its hydration script"
    );
    for tag in tags {
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: {tag} lacks nonce {nonce}"
        );
    }
    assert!(
        response
            .headers
            .get(ferrotape_app::CSP_NONCE_HEADER)
            .is_none(),
        "the internal nonce header is never sent"
    );
    nonce
}

async fn site_with_a_talk(app: &TestApp) -> uuid::Uuid {
    let published = Some(OffsetDateTime::now_utc() - time::Duration::days(1));
    let talk = insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "a-talk",
        "A talk",
        published,
        &[("ada", "Ada Lovelace")],
    )
    .await;
    insert_ready_video(&app.pool, TenantId::DEFAULT, talk, 60_000).await;
    talk
}

#[tokio::test]
async fn every_script_of_every_page_carries_the_nonce_of_its_policy() {
    let app = TestApp::spawn().await;
    let talk = site_with_a_talk(&app).await;
    let embed = format!("/embed/{talk}");
    let mut nonces = Vec::new();
    for path in [
        "/",
        "/?q=talk",
        "/talks/a-talk",
        "/talks/a-talk?t=30",
        embed.as_str(),
        "/speakers/ada",
        "/login",
        "/signup",
        "/studio",
        "/admin/users",
        "/no-such-page",
    ] {
        let response = anonymous_get(&app, path).await;
        assert!(
            matches!(
                response.status,
                StatusCode::OK | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
            ),
            "{path}: {}",
            response.status
        );
        nonces.push(assert_scripts_carry_the_nonce(path, &response));
    }
    // The watch page's JSON-LD is one of the scripts checked above.
    let watch = anonymous_get(&app, "/talks/a-talk").await;
    assert!(watch.body.contains("application/ld+json"));
    let mut unique = nonces.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), nonces.len(), "a fresh nonce per response");
}

#[tokio::test]
async fn only_the_embed_may_be_framed_by_other_sites() {
    let app = TestApp::spawn().await;
    let talk = site_with_a_talk(&app).await;
    let embed = anonymous_get(&app, &format!("/embed/{talk}")).await;
    assert!(csp(&embed).contains("frame-ancestors *"), "{}", csp(&embed));
    assert!(csp(&embed).contains("script-src 'self' 'nonce-"));
    let watch = anonymous_get(&app, "/talks/a-talk").await;
    assert!(csp(&watch).contains("frame-ancestors 'self'"));
    let json = anonymous_get(&app, "/oembed?url=http://127.0.0.1:3000/talks/a-talk").await;
    assert_eq!(
        csp(&json),
        "frame-ancestors 'self'",
        "non-HTML keeps the frame policy"
    );
}

#[tokio::test]
async fn cached_copies_get_a_fresh_nonce_each() {
    let app = TestApp::spawn_with_page_cache(Duration::from_secs(600)).await;
    site_with_a_talk(&app).await;
    let first = anonymous_get(&app, "/talks/a-talk").await;
    let second = anonymous_get(&app, "/talks/a-talk").await;
    assert_eq!(second.headers["x-ferrotape-cache"], "hit");
    let a = assert_scripts_carry_the_nonce("first", &first);
    let b = assert_scripts_carry_the_nonce("cached", &second);
    assert_ne!(a, b, "a cached copy does not repeat the nonce");
}

#[tokio::test]
async fn hsts_only_when_a_trusted_proxy_says_https() {
    let app = TestApp::spawn_with(
        AccountsConfig::default(),
        vec!["10.0.0.0/8".parse().unwrap()],
    )
    .await;
    let get = |ip: &'static str, proto: Option<&'static str>| {
        let app = &app;
        async move {
            let mut client = app.client(ip);
            let mut request = client.request(Method::GET, "/login");
            if let Some(proto) = proto {
                request = request.header("x-forwarded-proto", proto);
            }
            client.send(request.body(Body::empty()).unwrap()).await
        }
    };
    let https = get("10.0.0.2", Some("https")).await;
    assert_eq!(
        https.headers["strict-transport-security"],
        ferrotape_server::security_headers::HSTS
    );
    for (ip, proto) in [
        ("10.0.0.2", None),
        ("10.0.0.2", Some("http")),
        // Anyone can send the header; only a trusted proxy is believed.
        ("203.0.113.7", Some("https")),
    ] {
        let response = get(ip, proto).await;
        assert!(
            response.headers.get("strict-transport-security").is_none(),
            "{ip} {proto:?}"
        );
    }
}

#[tokio::test]
async fn unknown_query_parameters_share_one_cache_entry() {
    let app = TestApp::spawn_with_page_cache(Duration::from_secs(600)).await;
    site_with_a_talk(&app).await;
    let first = anonymous_get(&app, "/talks/a-talk?x=0").await;
    assert_eq!(first.headers["x-ferrotape-cache"], "miss");
    for n in 1..20 {
        let response = anonymous_get(&app, &format!("/talks/a-talk?x={n}&utm_source=s{n}")).await;
        assert_eq!(response.headers["x-ferrotape-cache"], "hit", "?x={n}");
    }
    // The parameters pages read still count, in their canonical form.
    let start = anonymous_get(&app, "/talks/a-talk?t=1m").await;
    assert_eq!(start.headers["x-ferrotape-cache"], "miss");
    let same_start = anonymous_get(&app, "/talks/a-talk?t=60&x=1").await;
    assert_eq!(same_start.headers["x-ferrotape-cache"], "hit");
    let search = anonymous_get(&app, "/?q=talk").await;
    assert_eq!(search.headers["x-ferrotape-cache"], "miss");
    let spaced = anonymous_get(&app, "/?q=%20talk%20&page=1&junk=1").await;
    assert_eq!(spaced.headers["x-ferrotape-cache"], "hit");
}
