//! The REST API (`/api/v1/talks|speakers|tags|videos|api-keys`) as a script would use it:
//! API keys (scopes, revocation, cookies ignored, CSRF exempt), a talk made and published
//! through a real upload and transcode, cursor pagination, If-Match/ETag, refusals of bad
//! input; and the OpenAPI document checked against the router and every response against the
//! document's schemas.

use crate::common;

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Client, SITE, TestApp, TestResponse};
use ferrotape_model::{Role, TenantId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// The OpenAPI document as the server serves it.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, doc) = ferrotape_server::api::router();
        serde_json::to_value(doc).unwrap()
    })
}

/// Asserts `response` is one the document lists for this operation and that its JSON body
/// matches the documented schema.
fn conforms(template: &str, method: &str, response: &TestResponse) {
    let doc = document();
    let operation = doc["paths"][template][method].clone();
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let status = response.status.as_str();
    let documented = &operation["responses"][status];
    assert!(
        documented.is_object(),
        "{method} {template} answered {status}, which the document does not list: {}",
        response.body
    );
    let Some(schema) = documented.pointer("/content/application~1json/schema") else {
        return;
    };
    // The whole document is the root, so `#/components/schemas/…` references resolve.
    let mut root = doc.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["allOf"] = json!([schema]);
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    let body = response.json();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: the body does not match the document: {errors:?}\n{}",
        response.body
    );
}

/// A request as an API client sends it: no Origin, no cookies, the key as bearer.
fn api(method: Method, path: &str, key: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", SITE)
        .header("authorization", format!("Bearer {key}"))
}

async fn send(
    app: &TestApp,
    request: axum::http::request::Builder,
    body: Option<Value>,
) -> TestResponse {
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    };
    app.request(request.unwrap()).await
}

async fn call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> TestResponse {
    send(app, api(method, path, key), body).await
}

async fn editor<'a>(app: &'a TestApp, email: &str) -> Client<'a> {
    app.user(TenantId::DEFAULT, email, Role::Editor).await;
    let mut client = app.client("10.0.0.1");
    client.log_in(email, common::PASSWORD).await;
    client
}

