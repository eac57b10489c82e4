//! Live streams through the studio's REST resources and the ingest's webhooks, as nginx-rtmp
//! and MediaMTX call them: keys shown and regenerated, one publisher per key, the reconnect
//! window keeping a session, its expiry ending it, and every refusal (callers, bodies, keys,
//! applications, floods) answered clearly with nothing changed.

use crate::common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Client, LIVE_HOOK_SECRET, PASSWORD, TestApp, TestResponse};
use ferrotape_model::live::RECONNECT_WINDOW_SECS;
use ferrotape_model::{Role, TenantId};
use serde_json::{Value, json};

const T: TenantId = TenantId::DEFAULT;

async fn editor<'a>(app: &'a TestApp, email: &str, role: Role) -> Client<'a> {
    app.user(T, email, role).await;
    let mut client = app.client("10.0.0.5");
    client.log_in(email, PASSWORD).await;
    client
}

async fn create_stream(client: &mut Client<'_>, title: &str) -> Value {
    let created = client
        .post_json("/api/v1/live/streams", json!({ "title": title }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.json()
}

async fn key_of(client: &mut Client<'_>, stream: &str) -> String {
    let shown = client
        .get(&format!("/api/v1/live/streams/{stream}/key"))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.headers["cache-control"], "no-store");
    shown.json()["key"].as_str().unwrap().to_owned()
}

/// An nginx-rtmp notification from the ingest on this machine.
async fn nginx(hook: &mut Client<'_>, path: &str, fields: &[(&str, &str)]) -> TestResponse {
    let request = hook
        .request(Method::POST, &format!("/api/v1/live/hooks/nginx/{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(common::form_encode(fields)))
        .unwrap();
    hook.send(request).await
}

async fn publish(hook: &mut Client<'_>, key: &str, clientid: &str) -> TestResponse {
    nginx(
        hook,
        "publish",
        &[
            ("call", "publish"),
            ("app", "live"),
            ("name", key),
            ("addr", "203.0.113.9"),
            ("clientid", clientid),
            ("type", "live"),
        ],
    )
    .await
}

async fn nginx_call(
    hook: &mut Client<'_>,
    path: &str,
    call: &str,
    key: &str,
    clientid: &str,
) -> StatusCode {
    nginx(
        hook,
        path,
        &[
            ("call", call),
            ("app", "live"),
            ("name", key),
            ("addr", "203.0.113.9"),
            ("clientid", clientid),
        ],
    )
    .await
    .status
}

async fn stream_row(app: &TestApp, id: &str) -> (String, Option<uuid::Uuid>, Option<String>) {
    sqlx::query_as(
        "SELECT state::text, session_id, publisher FROM live_streams WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn events(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM platform_events WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_lets_one_publisher_in_and_a_reconnect_keeps_the_session_until_the_window_passes() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "streamer@example.com", Role::Editor).await;
    let stream = create_stream(&mut studio, "  Keynote, live  ").await;
    assert_eq!(stream["title"], "Keynote, live");
    assert_eq!(stream["state"], "idle");
    assert_eq!(stream["record"], true);
    let id = stream["id"].as_str().unwrap().to_owned();
    let key = key_of(&mut studio, &id).await;
    assert!(key.starts_with("live_") && key.len() == 48, "{key}");
    assert_eq!(
        key_of(&mut studio, &id).await,
        key,
        "the key is shown again"
    );

    // The first publisher goes live; a second one on the same key is refused; the first
    // asking again (a retried webhook) still is allowed.
    let mut hook = app.client("127.0.0.1");
    assert_eq!(
        publish(&mut hook, &key, "7").await.status,
        StatusCode::NO_CONTENT
    );
    let (state, session, publisher) = stream_row(&app, &id).await;
    assert_eq!(
        (state.as_str(), publisher.as_deref()),
        ("live", Some("nginx-rtmp:7"))
    );
    assert_eq!(events(&app, "VID_LIVE").await, 1);
    let second = publish(&mut hook, &key, "8").await;
    assert_eq!(second.status, StatusCode::FORBIDDEN);
    assert!(second.body.contains("another publisher"), "{}", second.body);
    assert_eq!(
        publish(&mut hook, &key, "7").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        studio
            .get(&format!("/api/v1/live/streams/{id}"))
            .await
            .json()["state"],
        "live"
    );

    // nginx's update calls keep the live push and cut the other one; the refused one's end
    // changes nothing.
    assert_eq!(
        nginx_call(&mut hook, "update", "update_publish", &key, "7").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        nginx_call(&mut hook, "update", "update_publish", &key, "8").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        nginx_call(&mut hook, "publish_done", "publish_done", &key, "8").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stream_row(&app, &id).await.0, "live");

    // The push drops and comes back within the window: the same session, no second VID_LIVE.
    assert_eq!(
        nginx_call(&mut hook, "publish_done", "publish_done", &key, "7").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stream_row(&app, &id).await.0, "reconnecting");
    assert_eq!(
        publish(&mut hook, &key, "9").await.status,
        StatusCode::NO_CONTENT
    );
    let (state, resumed, _) = stream_row(&app, &id).await;
    assert_eq!((state.as_str(), resumed), ("live", session));
    assert_eq!(events(&app, "VID_LIVE").await, 1);

    // Regenerating: the running push is cut at its next update, the old key is refused at
    // once, the new key continues the session.
    let regenerated = studio
        .request(Method::POST, &format!("/api/v1/live/streams/{id}/key"))
        .body(Body::empty())
        .unwrap();
    let regenerated = studio.send(regenerated).await;
    assert_eq!(regenerated.status, StatusCode::OK, "{}", regenerated.body);
    let new_key = regenerated.json()["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(regenerated.json()["key_generation"], 2);
    assert_eq!(key_of(&mut studio, &id).await, new_key);
    assert_eq!(
        nginx_call(&mut hook, "update", "update_publish", &key, "9").await,
        StatusCode::FORBIDDEN
    );
    let old = publish(&mut hook, &key, "10").await;
    assert_eq!(old.status, StatusCode::FORBIDDEN);
    assert!(old.body.contains("unknown stream key"), "{}", old.body);
    assert_eq!(
        publish(&mut hook, &new_key, "11").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stream_row(&app, &id).await.1, session);

    // The publisher goes away for longer than the window: the stream ends (VID_LIVE_ENDED),
    // and the next push is a new session.
    assert_eq!(
        nginx_call(&mut hook, "publish_done", "publish_done", &new_key, "11").await,
        StatusCode::NO_CONTENT
    );
    assert!(
        ferrotape_store::live::expire_reconnects(&app.pool, RECONNECT_WINDOW_SECS)
            .await
            .unwrap()
            .is_empty()
    );
    sqlx::query("UPDATE live_streams SET disconnected_at = now() - interval '61 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    let ended = ferrotape_store::live::expire_reconnects(&app.pool, RECONNECT_WINDOW_SECS)
        .await
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(Some(ended[0].session), session);
    assert_eq!(stream_row(&app, &id).await.0, "ended");
    assert_eq!(events(&app, "VID_LIVE_ENDED").await, 1);
    assert_eq!(
        publish(&mut hook, &new_key, "12").await.status,
        StatusCode::NO_CONTENT
    );
    let (state, next_session, _) = stream_row(&app, &id).await;
    assert_eq!(state, "live");
    assert_ne!(next_session, session);
    assert_eq!(events(&app, "VID_LIVE").await, 2);
}

#[tokio::test]
async fn webhooks_refuse_strangers_malformed_bodies_foreign_apps_and_floods() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "streamer@example.com", Role::Editor).await;
    let id = create_stream(&mut studio, "Talk").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = key_of(&mut studio, &id).await;

    // Callers: another machine needs the secret; a loopback peer relaying for someone does too.
    let mut remote = app.client("198.51.100.7");
    let refused = publish(&mut remote, &key, "1").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["code"], "hook_forbidden");
    let request = remote
        .request(
            Method::POST,
            "/api/v1/live/hooks/nginx/publish?secret=wrong",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "call=publish&app=live&name={key}&clientid=1"
        )))
        .unwrap();
    assert_eq!(remote.send(request).await.json()["code"], "hook_forbidden");
    let mut hook = app.client("127.0.0.1");
    let relayed = hook
        .request(Method::POST, "/api/v1/live/hooks/nginx/publish")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "203.0.113.50")
        .body(Body::from(format!(
            "call=publish&app=live&name={key}&clientid=1"
        )))
        .unwrap();
    assert_eq!(hook.send(relayed).await.json()["code"], "hook_forbidden");
    assert_eq!(
        stream_row(&app, &id).await.0,
        "idle",
        "no refused call moved the stream"
    );
    let with_secret = remote
        .request(
            Method::POST,
            &format!(
                "/api/v1/live/hooks/nginx/publish?{}",
                common::form_encode(&[("secret", LIVE_HOOK_SECRET)])
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "call=publish&app=live&name={key}&clientid=1&addr=198.51.100.7"
        )))
        .unwrap();
    assert_eq!(
        remote.send(with_secret).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        nginx_call(&mut hook, "publish_done", "publish_done", &key, "1").await,
        StatusCode::NO_CONTENT
    );

    // Bodies: missing fields, JSON, garbage.
    for (content_type, body) in [
        (
            "application/x-www-form-urlencoded",
            "call=publish&app=live".to_owned(),
        ),
        (
            "application/json",
            json!({"app": "live", "name": key, "clientid": "1"}).to_string(),
        ),
        ("application/x-www-form-urlencoded", "%%%".to_owned()),
    ] {
        let request = hook
            .request(Method::POST, "/api/v1/live/hooks/nginx/publish")
            .header("content-type", content_type)
            .body(Body::from(body.clone()))
            .unwrap();
        let response = hook.send(request).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.body
        );
        assert_eq!(response.json()["code"], "malformed_hook", "{body}");
    }

    // Applications and keys that are not ours.
    let foreign_app = nginx(
        &mut hook,
        "publish",
        &[
            ("call", "publish"),
            ("app", "other"),
            ("name", &key),
            ("addr", "203.0.113.20"),
            ("clientid", "2"),
        ],
    )
    .await;
    assert_eq!(foreign_app.status, StatusCode::FORBIDDEN);
    assert!(
        foreign_app.body.contains("unknown application"),
        "{}",
        foreign_app.body
    );
    let hostile_keys = [
        "../../etc/passwd".to_owned(),
        "live_".to_owned(),
        format!("{key}x"),
        "live_\u{0}".to_owned(),
        "'; DROP TABLE live_streams; --".to_owned(),
    ];
    for bad in &hostile_keys {
        let response = nginx(
            &mut hook,
            "publish",
            &[
                ("call", "publish"),
                ("app", "live"),
                ("name", bad),
                ("addr", "203.0.113.21"),
                ("clientid", "3"),
            ],
        )
        .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(response.json()["code"], "publish_refused", "{bad}");
    }

    // A flood of guesses from one address is cut off without lookups; another address with
    // the right key still gets in.
    let mut refused_for_rate = 0;
    for n in 0..40 {
        let guess = format!("live_{:0>43}", n);
        let response = nginx(
            &mut hook,
            "publish",
            &[
                ("call", "publish"),
                ("app", "live"),
                ("name", &guess),
                ("addr", "203.0.113.66"),
                ("clientid", "4"),
            ],
        )
        .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        if response.body.contains("too many publishes") {
            refused_for_rate += 1;
        }
    }
    assert!(
        refused_for_rate >= 10,
        "{refused_for_rate} of 40 guesses were rate limited"
    );
    assert_eq!(
        publish(&mut hook, &key, "5").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stream_row(&app, &id).await.0, "live");
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM live_streams")
            .fetch_one(&app.pool)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn mediamtx_auth_hooks_allow_publishes_of_our_keys_and_loopback_reads_only() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "streamer@example.com", Role::Editor).await;
    let id = create_stream(&mut studio, "Via MediaMTX").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = key_of(&mut studio, &id).await;
    let ours = format!("live/{key}");
    let mut hook = app.client("127.0.0.1");
    // Requests as MediaMTX 1.x sends them, in order, with the answer each must get.
    let cases = [
        (
            "publish",
            ours.as_str(),
            "203.0.113.9",
            "4f1c",
            StatusCode::OK,
            "our key",
        ),
        (
            "publish",
            &ours,
            "203.0.113.10",
            "9e2d",
            StatusCode::UNAUTHORIZED,
            "a second publisher",
        ),
        (
            "publish",
            "live/live_nope",
            "203.0.113.9",
            "1",
            StatusCode::UNAUTHORIZED,
            "an unknown key",
        ),
        (
            "publish",
            &format!("other/{key}"),
            "203.0.113.9",
            "1",
            StatusCode::UNAUTHORIZED,
            "a foreign application",
        ),
        (
            "read",
            &ours,
            "127.0.0.1",
            "2",
            StatusCode::OK,
            "our transcoder reads",
        ),
        (
            "read",
            &ours,
            "203.0.113.9",
            "3",
            StatusCode::UNAUTHORIZED,
            "viewers watch our HLS, not the ingest",
        ),
        (
            "api",
            "",
            "203.0.113.9",
            "3",
            StatusCode::UNAUTHORIZED,
            "anything else",
        ),
    ];
    for (action, path, ip, id, expected, why) in cases {
        let request = json!({
            "user": "", "password": "", "token": "", "ip": ip, "action": action,
            "path": path, "protocol": "rtmp", "id": id, "query": ""
        });
        let response = hook
            .post_json("/api/v1/live/hooks/mediamtx/auth", request)
            .await;
        assert_eq!(response.status, expected, "{why}: {}", response.body);
    }
    assert_eq!(
        stream_row(&app, &id).await.2.as_deref(),
        Some("mediamtx:4f1c"),
        "the first publisher holds the stream"
    );
    let malformed = hook
        .post_json("/api/v1/live/hooks/mediamtx/auth", json!({"path": 5}))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json()["code"], "malformed_hook");

    // `runOnUnpublish`: only the live publisher's end counts, as with nginx's publish_done.
    let stream_id = id;
    let unpublish = |path: String, id: &str| json!({"path": path, "id": id});
    for (path, id, why) in [
        (ours.clone(), "9e2d", "the refused second publisher"),
        (format!("other/{key}"), "4f1c", "a foreign application"),
        ("live/live_nope".to_owned(), "4f1c", "an unknown key"),
    ] {
        let response = hook
            .post_json("/api/v1/live/hooks/mediamtx/unpublish", unpublish(path, id))
            .await;
        assert_eq!(response.status, StatusCode::NO_CONTENT, "{why}");
        assert_eq!(
            stream_row(&app, &stream_id).await.0,
            "live",
            "the end of {why} leaves the stream live"
        );
    }
    for bad in [
        json!({"path": ours}),
        json!("live"),
        json!({"path": 1, "id": "4f1c"}),
    ] {
        let response = hook
            .post_json("/api/v1/live/hooks/mediamtx/unpublish", bad)
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(response.json()["code"], "malformed_hook");
    }
    let mut stranger = app.client("203.0.113.9");
    let response = stranger
        .post_json(
            "/api/v1/live/hooks/mediamtx/unpublish",
            unpublish(ours.clone(), "4f1c"),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::FORBIDDEN,
        "strangers may not end a push"
    );
    assert_eq!(stream_row(&app, &stream_id).await.0, "live");

    let response = hook
        .post_json(
            "/api/v1/live/hooks/mediamtx/unpublish",
            unpublish(ours.clone(), "4f1c"),
        )
        .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    let (state, session, publisher) = stream_row(&app, &stream_id).await;
    assert_eq!(
        state, "reconnecting",
        "the live publisher's end opens the window"
    );
    assert!(session.is_some(), "the session is kept for a reconnect");
    assert_eq!(publisher, None);
}

