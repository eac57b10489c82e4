//! A corpus of hostile requests, generated here (issue 14): malformed and forged headers,
//! paths, bodies, upload metadata, chunk numbers, query strings and server-function arguments.
//! Every one must get a clear 4xx — never a 5xx, never a panic — and change no row and no
//! stored file.

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use common::{SITE, TestApp};
use ferrotape_model::{Role, TenantId};
use serde_json::json;

/// One hostile request: what it is (for the failure message) and the request itself.
struct Case {
    name: String,
    request: Request<Body>,
}

/// Builds the corpus's requests: from a browser on `SITE` (Host and Origin set), with the
/// editor's cookies when `cookies` is given.
struct Corpus {
    cases: Vec<Case>,
    cookies: String,
}

impl Corpus {
    fn push(&mut self, name: impl Into<String>, request: Request<Body>) {
        self.cases.push(Case {
            name: name.into(),
            request,
        });
    }

    fn builder(&self, method: Method, uri: &str, signed_in: bool) -> axum::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", SITE)
            .header("origin", format!("http://{SITE}"));
        if signed_in {
            builder = builder.header("cookie", &self.cookies);
        }
        builder
    }

    fn json(&mut self, name: &str, method: Method, uri: &str, body: &str, signed_in: bool) {
        let request = self
            .builder(method, uri, signed_in)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.push(format!("{name}: {uri} {}", preview(body)), request);
    }

    fn server_fn(&mut self, endpoint: &str, form: &str, signed_in: bool) {
        let request = self
            .builder(Method::POST, &format!("/api/{endpoint}"), signed_in)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.push(format!("server fn {endpoint} {}", preview(form)), request);
    }

    fn get(&mut self, name: &str, uri: &str, signed_in: bool) {
        let request = self
            .builder(Method::GET, uri, signed_in)
            .body(Body::empty())
            .unwrap();
        self.push(format!("{name}: GET {}", preview(uri)), request);
    }
}

fn preview(text: &str) -> String {
    text.chars().take(80).collect()
}

fn deep_json(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Rows and files whose change would mean a hostile request did something. Upload rows are
/// compared by identity and state (a refused request may still count as activity).
async fn fingerprint(app: &TestApp) -> (Vec<String>, BTreeSet<String>) {
    let mut rows = Vec::new();
    for query in [
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM users t",
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM talks t",
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM tenants t",
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM tenant_hosts t",
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM email_tokens t",
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM mail_outbox t",
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM refresh_tokens t",
        "SELECT md5(coalesce(string_agg(id::text || ':' || state::text, '|' ORDER BY id), '')) FROM jobs",
        "SELECT md5(coalesce(string_agg(id::text || ':' || state::text, '|' ORDER BY id), '')) FROM videos",
        "SELECT md5(coalesce(string_agg(id::text || ':' || state::text, '|' ORDER BY id), '')) FROM uploads",
        "SELECT md5(coalesce(string_agg(upload_id::text || ':' || n::text, '|' ORDER BY upload_id, n), '')) FROM upload_chunks",
    ] {
        let digest: String = sqlx::query_scalar(query)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        rows.push(format!("{query} = {digest}"));
    }
    let mut files = BTreeSet::new();
    let mut pending = vec![app.media_dir.path().to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                files.insert(format!("{} {}", entry.path().display(), meta.len()));
            }
        }
    }
    (rows, files)
}