/// A key created through the studio's endpoint (session only); its secret.
async fn key(client: &mut Client<'_>, name: &str, scopes: &[&str]) -> String {
    let created = client
        .post_json("/api/v1/api-keys", json!({"name": name, "scopes": scopes}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    conforms("/api/v1/api-keys", "post", &created);
    created.json()["secret"].as_str().unwrap().to_owned()
}

fn etag(response: &TestResponse) -> String {
    response.headers["etag"].to_str().unwrap().to_owned()
}

async fn create_talk(app: &TestApp, key: &str, body: Value) -> Value {
    let created = call(app, key, Method::POST, "/api/v1/talks", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    conforms("/api/v1/talks", "post", &created);
    created.json()
}

fn ffmpeg_clip(dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:v",
            "libx264",
        ])
        .args(["-preset", "ultrafast", "-c:a", "aac", "-shortest"])
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Uploads `file` with the key through the upload protocol; the video's id.
async fn upload(app: &TestApp, key: &str, file: &[u8]) -> String {
    let opened = call(
        app,
        key,
        Method::POST,
        "/api/v1/uploads",
        Some(
            json!({"file_name": "talk.mp4", "size_bytes": file.len(), "content_type": "video/mp4"}),
        ),
    )
    .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    conforms("/api/v1/uploads", "post", &opened);
    let id = opened.json()["id"].as_str().unwrap().to_owned();
    let chunk = ferrotape_model::upload::CHUNK_SIZE as usize;
    for (n, bytes) in file.chunks(chunk).enumerate() {
        let request = api(
            Method::PUT,
            &format!("/api/v1/uploads/{id}/chunks/{n}"),
            key,
        )
        .header("x-chunk-sha256", sha_hex(bytes))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
        let stored = app.request(request).await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
    }
    let done = call(
        app,
        key,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
        None,
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    opened.json()["video_id"].as_str().unwrap().to_owned()
}

fn start_worker(app: &TestApp) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: std::time::Duration::from_millis(100),
        ..ferrotape_worker::WorkerConfig::default()
    };
    tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    stop
}

/// An editor uploads a real clip with a write key, waits for its transcode, makes a talk of it
/// with speakers, tags and chapters, publishes it, and the watch page shows it.
#[tokio::test]
async fn a_talk_is_made_from_a_real_upload_and_published_with_an_api_key() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "ada@example.com").await;
    let key = key(&mut studio, "publishing script", &["read", "write"]).await;
    let tmp = tempfile::tempdir().unwrap();
    let video = upload(&app, &key, &ffmpeg_clip(tmp.path())).await;

    let _worker = start_worker(&app);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let ready = loop {
        let got = call(
            &app,
            &key,
            Method::GET,
            &format!("/api/v1/videos/{video}"),
            None,
        )
        .await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        conforms("/api/v1/videos/{id}", "get", &got);
        let state = got.json()["state"].as_str().unwrap().to_owned();
        if state == "ready" {
            break got;
        }
        assert!(
            state == "processing" && std::time::Instant::now() < deadline,
            "{}",
            got.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(ready.json()["talk_id"], Value::Null);
    let videos = call(&app, &key, Method::GET, "/api/v1/videos", None).await;
    conforms("/api/v1/videos", "get", &videos);
    assert_eq!(videos.json()["items"][0]["id"], json!(video));

    let mut speakers = Vec::new();
    for name in ["Grace Hopper", "Alan Kay"] {
        let made = call(
            &app,
            &key,
            Method::POST,
            "/api/v1/speakers",
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        conforms("/api/v1/speakers", "post", &made);
        speakers.push(made.json()["id"].as_str().unwrap().to_owned());
    }
    let talk = create_talk(
        &app,
        &key,
        json!({
            "title": "Compilers for everyone",
            "description": "A *short* talk.",
            "language": "en",
            "tags": ["Compilers", "History"],
            "speakers": [speakers[1], speakers[0]],
            "chapters": [{"start_ms": 0, "title": "Intro"}, {"start_ms": 1000, "title": "Demo"}],
            "video_id": video,
        }),
    )
    .await;
    let id = talk["talk"]["id"].as_str().unwrap().to_owned();
    let slug = talk["talk"]["slug"].as_str().unwrap().to_owned();
    assert_eq!(slug, "compilers-for-everyone");
    let names: Vec<&str> = talk["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alan Kay", "Grace Hopper"]);
    assert_eq!(talk["talk"]["state"], "draft");

    // Not public yet.
    assert_eq!(
        app.get(&format!("/talks/{slug}")).await.status,
        StatusCode::NOT_FOUND
    );
    let current = call(
        &app,
        &key,
        Method::GET,
        &format!("/api/v1/talks/{id}"),
        None,
    )
    .await;
    conforms("/api/v1/talks/{id}", "get", &current);
    let published = send(
        &app,
        api(
            Method::PUT,
            &format!("/api/v1/talks/{id}/publication"),
            &key,
        )
        .header("if-match", etag(&current)),
        Some(json!({"state": "published"})),
    )
    .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    conforms("/api/v1/talks/{id}/publication", "put", &published);
    assert_eq!(published.json()["talk"]["state"], "published");
    assert_ne!(etag(&published), etag(&current));

    let page = app.get(&format!("/talks/{slug}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Compilers for everyone"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Grace Hopper"));
    let tags = call(&app, &key, Method::GET, "/api/v1/tags?q=comp", None).await;
    conforms("/api/v1/tags", "get", &tags);
    assert_eq!(tags.json()["items"][0]["talks"], 1);

    // The talk's video cannot be deleted while it serves it.
    let refused = call(
        &app,
        &key,
        Method::DELETE,
        &format!("/api/v1/videos/{video}"),
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    conforms("/api/v1/videos/{id}", "delete", &refused);
}

/// Walking a list page by page yields every item exactly once, also while items are added.
#[tokio::test]
async fn cursor_pagination_visits_every_item_once() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "ed@example.com").await;
    let key = key(&mut studio, "sync", &["write", "read"]).await;
    let mut made = BTreeSet::new();
    for n in 0..7 {
        let talk = create_talk(&app, &key, json!({"title": format!("Talk {n}")})).await;
        made.insert(talk["talk"]["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/talks?limit=3&cursor={c}"),
            None => "/api/v1/talks?limit=3".to_owned(),
        };
        let page = call(&app, &key, Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        conforms("/api/v1/talks", "get", &page);
        let body = page.json();
        seen.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        if pages == 1 {
            // A talk created after the first page is newer: it belongs before it, and must not
            // shift the rest.
            create_talk(&app, &key, json!({"title": "Late"})).await;
        }
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), made);

    for n in 0..5 {
        call(
            &app,
            &key,
            Method::POST,
            "/api/v1/speakers",
            Some(json!({"name": format!("Speaker {n}")})),
        )
        .await;
    }
    let mut names = Vec::new();
    let mut path = "/api/v1/speakers?limit=2".to_owned();
    loop {
        let page = call(&app, &key, Method::GET, &path, None).await;
        conforms("/api/v1/speakers", "get", &page);
        let body = page.json();
        names.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned()),
        );
        match body["next"].as_str() {
            Some(next) => path = format!("/api/v1/speakers?limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        names,
        (0..5).map(|n| format!("Speaker {n}")).collect::<Vec<_>>()
    );

    // A cursor of another list, or no cursor at all, is a 400.
    let talk_cursor = cursor.unwrap_or_default();
    for path in [
        format!("/api/v1/speakers?cursor={talk_cursor}"),
        "/api/v1/talks?cursor=bm90LWEtY3Vyc29y".to_owned(),
        "/api/v1/talks?cursor=%25%25".to_owned(),
    ] {
        let refused = call(&app, &key, Method::GET, &path, None).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            refused.body
        );
        assert_eq!(refused.json()["code"], "invalid_cursor");
    }
    let template = "/api/v1/talks";
    let refused = call(&app, &key, Method::GET, "/api/v1/talks?limit=0", None).await;
    conforms(template, "get", &refused);
    assert_eq!(refused.json()["code"], "invalid_limit");
    let refused = call(&app, &key, Method::GET, "/api/v1/talks?state=famous", None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

/// A change based on an old ETag is refused with 412 and writes nothing; a GET with the
/// current ETag is a 304.
#[tokio::test]
async fn a_stale_if_match_is_refused_and_the_talk_stays_as_it_was() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "ed@example.com").await;
    let key = key(&mut studio, "editor", &["read", "write"]).await;
    let talk = create_talk(&app, &key, json!({"title": "First title"})).await;
    let path = format!("/api/v1/talks/{}", talk["talk"]["id"].as_str().unwrap());
    let first = call(&app, &key, Method::GET, &path, None).await;
    let old = etag(&first);
    assert!(
        old.starts_with('"') && !old.starts_with("W/"),
        "a strong ETag: {old}"
    );

    let not_modified = send(
        &app,
        api(Method::GET, &path, &key).header("if-none-match", &old),
        None,
    )
    .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    conforms("/api/v1/talks/{id}", "get", &not_modified);

    let updated = send(
        &app,
        api(Method::PUT, &path, &key).header("if-match", &old),
        Some(json!({"title": "Second title"})),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    conforms("/api/v1/talks/{id}", "put", &updated);
    let fresh = etag(&updated);
    assert_ne!(fresh, old);

    let stale = send(
        &app,
        api(Method::PUT, &path, &key).header("if-match", &old),
        Some(json!({"title": "Overwritten by a stale client", "tags": ["lost"]})),
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.body
    );
    conforms("/api/v1/talks/{id}", "put", &stale);
    let deleted = send(
        &app,
        api(Method::DELETE, &path, &key).header("if-match", &old),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::PRECONDITION_FAILED);
    let weak = send(
        &app,
        api(Method::DELETE, &path, &key).header("if-match", format!("W/{fresh}")),
        None,
    )
    .await;
    assert_eq!(
        weak.status,
        StatusCode::PRECONDITION_FAILED,
        "If-Match compares strongly"
    );

    let now = call(&app, &key, Method::GET, &path, None).await;
    assert_eq!(etag(&now), fresh);
    assert_eq!(now.json()["talk"]["title"], "Second title");
    assert_eq!(now.json()["talk"]["tags"], json!([]));
    assert_eq!(now.json()["talk"]["deleted_at"], Value::Null);

    // With the current ETag the delete goes through, to the trash, and restore brings it back.
    let trashed = send(
        &app,
        api(Method::DELETE, &path, &key).header("if-match", &fresh),
        None,
    )
    .await;
    assert_eq!(trashed.status, StatusCode::NO_CONTENT);
    let trash = call(&app, &key, Method::GET, "/api/v1/talks?trash=true", None).await;
    assert_eq!(trash.json()["items"].as_array().unwrap().len(), 1);
    let restored = call(&app, &key, Method::POST, &format!("{path}/restore"), None).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    conforms("/api/v1/talks/{id}/restore", "post", &restored);
    assert_eq!(restored.json()["talk"]["deleted_at"], Value::Null);

    // Speakers and tags too.
    let speaker = call(
        &app,
        &key,
        Method::POST,
        "/api/v1/speakers",
        Some(json!({"name": "Ada"})),
    )
    .await;
    let speaker_path = speaker.location().unwrap().to_owned();
    let speaker_tag = etag(&speaker);
    let renamed = send(
        &app,
        api(Method::PUT, &speaker_path, &key).header("if-match", &speaker_tag),
        Some(json!({"name": "Ada Lovelace"})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    conforms("/api/v1/speakers/{id}", "put", &renamed);
    let stale = send(
        &app,
        api(Method::PUT, &speaker_path, &key).header("if-match", &speaker_tag),
        Some(json!({"name": "Someone else"})),
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let got = call(&app, &key, Method::GET, &speaker_path, None).await;
    conforms("/api/v1/speakers/{id}", "get", &got);
    assert_eq!(got.json()["name"], "Ada Lovelace");
}

/// Scopes, revocation, disabled users, cookies next to a key, CSRF, and keys that try to make
/// keys.
#[tokio::test]
async fn api_keys_authenticate_alone_within_their_scope_until_revoked() {
    let app = TestApp::spawn().await;
    let mut ada = editor(&app, "ada@example.com").await;
    let reader = key(&mut ada, "dashboard", &["read"]).await;
    let writer = key(&mut ada, "script", &["write"]).await;
    assert!(reader.starts_with("ft_") && reader.len() == 46);

    let listed = ada.get("/api/v1/api-keys").await;
    assert_eq!(listed.status, StatusCode::OK);
    conforms("/api/v1/api-keys", "get", &listed);
    let keys = listed.json();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(
        !listed.body.contains(&reader[12..]),
        "secrets are never listed"
    );
    assert_eq!(keys[1]["prefix"].as_str().unwrap(), &reader[..11]);
    assert_eq!(keys[1]["scopes"], json!(["read"]));

    // A read key reads, and may not write.
    let list = call(&app, &reader, Method::GET, "/api/v1/talks", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let refused = call(
        &app,
        &reader,
        Method::POST,
        "/api/v1/talks",
        Some(json!({"title": "No"})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["code"], "insufficient_scope");
    assert!(
        refused.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM talks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    // Use is recorded.
    let used = ada.get("/api/v1/api-keys").await.json();
    assert!(used[1]["last_used_at"].is_string(), "{used}");

    // With Bob's session cookies and Ada's key, the request is Ada's, and CSRF (a foreign
    // Origin) does not apply to it.
    let mut bob = editor(&app, "bob@example.com").await;
    let jar: Vec<String> = bob
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let both = |method: Method, path: &str| {
        api(method, path, &writer)
            .header("cookie", jar.join("; "))
            .header("origin", "https://evil.example")
    };
    let me = send(&app, both(Method::GET, "/api/v1/auth/me"), None).await;
    assert_eq!(me.json()["email"], "ada@example.com", "{}", me.body);
    let made = send(
        &app,
        both(Method::POST, "/api/v1/talks"),
        Some(json!({"title": "By Ada"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert!(made.headers.get_all("set-cookie").iter().next().is_none());
    let bobs = bob.get("/api/v1/talks").await.json();
    assert_eq!(bobs["items"], json!([]), "the talk is Ada's, not Bob's");
    // The same cookies without a key keep CSRF protection.
    let forged = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/talks")
            .header("host", SITE)
            .header("cookie", jar.join("; "))
            .header("origin", "https://evil.example"),
        Some(json!({"title": "Forged"})),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.json()["code"], "csrf");

    // Keys cannot manage keys.
    let minted = call(
        &app,
        &writer,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": "more", "scopes": ["write"]})),
    )
    .await;
    assert_eq!(minted.status, StatusCode::FORBIDDEN);
    assert_eq!(minted.json()["code"], "session_required");
    conforms("/api/v1/api-keys", "post", &minted);
    let listed = call(&app, &writer, Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);

    // Unknown, malformed and revoked keys are 401 invalid_token.
    let reader_id = keys[1]["id"].as_str().unwrap().to_owned();
    let revoke = ada
        .send(
            ada.request(Method::DELETE, &format!("/api/v1/api-keys/{reader_id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let unknown = format!("ft_{}", "A".repeat(43));
    for bad in [reader.as_str(), unknown.as_str(), "ft_short", "not-a-key"] {
        let refused = call(&app, bad, Method::GET, "/api/v1/talks", None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(refused.json()["code"], "invalid_token");
        let challenge = refused.headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
    }
    // The writer still works until its user is disabled.
    assert_eq!(
        call(&app, &writer, Method::GET, "/api/v1/talks", None)
            .await
            .status,
        StatusCode::OK
    );
    sqlx::query("UPDATE users SET disabled_at = now() WHERE email = 'ada@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    let disabled = call(&app, &writer, Method::GET, "/api/v1/talks", None).await;
    assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
    let _ = &mut bob;
}

/// Bad input gets a clear 4xx naming the field, and nothing is stored.
#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "ed@example.com").await;
    let key = key(&mut studio, "tests", &["read", "write"]).await;
    let cases = [
        (json!({"title": "T", "slug": "admin"}), "slug"),
        (json!({"title": "  "}), "title"),
        (
            json!({"title": "T", "chapters": [{"start_ms": 5000, "title": "B"}, {"start_ms": 1000, "title": "A"}]}),
            "chapters",
        ),
        (
            json!({"title": "T", "speakers": ["00000000-0000-4000-8000-000000000000"]}),
            "speakers",
        ),
        (
            json!({"title": "T", "language": "english please"}),
            "language",
        ),
    ];
    for (body, field) in cases {
        let refused = call(
            &app,
            &key,
            Method::POST,
            "/api/v1/talks",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.body
        );
        conforms("/api/v1/talks", "post", &refused);
        assert_eq!(refused.json()["field"], field, "{body}");
        assert_eq!(refused.json()["code"], "invalid_field");
    }
    let huge = json!({"title": "T", "description": "x".repeat(10 * 1024 * 1024)});
    let refused = call(&app, &key, Method::POST, "/api/v1/talks", Some(huge)).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    let malformed = send(
        &app,
        api(Method::POST, "/api/v1/talks", &key).header("content-type", "application/json"),
        None,
    )
    .await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.body
    );
    let truncated = app
        .request(
            api(Method::POST, "/api/v1/talks", &key)
                .header("content-type", "application/json")
                .body(Body::from("{\"title\": \"T\""))
                .unwrap(),
        )
        .await;
    assert_eq!(truncated.status, StatusCode::BAD_REQUEST);
    conforms("/api/v1/talks", "post", &truncated);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM talks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing half-saved");

    // A talk without a video cannot go public; two ETags at once are refused.
    let talk = create_talk(&app, &key, json!({"title": "No video"})).await;
    let id = talk["talk"]["id"].as_str().unwrap();
    let refused = call(
        &app,
        &key,
        Method::PUT,
        &format!("/api/v1/talks/{id}/publication"),
        Some(json!({"state": "published"})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["field"], "state");
    let refused = call(
        &app,
        &key,
        Method::PUT,
        &format!("/api/v1/talks/{id}/publication"),
        Some(json!({"state": "scheduled"})),
    )
    .await;
    assert_eq!(refused.json()["field"], "publish_at");
    let two = send(
        &app,
        api(Method::PUT, &format!("/api/v1/talks/{id}"), &key).header("if-match", "\"1\", \"2\""),
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST);
    conforms("/api/v1/talks/{id}", "put", &two);
    let missing = call(&app, &key, Method::GET, "/api/v1/talks/not-a-uuid", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    conforms("/api/v1/talks/{id}", "get", &missing);
    let tag = call(
        &app,
        &key,
        Method::POST,
        "/api/v1/tags",
        Some(json!({"name": "   "})),
    )
    .await;
    assert_eq!(tag.status, StatusCode::UNPROCESSABLE_ENTITY);
    conforms("/api/v1/tags", "post", &tag);
    let speaker = call(
        &app,
        &key,
        Method::POST,
        "/api/v1/speakers",
        Some(json!({"name": "A", "links": ["javascript:alert(1)"]})),
    )
    .await;
    assert_eq!(speaker.json()["field"], "links");
}

/// The paths the router serves under /api/v1, read from the router itself (its Debug output
/// lists every registered path).
fn served_paths(app: &TestApp) -> BTreeSet<String> {
    let text = format!("{:?}", app.router);
    let mut paths = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("\"/api/v1/") {
        let tail = &rest[start + 1..];
        let end = tail.find('"').unwrap();
        paths.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    paths
}

/// Every route under /api/v1 is documented, every documented operation is served, and every
/// method the document does not list on a path is refused by routing (405).
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "ed@example.com").await;
    let key = key(&mut studio, "probe", &["read", "write"]).await;
    let doc = document();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let served = served_paths(&app);
    assert!(served.len() >= 20, "{served:?}");
    assert_eq!(served, documented, "served vs documented paths");

    let served_doc = app.get("/api/v1/openapi.json").await;
    assert_eq!(served_doc.status, StatusCode::OK);
    assert_eq!(&served_doc.json(), doc);
    assert_eq!(
        served_doc.json()["openapi"].as_str().unwrap().get(..3),
        Some("3.1")
    );

    let methods = ["get", "post", "put", "patch", "delete"];
    let mut probed = HashSet::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{track}", "00000000-0000-4000-8000-000000000001")
            .replace("{n}", "0");
        for method in methods {
            let request = api(method.to_uppercase().parse().unwrap(), &path, &key)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            // Only the head: an event stream never ends.
            let response = app.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let json = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
            if item.get(method).is_some() {
                probed.insert((template.clone(), method));
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {template}"
                );
                assert!(
                    status != StatusCode::NOT_FOUND || json,
                    "{method} {template}: routing 404"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {template} is served but not documented"
                );
            }
        }
    }
    assert!(probed.len() >= 30, "{}", probed.len());

    // The schema check itself refuses a body that does not match.
    let wrong = TestResponse {
        status: StatusCode::OK,
        headers: Default::default(),
        body: json!({"items": [{"id": "x"}], "next": 3}).to_string(),
    };
    let caught = std::panic::catch_unwind(|| conforms("/api/v1/talks", "get", &wrong));
    assert!(
        caught.is_err(),
        "a page of talks without their fields passed validation"
    );

    // The reference page lists every operation, without any script.
    let page = app.get("/api/v1/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!page.body.contains("<script"));
    for (template, method) in &probed {
        let heading = format!("<span class=\"method\">{method}</span> <code>{template}</code>");
        assert!(page.body.contains(&heading), "{heading}");
    }
    for schema in [
        "EditableTalk",
        "TalkFields",
        "Publication",
        "ErrorBody",
        "CreatedApiKey",
    ] {
        assert!(
            page.body.contains(&format!("id=\"schema-{schema}\"")),
            "{schema}"
        );
    }
}

/// The studio's page creates and revokes keys without JavaScript; the secret shows once.
#[tokio::test]
async fn the_studio_page_creates_and_revokes_keys_without_javascript() {
    let app = TestApp::spawn().await;
    let mut studio = editor(&app, "ed@example.com").await;
    let page = studio.get("/studio").await;
    assert!(
        page.body.contains("href=\"/studio/api-keys\""),
        "the studio links to its keys"
    );
    let created = studio
        .form_post(
            "studio/api-keys/create",
            &[("name", "Deploy bot"), ("write", "on")],
            "/studio/api-keys",
        )
        .await;
    assert!(
        created.status.is_redirection(),
        "{} {}",
        created.status,
        created.body
    );
    assert_eq!(created.location(), Some("/studio/api-keys"));
    let shown = studio.get("/studio/api-keys").await;
    assert_eq!(shown.status, StatusCode::OK);
    let marker = "<code class=\"secret\">";
    let start = shown.body.find(marker).expect("the new secret is shown") + marker.len();
    let secret: String = shown.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert_eq!(secret.len(), 46, "{secret}");
    assert!(shown.body.contains("Deploy bot"));
    // It works, with the write scope only.
    let made = call(
        &app,
        &secret,
        Method::POST,
        "/api/v1/tags",
        Some(json!({"name": "Rust"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    // Shown once.
    let again = studio.get("/studio/api-keys").await;
    assert!(!again.body.contains(&secret));
    assert!(
        again.body.contains(&secret[..11]),
        "the prefix stays listed"
    );

    let refused = studio
        .form_post(
            "studio/api-keys/create",
            &[("name", "No scope")],
            "/studio/api-keys",
        )
        .await;
    assert!(
        refused.location().unwrap().contains("error="),
        "{:?}",
        refused.location()
    );

    let id = ferrotape_store::api_keys::list(&app.pool, TenantId::DEFAULT, studio_user(&app).await)
        .await
        .unwrap()[0]
        .id;
    let revoked = studio
        .form_post(
            "studio/api-keys/revoke",
            &[("id", &id.to_string())],
            "/studio/api-keys",
        )
        .await;
    assert!(revoked.status.is_redirection());
    let after = call(&app, &secret, Method::GET, "/api/v1/tags", None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(
        !studio
            .get("/studio/api-keys")
            .await
            .body
            .contains("Deploy bot")
    );
}

async fn studio_user(app: &TestApp) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = 'ed@example.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}