#[tokio::test]
async fn streams_belong_to_their_owner_and_admins_and_a_live_one_is_not_deleted() {
    let app = TestApp::spawn().await;
    let mut owner = editor(&app, "owner@example.com", Role::Editor).await;
    let id = create_stream(&mut owner, "Mine").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = key_of(&mut owner, &id).await;

    let mut other = editor(&app, "other@example.com", Role::Editor).await;
    assert!(
        other
            .get("/api/v1/live/streams")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    for path in [
        format!("/api/v1/live/streams/{id}"),
        format!("/api/v1/live/streams/{id}/key"),
    ] {
        assert_eq!(
            other.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let request = other
        .request(Method::POST, &format!("/api/v1/live/streams/{id}/key"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(other.send(request).await.status, StatusCode::NOT_FOUND);
    let mut viewer = editor(&app, "viewer@example.com", Role::Viewer).await;
    assert_eq!(
        viewer.get("/api/v1/live/streams").await.status,
        StatusCode::FORBIDDEN
    );
    let mut admin = editor(&app, "admin@example.com", Role::Admin).await;
    assert_eq!(
        admin
            .get("/api/v1/live/streams")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(key_of(&mut admin, &id).await, key);

    // Bad input: an empty title, a title of control characters, a title too long.
    for title in ["   ", "a\u{7}b", &"x".repeat(201)] {
        let refused = owner
            .post_json("/api/v1/live/streams", json!({ "title": title }))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{title:?}"
        );
        assert_eq!(refused.json()["field"], "title");
    }

    // A live stream is not deleted; an idle one is, and its key is refused from then on.
    let mut hook = app.client("127.0.0.1");
    assert_eq!(
        publish(&mut hook, &key, "1").await.status,
        StatusCode::NO_CONTENT
    );
    let delete = |client: &Client<'_>| {
        client
            .request(Method::DELETE, &format!("/api/v1/live/streams/{id}"))
            .body(Body::empty())
            .unwrap()
    };
    let request = delete(&owner);
    assert_eq!(owner.send(request).await.status, StatusCode::CONFLICT);
    assert_eq!(
        nginx_call(&mut hook, "publish_done", "publish_done", &key, "1").await,
        StatusCode::NO_CONTENT
    );
    sqlx::query("UPDATE live_streams SET disconnected_at = now() - interval '61 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    ferrotape_store::live::expire_reconnects(&app.pool, RECONNECT_WINDOW_SECS)
        .await
        .unwrap();
    let request = delete(&owner);
    assert_eq!(owner.send(request).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        publish(&mut hook, &key, "2").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_live_page_and_viewer_pings_refuse_what_is_not_a_stream_here_and_count_only_on_air() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "pinger@example.com", Role::Editor).await;
    let id = create_stream(&mut studio, "Not live yet").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut viewer = app.client("198.51.100.7");
    for hostile in [
        "/live/not-a-uuid/watching".to_owned(),
        "/live/00000000-0000-0000-0000-000000000000/watching".to_owned(),
        format!("/live/{id}%00/watching"),
    ] {
        let response = viewer.post_json(&hostile, json!({})).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{hostile}");
    }
    // An idle stream counts nobody, and nothing is stored for it.
    let response = viewer
        .post_json(&format!("/live/{id}/watching"), json!({}))
        .await;
    assert_eq!(
        (response.status, response.json()),
        (StatusCode::OK, json!({"viewers": 0}))
    );
    assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
    for page in [
        "/live/not-a-uuid",
        "/live/00000000-0000-0000-0000-000000000000",
    ] {
        assert_eq!(
            viewer.get(page).await.status,
            StatusCode::NOT_FOUND,
            "{page}"
        );
    }
    let page = viewer.get(&format!("/live/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("This stream has not started yet."),
        "{}",
        page.body
    );

    // The studio's server functions: a malformed or foreign id is a 404 and changes nothing;
    // an anonymous caller is refused.
    let generation = |studio_stream: &Value| studio_stream["key_generation"].clone();
    let before = studio
        .get(&format!("/api/v1/live/streams/{id}"))
        .await
        .json();
    for bad in [
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "'; DROP TABLE live_streams; --",
    ] {
        let response = studio
            .server_fn("studio/live/regenerate", &[("id", bad)])
            .await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{bad}: {}",
            response.body
        );
    }
    let refused = viewer
        .server_fn("studio/live/regenerate", &[("id", &id)])
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let too_long = "x".repeat(201);
    let response = studio
        .server_fn("studio/live/update", &[("id", &id), ("title", &too_long)])
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.body
    );
    let after = studio
        .get(&format!("/api/v1/live/streams/{id}"))
        .await
        .json();
    assert_eq!(generation(&after), generation(&before));
    assert_eq!(after["title"], "Not live yet");
}
