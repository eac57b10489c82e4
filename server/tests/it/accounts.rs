//! Accounts end to end through the real router: sign-up, mail (a real SMTP server), email
//! confirmation, log in, sessions, password reset, rate limits, CSRF, roles and admin.

use crate::common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{PASSWORD, SITE, TestApp, mail_sink};
use ferrotape_model::{Role, TenantId};
use serde_json::json;

const T: TenantId = TenantId::DEFAULT;

fn unique_email(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Refresh tokens that could still be exchanged (neither revoked nor rotated).
async fn live_refresh_tokens(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND rotated_at IS NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn sign_up(
    client: &mut common::Client<'_>,
    email: &str,
    password: &str,
) -> common::TestResponse {
    client
        .post_json(
            "/api/v1/auth/signup",
            json!({"email": email, "display_name": "Grace Hopper", "password": password}),
        )
        .await
}

#[tokio::test]
async fn sign_up_mails_a_link_that_confirms_the_address_exactly_once() {
    let app = TestApp::spawn_with_smtp().await;
    let mut browser = app.client("198.51.100.1");
    let email = unique_email("grace");

    let created = sign_up(&mut browser, &email, PASSWORD).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.json()["role"],
        "admin",
        "the first user of a fresh install is admin"
    );

    let message = mail_sink::wait_for(&email, 1).await;
    assert!(
        message.contains("Subject: Confirm your email address for Ferrotape"),
        "{message}"
    );
    assert!(
        !message.contains("=0A"),
        "lines end in CRLF, not encoded LFs: {message}"
    );
    let link = mail_sink::link(&message, "/verify-email?token=");
    assert!(
        link.starts_with(&format!("http://{SITE}/verify-email?token=")),
        "{link}"
    );
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // Not confirmed yet: logging in is refused, with a fresh link on its way.
    let early = browser
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(early.status, StatusCode::FORBIDDEN);
    assert_eq!(early.json()["code"], "email_not_verified");
    mail_sink::wait_for(&email, 2).await;

    let confirmed = browser
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{}",
        confirmed.body
    );
    let again = browser
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["code"], "token_invalid");

    let login = browser
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email.to_uppercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let cookies: Vec<&str> = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2);
    for cookie in cookies {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(
            !cookie.contains("Secure"),
            "plain HTTP on loopback: {cookie}"
        );
    }
    let me = browser.get("/api/v1/auth/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], email);
    assert_eq!(me.json()["role"], "admin");
}

#[tokio::test]
async fn without_smtp_mail_waits_in_the_outbox_for_admins() {
    let app = TestApp::spawn().await;
    let mut newcomer = app.client("198.51.100.2");
    let first = unique_email("first");
    assert_eq!(
        sign_up(&mut newcomer, &first, PASSWORD).await.json()["role"],
        "admin"
    );
    let second = unique_email("second");
    assert_eq!(
        sign_up(&mut newcomer, &second, PASSWORD).await.json()["role"],
        "viewer"
    );

    let admin_email = unique_email("admin");
    app.user(T, &admin_email, Role::Admin).await;
    let mut admin = app.client("198.51.100.3");
    admin.log_in(&admin_email, PASSWORD).await;
    let outbox = admin.get("/admin/outbox").await;
    assert_eq!(outbox.status, StatusCode::OK);
    assert!(
        outbox.body.contains("No mail server is configured"),
        "{}",
        outbox.body
    );
    assert!(outbox.body.contains(&second));
    // Mail to others shows that a link went out, never the link itself (a reset link read
    // here would be a takeover of that account).
    assert!(
        outbox
            .body
            .contains(&format!("http://{SITE}/verify-email?token=(hidden)")),
        "{}",
        outbox.body
    );
    let tokens: Vec<String> = sqlx::query_scalar("SELECT body FROM mail_outbox")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for body in &tokens {
        let token = body
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(
            !outbox.body.contains(token),
            "a token of another's mail is shown"
        );
    }
    // The admin's own mail keeps its link.
    admin
        .post_json("/api/v1/auth/password-reset", json!({"email": admin_email}))
        .await;
    let own = admin.get("/admin/outbox").await;
    let own_body: String = sqlx::query_scalar("SELECT body FROM mail_outbox WHERE recipient = $1")
        .bind(&admin_email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let own_token = own_body
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(own.body.contains(own_token), "{}", own.body);

    // A viewer is refused the outbox, on the page and in the API.
    let mut viewer = app.client("198.51.100.4");
    let viewer_email = unique_email("viewer");
    app.user(T, &viewer_email, Role::Viewer).await;
    viewer.log_in(&viewer_email, PASSWORD).await;
    let refused = viewer.get("/admin/outbox").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains(&second), "no mail shown to a viewer");
}

