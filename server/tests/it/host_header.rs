//! The Host header is attacker text (issue 14.1): a malformed authority is refused with 400,
//! and no absolute URL that leaves the server — mailed reset and confirmation links, the
//! sitemap, a watch page's canonical and OpenGraph links — ever carries header text: they name
//! the tenant's stored host name or the configured origin.

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{PASSWORD, SITE, TestApp, TestResponse, insert_ready_video, insert_talk};
use ferrotape_model::{Role, TenantId};
use serde_json::json;

const T: TenantId = TenantId::DEFAULT;
const MAPPED: &str = "talks.beta.test";

/// Authorities that are not an RFC 3986 host with an optional all-digit port.
const MALFORMED: &[&str] = &[
    "localhost:@attacker.example",
    "127.0.0.1:3000@attacker.example",
    "talks.beta.test:@attacker.example",
    "user:pass@127.0.0.1:3000",
    "attacker.example\\@127.0.0.1:3000",
    "127.0.0.1:3000\\attacker.example",
    "127.0.0.1%3A3000@attacker.example",
    "attacker%2eexample",
    "127.0.0.1:3000/attacker.example",
    "127.0.0.1:3000#@attacker.example",
    "127.0.0.1:3000?@attacker.example",
    "attacker.example.",
    "attacker..example",
    "attacker example",
    "[::1]@attacker.example",
    "[::1]:3000@attacker.example",
    "[fe80::1%25eth0]:3000",
    "::1",
    "127.0.0.1:3000:3000",
    "127.0.0.1:99999",
    "",
];

/// Well-formed authorities that name no tenant host: served, on the configured origin.
const UNMAPPED: &[&str] = &[
    "attacker.example",
    "ATTACKER.example:3000",
    "[2001:db8::1]:443",
    "[::ffff:7f00:1]:3000",
    "203.0.113.9",
    "localhost:3000",
    "[::1]:3000",
];

static NEXT_IP: AtomicU8 = AtomicU8::new(1);

/// A request from a fresh client IP (so the per-IP limits of one case never touch another).
fn request(
    method: Method,
    uri: &str,
    hosts: &[&str],
    json: Option<serde_json::Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for host in hosts {
        builder = builder.header("host", *host);
    }
    let body = match json {
        Some(value) => {
            builder = builder.header("content-type", "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let mut request = builder.body(body).unwrap();
    let n = NEXT_IP.fetch_add(1, Ordering::Relaxed);
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([198, 18, 0, n], 4000))));
    request
}

async fn newest_mail_to(app: &TestApp, email: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT body FROM mail_outbox WHERE recipient = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(email)
    .fetch_optional(&app.pool)
    .await
    .unwrap()
}

struct Site {
    app: TestApp,
}

impl Site {
    async fn new() -> Site {
        let app = TestApp::spawn().await;
        let beta = common::insert_tenant(&app.pool, "beta").await;
        ferrotape_store::tenants::add_host(&app.pool, beta, MAPPED)
            .await
            .unwrap();
        let yesterday = Some(time::OffsetDateTime::now_utc() - time::Duration::days(1));
        let talk = insert_talk(&app.pool, T, "hosts", "Hosts", yesterday, &[]).await;
        insert_ready_video(&app.pool, T, talk, 60_000).await;
        Site { app }
    }

    /// Password reset, sign-up confirmation, the sitemap and a watch page, all addressed
    /// with `hosts`; returns every answer and every mail body they produced.
    async fn exercise(&self, hosts: &[&str]) -> (Vec<TestResponse>, Vec<String>) {
        let app = &self.app;
        let n = NEXT_IP.load(Ordering::Relaxed);
        let reset_email = format!("reset-{n}-{}@example.com", uuid::Uuid::new_v4().simple());
        app.user(T, &reset_email, Role::Viewer).await;
        let signup_email = format!("new-{n}-{}@example.com", uuid::Uuid::new_v4().simple());
        let answers = vec![
            app.request(request(
                Method::POST,
                "/api/v1/auth/password-reset",
                hosts,
                Some(json!({"email": reset_email})),
            ))
            .await,
            app.request(request(
                Method::POST,
                "/api/v1/auth/signup",
                hosts,
                Some(json!({"email": signup_email, "display_name": "New", "password": PASSWORD})),
            ))
            .await,
            app.request(request(Method::GET, "/sitemap.xml", hosts, None))
                .await,
            app.request(request(Method::GET, "/talks/hosts", hosts, None))
                .await,
        ];
        let mut mails = Vec::new();
        for email in [&reset_email, &signup_email] {
            mails.extend(newest_mail_to(app, email).await);
        }
        (answers, mails)
    }
}

#[tokio::test]
async fn malformed_hosts_are_refused_with_400_and_nothing_is_mailed() {
    let site = Site::new().await;
    for host in MALFORMED {
        let (answers, mails) = site.exercise(&[host]).await;
        for answer in &answers {
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "Host {host:?}: {}",
                answer.body
            );
            assert_eq!(answer.json()["code"], "malformed_host", "Host {host:?}");
        }
        assert!(mails.is_empty(), "Host {host:?} caused mail: {mails:?}");
    }
}

