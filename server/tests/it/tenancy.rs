//! Tenant isolation: two tenants on two host names, with users, talks, sessions, links and mail
//! in both. Every read and write path answers for its own tenant only, and another tenant's
//! rows are "not found", never "forbidden".

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{PASSWORD, TestApp, insert_talk, insert_tenant};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::{accounts, mail, talks};
use serde_json::json;
use time::OffsetDateTime;

const HOST_B: &str = "talks.beta.test";

struct TwoTenants {
    app: TestApp,
    b: TenantId,
    admin_a: uuid::Uuid,
    admin_b: uuid::Uuid,
    viewer_b: uuid::Uuid,
}

/// Tenant A is the default (any unmapped host); tenant B owns `talks.beta.test`. Both have an
/// admin with the same email address (accounts are per tenant) and a published talk.
async fn two_tenants() -> TwoTenants {
    let app = TestApp::spawn().await;
    let b = insert_tenant(&app.pool, "beta").await;
    ferrotape_store::tenants::add_host(&app.pool, b, HOST_B)
        .await
        .unwrap();
    let admin_a = app
        .user(TenantId::DEFAULT, "admin@example.com", Role::Admin)
        .await;
    let admin_b = app.user(b, "admin@example.com", Role::Admin).await;
    let viewer_b = app.user(b, "viewer@beta.test", Role::Viewer).await;
    let yesterday = Some(OffsetDateTime::now_utc() - time::Duration::days(1));
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "alpha-talk",
        "Alpha talk",
        yesterday,
        &[("a", "A")],
    )
    .await;
    insert_talk(
        &app.pool,
        b,
        "beta-talk",
        "Beta talk",
        yesterday,
        &[("b", "B")],
    )
    .await;
    TwoTenants {
        app,
        b,
        admin_a,
        admin_b,
        viewer_b,
    }
}

/// A request to tenant B's host from `ip`, with cookies.
fn to_b(
    method: Method,
    path: &str,
    cookies: &str,
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST_B)
        .header("origin", format!("https://{HOST_B}"))
        .header("cookie", cookies);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap()
}