#[tokio::test]
async fn a_corpus_of_hostile_requests_gets_clear_4xx_answers_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let editor_email = "editor@example.com";
    app.user(TenantId::DEFAULT, editor_email, Role::Editor)
        .await;
    let mut editor = app.client("198.51.100.70");
    editor.log_in(editor_email, common::PASSWORD).await;
    // An open upload for the chunk cases.
    let opened = editor
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": "talk.mp4", "size_bytes": 1000, "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    let upload = opened.json()["id"].as_str().unwrap().to_owned();
    let cookies = editor
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut corpus = Corpus {
        cases: Vec::new(),
        cookies,
    };

    // --- Headers: malformed hosts on every kind of route ------------------------------------
    for host in [
        "localhost:@attacker.example",
        "127.0.0.1:3000@attacker.example",
        "attacker.example\\@127.0.0.1",
        "127.0.0.1%3A3000",
        "attacker.example.",
        "[::1]@x",
        "[fe80::1%25lo]",
        "a..b",
        "a b",
        "127.0.0.1:0",
        "127.0.0.1:3000:1",
        "x/y",
        "x#y",
        "x?y",
        "\u{7f}",
    ] {
        for (method, uri) in [
            (Method::GET, "/"),
            (Method::GET, "/api/v1/auth/me"),
            (Method::POST, "/api/v1/auth/password-reset"),
            (Method::GET, "/sitemap.xml"),
        ] {
            let Ok(value) = axum::http::HeaderValue::from_bytes(host.as_bytes()) else {
                continue;
            };
            let request = Request::builder()
                .method(method.clone())
                .uri(uri)
                .header("host", value)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"email":"editor@example.com"}"#))
                .unwrap();
            corpus.push(format!("Host {host:?} {method} {uri}"), request);
        }
    }
    // Garbage session cookies authenticate nobody.
    for cookie in [
        "ft_access=garbage",
        "ft_access=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "ft_refresh=AAAA",
        "ft_refresh=%00%00",
        &format!("ft_refresh={}", "A".repeat(4000)),
        "ft_access=; ft_refresh=",
        "=;=;=",
        "ft_access=a.b.c; ft_access=d.e.f",
    ] {
        let request = Request::builder()
            .uri("/api/v1/auth/me")
            .header("host", SITE)
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap();
        corpus.push(format!("cookie {}", preview(cookie)), request);
    }
    // Cross-site state changes with the editor's cookies.
    for (origin, fetch_site) in [
        (Some("http://attacker.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (Some("http://127.0.0.1:3000@attacker.example"), None),
        (None, None),
    ] {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/uploads")
            .header("host", SITE)
            .header("cookie", &corpus.cookies)
            .header("content-type", "application/json");
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            builder = builder.header("sec-fetch-site", site);
        }
        let request = builder
            .body(Body::from(r#"{"file_name":"x.mp4","size_bytes":10}"#))
            .unwrap();
        corpus.push(format!("CSRF origin {origin:?} {fetch_site:?}"), request);
    }

    // --- Paths ------------------------------------------------------------------------------
    let long = "a".repeat(5000);
    for path in [
        format!("/pkg/{long}"),
        format!("/pkg/{}", "b/".repeat(600)),
        format!("/vendor/{long}.js"),
        "/pkg/../Cargo.toml".to_owned(),
        "/pkg/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/pkg/..%2fCargo.toml".to_owned(),
        "/pkg/x%00.js".to_owned(),
        "/vendor/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        "/media/../../etc/passwd".to_owned(),
        "/media/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        format!("/media/{0}/{0}/source/original.mp4", TenantId::DEFAULT),
        format!(
            "/media/{0}/{0}/hls/..%2f..%2fsource/original.mp4",
            TenantId::DEFAULT
        ),
        format!("/media/{}/x/hls/master.m3u8", TenantId::DEFAULT),
        "/media/x%00y/hls/master.m3u8".to_owned(),
        format!("/media/{long}"),
        "/talks/..%2f..%2fetc%2fpasswd".to_owned(),
        "/talks/%00".to_owned(),
        format!("/talks/{long}"),
        "/talks/%ff%fe".to_owned(),
        "/embed/not-a-uuid".to_owned(),
        "/embed/00000000-0000-0000-0000-000000000000".to_owned(),
        "/speakers/%3Cscript%3E".to_owned(),
        format!("/speakers/{long}"),
        "/api/v1/nothing-here".to_owned(),
        "/api/v1/uploads/%2e%2e".to_owned(),
    ] {
        corpus.get("path", &path, false);
    }

    // --- JSON API bodies --------------------------------------------------------------------
    let bodies = [
        String::new(),
        "{".to_owned(),
        "null".to_owned(),
        "[]".to_owned(),
        "\"just a string\"".to_owned(),
        r#"{"email": 1, "password": []}"#.to_owned(),
        r#"{"email": null, "password": "x"}"#.to_owned(),
        deep_json(5000),
        format!(
            r#"{{"email": "{}@example.com", "password": "x"}}"#,
            "e".repeat(50_000)
        ),
        "\u{0}\u{1}\u{2}".to_owned(),
    ];
    for endpoint in [
        "/api/v1/auth/login",
        "/api/v1/auth/signup",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/password-reset/confirm",
    ] {
        for body in &bodies {
            corpus.json("auth body", Method::POST, endpoint, body, false);
        }
    }
    // Token-shaped garbage in mailed-link endpoints.
    for token in [
        "",
        "x",
        "../../etc",
        &"A".repeat(43),
        &"%".repeat(64),
        "\u{202e}abc",
    ] {
        corpus.json(
            "mailed token",
            Method::POST,
            "/api/v1/auth/verify-email",
            &json!({"token": token}).to_string(),
            false,
        );
        corpus.json(
            "reset token",
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": token, "password": "a fine new passphrase"}).to_string(),
            false,
        );
    }
    // Wrong content types.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let request = corpus
            .builder(Method::POST, "/api/v1/auth/login", false)
            .header("content-type", content_type)
            .body(Body::from(r#"{"email":"a@b.c","password":"x"}"#))
            .unwrap();
        corpus.push(format!("login as {content_type}"), request);
    }

    // --- Upload metadata --------------------------------------------------------------------
    for body in [
        json!({}),
        json!({"file_name": "talk.mp4"}),
        json!({"file_name": "talk.mp4", "size_bytes": -1}),
        json!({"file_name": "talk.mp4", "size_bytes": 0}),
        json!({"file_name": "talk.mp4", "size_bytes": "1000"}),
        json!({"file_name": "talk.mp4", "size_bytes": 1.5}),
        json!({"file_name": "talk.mp4", "size_bytes": 1e30}),
        json!({"file_name": "talk.mp4", "size_bytes": u64::MAX}),
        json!({"file_name": "talk.mp4", "size_bytes": 21_u64 * 1024 * 1024 * 1024 * 1024}),
        json!({"file_name": "", "size_bytes": 1000}),
        json!({"file_name": "talk", "size_bytes": 1000}),
        json!({"file_name": "talk.exe", "size_bytes": 1000}),
        json!({"file_name": "talk.mp4.sh", "size_bytes": 1000}),
        json!({"file_name": "../../../", "size_bytes": 1000}),
        json!({"file_name": 5, "size_bytes": 1000}),
        json!({"file_name": null, "size_bytes": 1000}),
        json!([1, 2, 3]),
    ] {
        corpus.json(
            "open upload",
            Method::POST,
            "/api/v1/uploads",
            &body.to_string(),
            true,
        );
    }
    // Unknown, malformed and foreign upload ids.
    for id in [
        "not-a-uuid".to_owned(),
        uuid::Uuid::new_v4().to_string(),
        "00000000-0000-0000-0000-000000000000".to_owned(),
        "%00".to_owned(),
        "a".repeat(300),
    ] {
        corpus.get("upload status", &format!("/api/v1/uploads/{id}"), true);
        let request = corpus
            .builder(Method::DELETE, &format!("/api/v1/uploads/{id}"), true)
            .body(Body::empty())
            .unwrap();
        corpus.push(format!("abort {id}"), request);
        let request = corpus
            .builder(
                Method::POST,
                &format!("/api/v1/uploads/{id}/complete"),
                true,
            )
            .body(Body::empty())
            .unwrap();
        corpus.push(format!("complete {id}"), request);
    }
    // Chunk numbers and bodies of the real upload (one chunk of 1,000 bytes).
    let good_sha = "0".repeat(64);
    for n in [
        "-1",
        "1",
        "2",
        "99999",
        "4294967296",
        "abc",
        "1e3",
        "0x0",
        "%200",
        "%00",
        "00000000000000000000001",
    ] {
        let request = corpus
            .builder(
                Method::PUT,
                &format!("/api/v1/uploads/{upload}/chunks/{n}"),
                true,
            )
            .header("x-chunk-sha256", &good_sha)
            .body(Body::from(vec![0u8; 1000]))
            .unwrap();
        corpus.push(format!("chunk number {n:?}"), request);
        corpus.json(
            "presign",
            Method::POST,
            &format!("/api/v1/uploads/{upload}/chunks/{n}/url"),
            &json!({"sha256": good_sha}).to_string(),
            true,
        );
    }
    for (name, sha, body) in [
        ("no checksum", None, vec![0u8; 1000]),
        ("short checksum", Some("abc".to_owned()), vec![0u8; 1000]),
        ("non-hex checksum", Some("z".repeat(64)), vec![0u8; 1000]),
        ("wrong checksum", Some(good_sha.clone()), vec![0u8; 1000]),
        ("short body", Some(good_sha.clone()), vec![0u8; 999]),
        ("long body", Some(good_sha.clone()), vec![0u8; 1001]),
        ("empty body", Some(good_sha.clone()), Vec::new()),
        (
            "oversized body",
            Some(good_sha.clone()),
            vec![0u8; 9 * 1024 * 1024],
        ),
    ] {
        let mut builder = corpus.builder(
            Method::PUT,
            &format!("/api/v1/uploads/{upload}/chunks/0"),
            true,
        );
        if let Some(sha) = sha {
            builder = builder.header("x-chunk-sha256", sha);
        }
        corpus.push(
            format!("chunk 0: {name}"),
            builder.body(Body::from(body)).unwrap(),
        );
    }
    // Completing an upload whose chunk never arrived.
    let request = corpus
        .builder(
            Method::POST,
            &format!("/api/v1/uploads/{upload}/complete"),
            true,
        )
        .body(Body::empty())
        .unwrap();
    corpus.push("complete with chunks missing", request);
    // The upload API without a session.
    corpus.json(
        "anonymous open",
        Method::POST,
        "/api/v1/uploads",
        r#"{"file_name":"a.mp4","size_bytes":1}"#,
        false,
    );
    corpus.get(
        "anonymous status",
        &format!("/api/v1/uploads/{upload}"),
        false,
    );

    // --- Query strings ----------------------------------------------------------------------
    for query in [
        "url=",
        "url=javascript:alert(1)",
        "url=http://attacker.example/talks/x",
        &format!("url=http://{SITE}/talks/..%2f..%2f"),
        &format!("url=http://{SITE}/talks/%00"),
        &format!("url=http://{SITE}/talks/no-such-talk"),
        &format!("url=http://{SITE}/talks/x&maxwidth=-5"),
        "maxwidth=abc",
    ] {
        corpus.get("oembed", &format!("/oembed?{query}"), false);
    }
    for query in [
        "offset=-1",
        "offset=abc",
        "limit=99999999999999999999",
        "state=nonsense",
    ] {
        corpus.get(
            "admin users as an editor",
            &format!("/api/v1/admin/users?{query}"),
            true,
        );
    }

    // --- Server functions, called from outside with malformed arguments ---------------------
    for form in [
        "",
        "query=1",
        "query[page]=abc",
        "query[page]=-1",
        "query[page]=99999999999999999999",
        "query[q]=%FF%FE",
        "query[tags][0]=a&query[tags][x]=b",
        "%%%",
        "query=%00",
    ] {
        corpus.server_fn("talks/catalog", form, false);
    }
    for form in ["", "email=a", "password=x", "email[]=a&password[]=b", "%zz"] {
        corpus.server_fn("auth/login", form, false);
    }
    for form in [
        "",
        "video_id=not-a-uuid",
        "video_id=",
        "video_id[]=x",
        "video_id=%00",
    ] {
        corpus.server_fn("studio/retry", form, true);
    }
    for form in ["", "slug=", "slug[]=x", "page=abc"] {
        corpus.server_fn("talks/speaker", form, false);
    }
    corpus.server_fn("no/such/function", "a=b", false);

    assert!(corpus.cases.len() >= 200, "{} cases", corpus.cases.len());
    let before = fingerprint(&app).await;
    let mut failures = Vec::new();
    for (i, case) in corpus.cases.into_iter().enumerate() {
        let mut request = case.request;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((
                [198, 19, (i / 250) as u8, (i % 250) as u8],
                4000,
            ))));
        let response = app.request(request).await;
        if !response.status.is_client_error() {
            failures.push(format!(
                "{} -> {} {}",
                case.name,
                response.status,
                preview(&response.body)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not a clear 4xx:\n{}",
        failures.join("\n")
    );
    let after = fingerprint(&app).await;
    assert_eq!(before.0, after.0, "a hostile request changed rows");
    assert_eq!(before.1, after.1, "a hostile request changed stored files");
}