#[tokio::test]
async fn unknown_hosts_get_links_on_the_configured_origin_only() {
    let site = Site::new().await;
    for host in UNMAPPED {
        let (answers, mails) = site.exercise(&[host]).await;
        let [reset, signup, sitemap, watch] = &answers[..] else {
            unreachable!()
        };
        assert_eq!(reset.status, StatusCode::ACCEPTED, "Host {host:?}");
        assert_eq!(signup.status, StatusCode::CREATED, "Host {host:?}");
        assert_eq!(sitemap.status, StatusCode::OK, "Host {host:?}");
        assert_eq!(watch.status, StatusCode::OK, "Host {host:?}");
        assert_eq!(mails.len(), 2, "Host {host:?}");
        for text in mails.iter().chain([&sitemap.body, &watch.body]) {
            let lower = text.to_ascii_lowercase();
            assert!(
                !lower.contains("attacker")
                    && !lower.contains("2001:db8")
                    && !lower.contains("203.0.113.9"),
                "Host {host:?} leaked into: {text}"
            );
        }
        assert!(
            mails[0].contains(&format!("http://{SITE}/reset-password?token=")),
            "{}",
            mails[0]
        );
        assert!(
            mails[1].contains(&format!("http://{SITE}/verify-email?token=")),
            "{}",
            mails[1]
        );
        assert!(
            sitemap.body.contains(&format!("http://{SITE}/talks/hosts")),
            "{}",
            sitemap.body
        );
        assert!(
            watch
                .body
                .contains(&format!(r#"href="http://{SITE}/talks/hosts""#)),
            "Host {host:?}: {}",
            watch.body
        );
    }
}

#[tokio::test]
async fn a_mapped_host_links_to_its_stored_name_whatever_port_was_asked() {
    let site = Site::new().await;
    let app = &site.app;
    let beta = ferrotape_store::tenants::tenant_for_host(&app.pool, MAPPED)
        .await
        .unwrap()
        .unwrap();
    let email = format!("beta-{}@example.com", uuid::Uuid::new_v4().simple());
    app.user(beta, &email, Role::Viewer).await;
    let reset = app
        .request(request(
            Method::POST,
            "/api/v1/auth/password-reset",
            &["TALKS.beta.test:8443"],
            Some(json!({"email": email})),
        ))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
    let mail = newest_mail_to(app, &email).await.unwrap();
    assert!(
        mail.contains(&format!("https://{MAPPED}/reset-password?token=")),
        "{mail}"
    );
}

#[tokio::test]
async fn two_host_headers_or_a_target_naming_another_host_are_refused() {
    let site = Site::new().await;
    let (answers, mails) = site.exercise(&[SITE, "attacker.example"]).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    }
    assert!(mails.is_empty());

    // Absolute-form request target (`POST http://attacker.example/… HTTP/1.1`).
    for path in ["/sitemap.xml", "/talks/hosts"] {
        let answer = site
            .app
            .request(request(
                Method::GET,
                &format!("http://attacker.example{path}"),
                &[SITE],
                None,
            ))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            answer.body
        );
    }
    // The same target with the matching Host is an ordinary request.
    let same = site
        .app
        .request(request(
            Method::GET,
            &format!("http://{SITE}/sitemap.xml"),
            &[SITE],
            None,
        ))
        .await;
    assert_eq!(same.status, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_hosts_count_only_from_trusted_proxies_and_are_parsed_as_strictly() {
    let app = TestApp::spawn_with(Default::default(), vec!["10.0.0.0/8".parse().unwrap()]).await;
    let email = format!("fwd-{}@example.com", uuid::Uuid::new_v4().simple());
    app.user(T, &email, Role::Viewer).await;
    let reset = |peer: [u8; 4], forwarded: &str| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/password-reset")
            .header("host", SITE)
            .header("x-forwarded-host", forwarded)
            .header("content-type", "application/json")
            .body(Body::from(json!({"email": email}).to_string()))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 4000))));
        request
    };
    // From an untrusted peer the header is ignored.
    let ignored = app
        .request(reset([203, 0, 113, 1], "attacker.example"))
        .await;
    assert_eq!(ignored.status, StatusCode::ACCEPTED);
    let mail = newest_mail_to(&app, &email).await.unwrap();
    assert!(!mail.contains("attacker"), "{mail}");
    // From a trusted proxy it is the authority, and is held to the same rules.
    for hostile in [
        "localhost:@attacker.example",
        "a.example, attacker.example",
        "attacker.example.",
    ] {
        let refused = app.request(reset([10, 0, 0, 2], hostile)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{hostile}");
    }
    let unknown = app.request(reset([10, 0, 0, 2], "attacker.example")).await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    let mail = newest_mail_to(&app, &email).await.unwrap();
    assert!(
        !mail.contains("attacker") && mail.contains(&format!("http://{SITE}/")),
        "{mail}"
    );
}