#[tokio::test]
async fn duplicate_and_invalid_sign_ups_are_explained() {
    let app = TestApp::spawn().await;
    let mut client = app.client("198.51.100.5");
    let email = unique_email("dup");
    assert_eq!(
        sign_up(&mut client, &email, PASSWORD).await.status,
        StatusCode::CREATED
    );

    // Signing up again with a registered address answers exactly as a new sign-up does (a
    // stranger learns nothing); the owner is told by mail instead.
    let duplicate = sign_up(
        &mut client,
        &format!("  {}  ", email.to_uppercase()),
        PASSWORD,
    )
    .await;
    let fresh = sign_up(&mut client, &unique_email("fresh"), PASSWORD).await;
    assert_eq!(duplicate.status, StatusCode::CREATED, "{}", duplicate.body);
    assert_eq!(duplicate.body, fresh.body);
    let to_owner: Vec<String> = sqlx::query_scalar(
        "SELECT subject FROM mail_outbox WHERE recipient = $1 ORDER BY created_at",
    )
    .bind(&email)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        to_owner,
        [
            "Confirm your email address for Ferrotape",
            "You already have a Ferrotape account"
        ]
    );

    for (email, password, code) in [
        ("not-an-email", PASSWORD, "email_malformed"),
        ("a@example.com", "short", "password_too_short"),
        (
            "a@example.com",
            "aaaaaaaaaaaaaaaa",
            "password_too_repetitive",
        ),
        (
            "longname@example.com",
            "my longname password",
            "password_contains_email",
        ),
    ] {
        let refused = sign_up(&mut client, email, password).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{email} {password}"
        );
        assert_eq!(refused.json()["code"], code);
    }
    let long_name = client
        .post_json(
            "/api/v1/auth/signup",
            json!({"email": unique_email("n"), "display_name": "x".repeat(101), "password": PASSWORD}),
        )
        .await;
    assert_eq!(long_name.json()["code"], "name_invalid");

    // A body far over any field's limit is refused before parsing; so is a missing field.
    let huge = client
        .post_json(
            "/api/v1/auth/signup",
            json!({"email": "a@example.com", "display_name": "A", "password": "p".repeat(100_000)}),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    let missing = client
        .post_json("/api/v1/auth/signup", json!({"email": "a@example.com"}))
        .await;
    assert!(missing.status.is_client_error(), "{}", missing.status);
    assert!(
        missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{}",
        missing.body
    );

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2, "only the two valid sign-ups created accounts");
}

#[tokio::test]
async fn login_does_not_reveal_which_accounts_exist() {
    let app = TestApp::spawn().await;
    let email = unique_email("known");
    app.user(T, &email, Role::Viewer).await;
    let mut client = app.client("198.51.100.6");
    let wrong_password = client
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": "wrong password here"}),
        )
        .await;
    let unknown = client
        .post_json(
            "/api/v1/auth/login",
            json!({"email": unique_email("nobody"), "password": "wrong password here"}),
        )
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.status, unknown.status);
    assert_eq!(wrong_password.body, unknown.body);
    assert!(wrong_password.headers.get("set-cookie").is_none());
    // An over-long password is just a wrong password, not a slow hash.
    let long = client
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": "x".repeat(5000)}),
        )
        .await;
    assert_eq!(long.status, StatusCode::UNAUTHORIZED);

    // Password reset answers the same for both, and mails nobody unknown.
    let known_reset = client
        .post_json("/api/v1/auth/password-reset", json!({"email": email}))
        .await;
    let unknown_reset = client
        .post_json(
            "/api/v1/auth/password-reset",
            json!({"email": unique_email("nobody")}),
        )
        .await;
    assert_eq!(known_reset.status, StatusCode::ACCEPTED);
    assert_eq!(known_reset.body, unknown_reset.body);
    let mails: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(mails, 1);
}