fn jar(client: &common::Client<'_>) -> String {
    client
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn each_host_sees_only_its_tenants_catalog() {
    let t = two_tenants().await;
    let a_catalog = t.app.get("/").await.body;
    assert!(a_catalog.contains("Alpha talk") && !a_catalog.contains("Beta talk"));
    let b_catalog = t.app.request(to_b(Method::GET, "/", "", None)).await.body;
    assert!(b_catalog.contains("Beta talk") && !b_catalog.contains("Alpha talk"));
    // Host names are matched without port and case.
    let b_upper = t
        .app
        .request(
            Request::builder()
                .uri("/talks/beta-talk")
                .header("host", "TALKS.Beta.test:8443")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(b_upper.status, StatusCode::OK);
    assert_eq!(
        t.app
            .request(to_b(Method::GET, "/talks/alpha-talk", "", None))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.app.get("/talks/beta-talk").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_session_of_one_tenant_means_nothing_to_another() {
    let t = two_tenants().await;
    // Same email and password exist in both tenants; logging in on A gives an A session.
    let mut a_browser = t.app.client("198.51.100.40");
    a_browser.log_in("admin@example.com", PASSWORD).await;
    let cookies = jar(&a_browser);

    let me_on_b = t
        .app
        .request(to_b(Method::GET, "/api/v1/auth/me", &cookies, None))
        .await;
    assert_eq!(
        me_on_b.status,
        StatusCode::UNAUTHORIZED,
        "an A token is not a B session"
    );
    let users_on_b = t
        .app
        .request(to_b(Method::GET, "/api/v1/admin/users", &cookies, None))
        .await;
    assert_eq!(users_on_b.status, StatusCode::UNAUTHORIZED);
    let page_on_b = t
        .app
        .request(to_b(Method::GET, "/admin/users", &cookies, None))
        .await;
    assert!(!page_on_b.body.contains("viewer@beta.test"));

    // The refresh token alone is not accepted on B either (and B tells the browser to drop it).
    let refresh_only = format!("ft_refresh={}", a_browser.cookies["ft_refresh"]);
    let refreshed = t
        .app
        .request(to_b(Method::GET, "/api/v1/auth/me", &refresh_only, None))
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    // It still works on A: B's refusal did not revoke it.
    a_browser.cookies.remove("ft_access");
    assert_eq!(
        a_browser.get("/api/v1/auth/me").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logging_in_on_a_host_checks_that_tenants_accounts_only() {
    let t = two_tenants().await;
    let login = |email: &str| {
        to_b(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"email": email, "password": PASSWORD})),
        )
    };
    let b_admin = t.app.request(login("admin@example.com")).await;
    assert_eq!(b_admin.status, StatusCode::OK, "{}", b_admin.body);
    assert_eq!(b_admin.json()["user"]["id"], t.admin_b.to_string());
    let cookie = b_admin.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("Secure"),
        "a public host gets Secure cookies: {cookie}"
    );

    // An A-only account does not exist on B.
    t.app
        .user(TenantId::DEFAULT, "only-a@example.com", Role::Editor)
        .await;
    assert_eq!(
        t.app.request(login("only-a@example.com")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admins_cannot_reach_users_of_another_tenant() {
    let t = two_tenants().await;
    let mut a_admin = t.app.client("198.51.100.41");
    a_admin.log_in("admin@example.com", PASSWORD).await;
    let listed = a_admin.get("/api/v1/admin/users").await.json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [t.admin_a.to_string()]);

    // Writes aimed at B's users from A answer 404, and change nothing.
    for body in [json!({"role": "admin"}), json!({"disabled": true})] {
        let request = a_admin
            .request(
                Method::PATCH,
                &format!("/api/v1/admin/users/{}", t.viewer_b),
            )
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = a_admin.send(request).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.body);
        assert_eq!(
            response.json()["error"],
            "not found",
            "no details about the other tenant"
        );
    }
    let server_fn = a_admin
        .server_fn(
            "admin/users/role",
            &[("user_id", &t.viewer_b.to_string()), ("role", "admin")],
        )
        .await;
    assert_eq!(server_fn.status, StatusCode::NOT_FOUND);
    let viewer = accounts::find_user(&t.app.pool, t.b, t.viewer_b)
        .await
        .unwrap();
    assert_eq!(viewer.role, Role::Viewer);
    assert!(viewer.disabled_at.is_none());
}

#[tokio::test]
async fn mailed_links_work_only_on_their_tenant_and_point_to_its_host() {
    let t = two_tenants().await;
    let signup = t
        .app
        .request(to_b(
            Method::POST,
            "/api/v1/auth/signup",
            "",
            Some(json!({"email": "new@beta.test", "display_name": "New", "password": PASSWORD})),
        ))
        .await;
    assert_eq!(signup.status, StatusCode::CREATED, "{}", signup.body);
    assert_eq!(
        signup.json()["role"],
        "viewer",
        "only the default tenant's first user becomes admin"
    );
    let mails = mail::list(&t.app.pool, t.b, 10).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert!(
        mail::list(&t.app.pool, TenantId::DEFAULT, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let body = &mails[0].body;
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/verify-email?token="))
        .unwrap();
    assert!(
        link.starts_with(&format!("https://{HOST_B}/verify-email?token=")),
        "{link}"
    );
    let token = link.split("token=").nth(1).unwrap();

    // Used on the default tenant's host, B's token is just invalid.
    let mut a_browser = t.app.client("198.51.100.42");
    let on_a = a_browser
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(on_a.json()["code"], "token_invalid");
    let on_b = t
        .app
        .request(to_b(
            Method::POST,
            "/api/v1/auth/verify-email",
            "",
            Some(json!({"token": token})),
        ))
        .await;
    assert_eq!(on_b.status, StatusCode::NO_CONTENT, "{}", on_b.body);
}

#[tokio::test]
async fn an_unknown_host_cannot_choose_where_mailed_links_point() {
    let t = two_tenants().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/password-reset")
        .header("host", "evil.example")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"email": "admin@example.com"}).to_string(),
        ))
        .unwrap();
    assert_eq!(t.app.request(request).await.status, StatusCode::ACCEPTED);
    let mails = mail::list(&t.app.pool, TenantId::DEFAULT, 10)
        .await
        .unwrap();
    assert!(!mails[0].body.contains("evil.example"), "{}", mails[0].body);
    assert!(
        mails[0]
            .body
            .contains("http://127.0.0.1:3000/reset-password?token=")
    );
}

#[tokio::test]
async fn x_tenant_id_is_believed_only_from_trusted_proxies() {
    let app = TestApp::spawn_with(Default::default(), vec!["10.0.0.0/8".parse().unwrap()]).await;
    let b = insert_tenant(&app.pool, "beta").await;
    let yesterday = Some(OffsetDateTime::now_utc() - time::Duration::days(1));
    insert_talk(&app.pool, b, "beta-talk", "Beta talk", yesterday, &[]).await;
    let get =
        |peer: [u8; 4], tenant: &str| {
            let mut request = Request::builder()
                .uri("/talks/beta-talk")
                .header("host", "127.0.0.1:3000")
                .header("x-tenant-id", tenant)
                .body(Body::empty())
                .unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from((peer, 1)),
            ));
            request
        };
    let from_internet = app.request(get([203, 0, 113, 9], &b.to_string())).await;
    assert_eq!(
        from_internet.status,
        StatusCode::NOT_FOUND,
        "ignored from an untrusted peer"
    );
    let from_proxy = app.request(get([10, 1, 2, 3], &b.to_string())).await;
    assert_eq!(from_proxy.status, StatusCode::OK);
    let unknown = app
        .request(get([10, 1, 2, 3], &uuid::Uuid::new_v4().to_string()))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let garbage = app
        .request(get([10, 1, 2, 3], "'; DROP TABLE tenants; --"))
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn repositories_scope_every_read_and_write_to_the_tenant() {
    let t = two_tenants().await;
    let pool = &t.app.pool;
    let a = TenantId::DEFAULT;
    // Reads.
    assert!(matches!(
        accounts::find_user(pool, a, t.admin_b).await,
        Err(ferrotape_store::StoreError::NotFound)
    ));
    assert!(
        accounts::find_user_by_email(pool, a, "viewer@beta.test")
            .await
            .unwrap()
            .is_none()
    );
    let a_users = accounts::list_users(pool, a, 100, 0).await.unwrap();
    assert!(a_users.iter().all(|u| u.tenant == a));
    assert!(talks::find_published(pool, a, "beta-talk").await.is_err());
    assert!(!talks::slug_taken(pool, a, "beta-talk").await.unwrap());
    // Writes.
    assert!(
        accounts::set_role(pool, a, t.viewer_b, Role::Admin)
            .await
            .is_err()
    );
    assert!(
        accounts::set_disabled(pool, a, t.viewer_b, true)
            .await
            .is_err()
    );
    assert!(
        accounts::set_password_hash(pool, a, t.viewer_b, "$argon2id$x")
            .await
            .is_err()
    );
    assert!(
        accounts::mark_email_verified(pool, a, t.viewer_b)
            .await
            .is_err()
    );
    assert_eq!(
        accounts::revoke_user_refresh_tokens(pool, a, t.viewer_b)
            .await
            .unwrap(),
        0
    );
    // A row pointing at another tenant's user cannot even be written.
    let cross = accounts::insert_refresh_token(
        pool,
        a,
        t.viewer_b,
        uuid::Uuid::new_v4(),
        &[0u8; 32],
        OffsetDateTime::now_utc() + time::Duration::days(1),
    )
    .await;
    assert!(cross.is_err());
    let viewer = accounts::find_user(pool, t.b, t.viewer_b).await.unwrap();
    assert_eq!(viewer.role, Role::Viewer);
}