#[tokio::test]
async fn too_many_attempts_get_429_with_retry_after() {
    let app = TestApp::spawn().await;
    let email = unique_email("target");
    app.user(T, &email, Role::Viewer).await;

    // Per IP: ten attempts a minute, on any accounts.
    let mut attacker = app.client("203.0.113.50");
    for n in 0..10 {
        let attempt = attacker
            .post_json(
                "/api/v1/auth/login",
                json!({"email": format!("u{n}@example.com"), "password": "nope nope nope"}),
            )
            .await;
        assert_eq!(attempt.status, StatusCode::UNAUTHORIZED);
    }
    let limited = attacker
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["code"], "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Per account: failures slow the guessing network down more and more, but never lock
    // the owner out: they log in from their own network at once.
    let mut guesser = app.client("192.0.2.7");
    let mut waits = Vec::new();
    for _ in 0..6 {
        let attempt = guesser
            .post_json(
                "/api/v1/auth/login",
                json!({"email": email, "password": "wrong wrong wrong"}),
            )
            .await;
        if attempt.status == StatusCode::TOO_MANY_REQUESTS {
            waits.push(attempt.headers["retry-after"].to_str().unwrap().to_owned());
        } else {
            assert_eq!(attempt.status, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(
        waits.len(),
        3,
        "after three free failures the guesser waits"
    );
    let mut owner = app.client("192.0.2.99");
    owner.log_in(&email, PASSWORD).await;

    // Password reset requests are limited too.
    let mut resetter = app.client("203.0.113.60");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            resetter
                .post_json(
                    "/api/v1/auth/password-reset",
                    json!({"email": unique_email("r")}),
                )
                .await
                .status,
        );
    }
    assert_eq!(statuses[..5], [StatusCode::ACCEPTED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn tampered_or_garbage_tokens_authenticate_nobody() {
    let app = TestApp::spawn().await;
    let email = unique_email("editor");
    app.user(T, &email, Role::Editor).await;
    let mut client = app.client("198.51.100.7");
    client.log_in(&email, PASSWORD).await;
    let access = client.cookies["ft_access"].clone();

    // Change the role in the payload: the signature no longer matches.
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = access.split('.').collect();
    let payload = String::from_utf8(engine.decode(parts[1]).unwrap()).unwrap();
    let forged_payload = engine.encode(payload.replace("\"editor\"", "\"admin\""));
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);

    for token in [forged.as_str(), "garbage", "a.b.c", ""] {
        let mut attacker = app.client("198.51.100.8");
        attacker.cookies.insert("ft_access".into(), token.into());
        let me = attacker.get("/api/v1/auth/me").await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{token}");
        let admin = attacker.get("/api/v1/admin/users").await;
        assert_eq!(admin.status, StatusCode::UNAUTHORIZED, "{token}");
    }
    // A random refresh token is cleared from the browser.
    let mut stranger = app.client("198.51.100.9");
    stranger.cookies.insert("ft_refresh".into(), "A".repeat(43));
    assert_eq!(
        stranger.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        stranger.cookies.is_empty(),
        "the bad refresh cookie was removed"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_login() {
    let app = TestApp::spawn().await;
    let email = unique_email("rotating");
    app.user(T, &email, Role::Viewer).await;
    let mut browser = app.client("198.51.100.10");
    browser.log_in(&email, PASSWORD).await;
    let first_refresh = browser.cookies["ft_refresh"].clone();

    // The access token expired (the cookie is gone): the refresh token renews both.
    browser.cookies.remove("ft_access");
    let me = browser.get("/api/v1/auth/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let second_refresh = browser.cookies["ft_refresh"].clone();
    assert_ne!(first_refresh, second_refresh, "rotated");
    assert!(browser.cookies.contains_key("ft_access"));

    // A thief replays the first token after the grace window: the whole login ends.
    sqlx::query("UPDATE refresh_tokens SET rotated_at = now() - interval '5 minutes' WHERE rotated_at IS NOT NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut thief = app.client("203.0.113.66");
    thief.cookies.insert("ft_refresh".into(), first_refresh);
    assert_eq!(
        thief.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    browser.cookies.remove("ft_access");
    assert_eq!(
        browser.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the legitimate browser's newer token was revoked with the family"
    );
}

#[tokio::test]
async fn a_refresh_racing_another_within_the_grace_window_still_works() {
    let app = TestApp::spawn().await;
    let email = unique_email("tabs");
    app.user(T, &email, Role::Viewer).await;
    let mut tab_one = app.client("198.51.100.11");
    tab_one.log_in(&email, PASSWORD).await;
    let refresh = tab_one.cookies["ft_refresh"].clone();
    let mut tab_two = app.client("198.51.100.11");
    tab_two.cookies.insert("ft_refresh".into(), refresh.clone());

    tab_one.cookies.remove("ft_access");
    assert_eq!(tab_one.get("/api/v1/auth/me").await.status, StatusCode::OK);
    // Same old token moments later (a parallel request): accepted, no new cookies.
    let racing = tab_two.get("/api/v1/auth/me").await;
    assert_eq!(racing.status, StatusCode::OK);
    assert!(racing.headers.get("set-cookie").is_none());
    assert_eq!(tab_two.cookies["ft_refresh"], refresh);

    // The grace serves one racing request, not any number: a copy of the old token gets
    // nothing more (anonymous, cookies left alone), and the login itself carries on.
    for _ in 0..3 {
        let mut another = app.client("203.0.113.12");
        another.cookies.insert("ft_refresh".into(), refresh.clone());
        let late = another.get("/api/v1/auth/me").await;
        assert_eq!(late.status, StatusCode::UNAUTHORIZED);
        assert!(late.headers.get("set-cookie").is_none());
    }
    assert_eq!(tab_one.get("/api/v1/auth/me").await.status, StatusCode::OK);
    // Rotation stored exactly one successor.
    let live = live_refresh_tokens(&app).await;
    assert_eq!(live, 1);
}

#[tokio::test]
async fn logout_ends_one_login_and_logout_everywhere_ends_all() {
    let app = TestApp::spawn().await;
    let email = unique_email("multi");
    app.user(T, &email, Role::Viewer).await;
    let mut laptop = app.client("198.51.100.12");
    let mut phone = app.client("198.51.100.13");
    let mut tablet = app.client("198.51.100.14");
    for device in [&mut laptop, &mut phone, &mut tablet] {
        device.log_in(&email, PASSWORD).await;
    }
    let laptop_refresh = laptop.cookies["ft_refresh"].clone();
    let laptop_access = laptop.cookies["ft_access"].clone();
    let out = laptop.post_json("/api/v1/auth/logout", json!({})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(laptop.cookies.is_empty(), "cookies cleared");
    let mut replay = app.client("198.51.100.12");
    replay.cookies.insert("ft_refresh".into(), laptop_refresh);
    assert_eq!(
        replay.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    // A copy of the access cookie taken before logging out is worthless too.
    let mut copied = app.client("198.51.100.12");
    copied.cookies.insert("ft_access".into(), laptop_access);
    assert_eq!(
        copied.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    // The phone still works until it logs out everywhere.
    phone.cookies.remove("ft_access");
    assert_eq!(phone.get("/api/v1/auth/me").await.status, StatusCode::OK);
    let everywhere = phone
        .post_json("/api/v1/auth/logout-everywhere", json!({}))
        .await;
    assert_eq!(everywhere.status, StatusCode::OK, "{}", everywhere.body);
    // The tablet's access token has minutes left: it ends with the login all the same.
    assert!(tablet.cookies.contains_key("ft_access"));
    assert_eq!(
        tablet.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let active = live_refresh_tokens(&app).await;
    assert_eq!(active, 0);
}

#[tokio::test]
async fn password_reset_by_mail_is_single_use_and_ends_every_session() {
    let app = TestApp::spawn_with_smtp().await;
    let email = unique_email("forgetful");
    app.user(T, &email, Role::Viewer).await;
    let mut old_device = app.client("198.51.100.15");
    old_device.log_in(&email, PASSWORD).await;

    let mut browser = app.client("198.51.100.16");
    let requested = browser
        .post_json("/api/v1/auth/password-reset", json!({"email": email}))
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED);
    let message = mail_sink::wait_for(&email, 1).await;
    assert!(
        message.contains("Subject: Reset your Ferrotape password"),
        "{message}"
    );
    let link = mail_sink::link(&message, "/reset-password?token=");
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // A weak new password is refused and the link stays usable.
    let weak = browser
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.json()["code"], "password_too_short");
    let new_password = "a whole new passphrase";
    let done = browser
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let reused = browser
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "yet another passphrase"}),
        )
        .await;
    assert_eq!(reused.json()["code"], "token_invalid");

    // Its access token had minutes left; the reset ends it at once.
    assert!(old_device.cookies.contains_key("ft_access"));
    assert_eq!(
        old_device.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let old = browser
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    browser.log_in(&email, new_password).await;
}

#[tokio::test]
async fn expired_and_malformed_links_are_refused() {
    let app = TestApp::spawn().await;
    let mut client = app.client("198.51.100.17");
    let email = unique_email("late");
    sign_up(&mut client, &email, PASSWORD).await;
    let body: String = sqlx::query_scalar("SELECT body FROM mail_outbox WHERE recipient = $1")
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let token = mail_sink::link(&body, "token=")
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    sqlx::query("UPDATE email_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    for token in [token.as_str(), "../../etc/passwd", "", &"x".repeat(5000)] {
        let refused = client
            .post_json("/api/v1/auth/verify-email", json!({"token": token}))
            .await;
        assert!(
            refused.status.is_client_error(),
            "{token}: {}",
            refused.status
        );
        if refused.status == StatusCode::BAD_REQUEST {
            assert_eq!(refused.json()["code"], "token_invalid");
        }
    }
    let verified: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT email_verified_at FROM users WHERE email = $1")
            .bind(&email)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(verified.is_none());
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let app = TestApp::spawn().await;
    let email = unique_email("victim");
    app.user(T, &email, Role::Admin).await;
    let mut victim = app.client("198.51.100.18");
    victim.log_in(&email, PASSWORD).await;

    let evil = |method: Method, path: &str, origin: Option<&str>, cookies: &str| {
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", SITE)
            .header("cookie", cookies)
            .header("content-type", "application/json");
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder.body(Body::from("{}")).unwrap()
    };
    let jar: String = victim
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    for (origin, what) in [
        (Some("https://evil.example"), "another origin"),
        (None, "no origin with cookies"),
        (Some("null"), "an opaque origin"),
    ] {
        for path in ["/api/v1/auth/logout-everywhere", "/api/auth/logout"] {
            let response = app.request(evil(Method::POST, path, origin, &jar)).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{what} → {path}");
            assert_eq!(response.json()["code"], "csrf");
        }
    }
    // Nothing happened: the victim is still logged in everywhere.
    victim.cookies.remove("ft_access");
    assert_eq!(victim.get("/api/v1/auth/me").await.status, StatusCode::OK);
    // A script without cookies (an API client) needs no Origin.
    let api = app
        .request(evil(Method::POST, "/api/v1/auth/password-reset", None, ""))
        .await;
    assert_ne!(api.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roles_are_enforced_by_the_server_whatever_the_ui_shows() {
    let app = TestApp::spawn().await;
    let mut anonymous = app.client("198.51.100.19");
    assert_eq!(
        anonymous.get("/api/v1/admin/users").await.status,
        StatusCode::UNAUTHORIZED
    );
    let studio = anonymous.get("/studio").await;
    assert_eq!(studio.status, StatusCode::UNAUTHORIZED);
    assert!(studio.body.contains("Log in to open this page"));
    assert!(
        !studio.body.contains(r#"href="/studio""#),
        "no studio link for visitors"
    );

    let viewer_email = unique_email("viewer");
    app.user(T, &viewer_email, Role::Viewer).await;
    let mut viewer = app.client("198.51.100.20");
    viewer.log_in(&viewer_email, PASSWORD).await;
    let refused = viewer.get("/studio").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("this needs the editor role"));
    assert!(!refused.body.contains(r#"href="/studio""#));
    assert_eq!(
        viewer.get("/api/v1/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer.server_fn("studio/overview", &[]).await.status,
        StatusCode::FORBIDDEN
    );

    let editor_email = unique_email("editor");
    app.user(T, &editor_email, Role::Editor).await;
    let mut editor = app.client("198.51.100.21");
    editor.log_in(&editor_email, PASSWORD).await;
    let page = editor.get("/studio").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"href="/studio""#),
        "editors see the studio link"
    );
    assert!(
        !page.body.contains(r#"href="/admin/users""#),
        "but not the admin links"
    );
    assert_eq!(
        editor.server_fn("admin/users", &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn admins_change_roles_and_disabling_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let admin_email = unique_email("admin");
    let admin_id = app.user(T, &admin_email, Role::Admin).await;
    let user_email = unique_email("user");
    let user_id = app.user(T, &user_email, Role::Viewer).await;
    let mut admin = app.client("198.51.100.22");
    admin.log_in(&admin_email, PASSWORD).await;
    let mut user = app.client("198.51.100.23");
    user.log_in(&user_email, PASSWORD).await;

    let list = admin.get("/api/v1/admin/users").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json().as_array().unwrap().len(), 2);
    let created = list.json()[0]["created_at"].as_str().unwrap().to_owned();
    assert!(
        time::OffsetDateTime::parse(&created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{created}"
    );

    let patch =
        |id: uuid::Uuid, body: serde_json::Value| {
            let mut request = admin
                .request(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([198, 51, 100, 22], 1)),
            ));
            request
        };
    let promoted = app.request(patch(user_id, json!({"role": "editor"}))).await;
    assert_eq!(promoted.status, StatusCode::NO_CONTENT, "{}", promoted.body);
    // The role counts at once for privileged actions, before the access token is renewed.
    assert_eq!(
        user.server_fn("studio/overview", &[]).await.status,
        StatusCode::OK
    );
    // Everything that reads the session sees the new role at once too (the access token
    // minted before the change is exchanged for one that carries it).
    let me = user.get("/api/v1/auth/me").await;
    assert_eq!(me.json()["role"], "editor", "{}", me.body);

    let bad_role = app.request(patch(user_id, json!({"role": "root"}))).await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    let unknown = app
        .request(patch(uuid::Uuid::new_v4(), json!({"role": "viewer"})))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = app
        .request(
            admin
                .request(Method::PATCH, "/api/v1/admin/users/not-a-uuid")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);

    let last_admin = app
        .request(patch(admin_id, json!({"role": "viewer"})))
        .await;
    assert_eq!(last_admin.status, StatusCode::FORBIDDEN);
    assert!(
        last_admin.json()["error"]
            .as_str()
            .unwrap()
            .contains("last admin")
    );
    let self_disable = app
        .request(patch(admin_id, json!({"disabled": true})))
        .await;
    assert_eq!(self_disable.status, StatusCode::FORBIDDEN);

    let user_cookies_before_disable = user.cookies.clone();
    let disabled = app.request(patch(user_id, json!({"disabled": true}))).await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT);
    assert_eq!(
        user.server_fn("studio/overview", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut copied = app.client("198.51.100.23");
    copied.cookies = user_cookies_before_disable;
    assert!(copied.cookies.contains_key("ft_access"));
    assert_eq!(
        copied.get("/api/v1/auth/me").await.status,
        StatusCode::UNAUTHORIZED,
        "an access token minted before the disable is refused at once"
    );
    let login = user
        .post_json(
            "/api/v1/auth/login",
            json!({"email": user_email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert_eq!(login.json()["code"], "account_disabled");
}

#[tokio::test]
async fn forms_work_without_javascript() {
    let app = TestApp::spawn().await;
    let email = unique_email("nojs");
    app.user(T, &email, Role::Editor).await;
    let mut browser = app.client("198.51.100.24");

    let wrong = browser
        .form_post(
            "auth/login",
            &[
                ("email", &email),
                ("password", "wrong wrong wrong"),
                ("next", "/studio"),
            ],
            "/login",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FOUND);
    let back = wrong.location().unwrap().to_owned();
    assert!(
        back.starts_with("/login?error=invalid_credentials&email="),
        "{back}"
    );
    let page = browser.get(&back).await;
    assert!(
        page.body
            .contains("The email address or password is wrong."),
        "{}",
        page.body
    );
    assert!(page.body.contains(&email), "the email is kept in the form");

    let ok = browser
        .form_post(
            "auth/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/studio"),
            ],
            "/login",
        )
        .await;
    assert_eq!(ok.status, StatusCode::FOUND);
    assert_eq!(ok.location(), Some("/studio"));
    let studio = browser.get("/studio").await;
    assert!(
        studio.body.contains("Welcome, Test User"),
        "{:?} {:?}\n{}",
        ok.headers,
        browser.cookies,
        studio.body
    );

    // `next` cannot send anyone off-site.
    let mut other = app.client("198.51.100.25");
    let offsite = other
        .form_post(
            "auth/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
            "/login",
        )
        .await;
    assert_eq!(offsite.location(), Some("/"));

    // Unknown error codes in a crafted link show nothing.
    // (The text itself, not "555": a random script nonce may hold those digits.)
    let crafted = other.get("/login?error=Call%20555-SCAM").await;
    assert!(!crafted.body.contains("555-SCAM"), "{}", crafted.body);
    assert!(!crafted.body.contains("Call 555"), "{}", crafted.body);

    let out = browser.form_post("auth/logout", &[], "/").await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert!(browser.cookies.is_empty());
}

#[tokio::test]
async fn hostile_names_are_rendered_escaped() {
    let app = TestApp::spawn().await;
    let hostile = r#"<img src=x onerror=alert(1)>"#;
    let mut client = app.client("198.51.100.26");
    let created = client
        .post_json(
            "/api/v1/auth/signup",
            json!({"email": unique_email("h"), "display_name": hostile, "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let admin_email = unique_email("admin");
    app.user(T, &admin_email, Role::Admin).await;
    let mut admin = app.client("198.51.100.27");
    admin.log_in(&admin_email, PASSWORD).await;
    let page = admin.get("/admin/users").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains(hostile),
        "raw markup must not reach the page"
    );
    assert!(
        page.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_cli_creates_confirmed_users_and_tenants() {
    let app = TestApp::spawn().await;
    let url = app.database_url();
    let bin = env!("CARGO_BIN_EXE_ferrotape");
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str], password: Option<&str>| {
        let mut command = std::process::Command::new(bin);
        command
            .env("DATABASE_URL", &url)
            .env("FERROTAPE_DATA_DIR", data.path())
            .env_remove("FERROTAPE_NEW_USER_PASSWORD")
            .args(["--log", "warn", "admin"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        if let Some(password) = password {
            writeln!(stdin, "{password}").unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let email = unique_email("ops");
    let created = run(
        &[
            "create-user",
            "--email",
            &email,
            "--name",
            "Ops",
            "--role",
            "editor",
        ],
        Some(PASSWORD),
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("with role editor"));
    let mut client = app.client("198.51.100.28");
    client.log_in(&email, PASSWORD).await;

    let weak = run(
        &[
            "create-user",
            "--email",
            &unique_email("weak"),
            "--name",
            "W",
        ],
        Some("short"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));
    let bad_role = run(
        &[
            "create-user",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "root",
        ],
        None,
    );
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("not a role"));

    let tenant = run(
        &[
            "create-tenant",
            "--slug",
            "acme",
            "--name",
            "Acme",
            "--host",
            "Talks.Acme.Test",
        ],
        None,
    );
    assert!(
        tenant.status.success(),
        "{}",
        String::from_utf8_lossy(&tenant.stderr)
    );
    let mapped: String = sqlx::query_scalar("SELECT host FROM tenant_hosts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(mapped, "talks.acme.test");
    let taken = run(
        &[
            "add-host",
            "--tenant",
            "default",
            "--host",
            "talks.acme.test",
        ],
        None,
    );
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already exists"));
}
