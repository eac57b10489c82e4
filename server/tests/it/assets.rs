//! `/pkg/…` and `/vendor/…`: the built bundles, precompressed twins chosen by Accept-Encoding,
//! revalidated on every use, and served without a database.

use crate::common;

use std::path::Path;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{TestApp, TestResponse};

/// Writes `name` under the site root with `text` and its brotli and gzip twins, compressed by
/// the same tools scripts/build-site.sh uses.
fn built_file(app: &TestApp, name: &str, text: &str) -> (String, String) {
    let path = app.site_dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    compress(&path, "gzip", &["-9", "-k", "-f"]);
    compress(&path, "brotli", &["-q", "11", "-k", "-f"]);
    let read = |ext: &str| {
        String::from_utf8_lossy(&std::fs::read(format!("{}.{ext}", path.display())).unwrap())
            .into_owned()
    };
    (read("br"), read("gz"))
}

fn compress(path: &Path, tool: &str, args: &[&str]) {
    let status = Command::new(tool)
        .args(args)
        .arg(path)
        .status()
        .unwrap_or_else(|err| panic!("{tool} (installed by scripts/setup.sh): {err}"));
    assert!(status.success(), "{tool} failed");
}

async fn get(app: &TestApp, path: &str, headers: &[(header::HeaderName, &str)]) -> TestResponse {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    app.request(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn bundles_are_served_precompressed_and_revalidated() {
    let app = TestApp::spawn().await;
    let source = "export function hydrate() { /* the viewer */ }\n".repeat(50);
    let (br, gz) = built_file(&app, "pkg/viewer.js", &source);

    let response = get(
        &app,
        "/pkg/viewer.js",
        &[(header::ACCEPT_ENCODING, "gzip, deflate, br")],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers[header::CONTENT_ENCODING], "br");
    assert_eq!(response.body, br);
    assert_eq!(response.headers[header::CACHE_CONTROL], "no-cache");
    assert!(
        response.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        response.headers[header::VARY]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );

    let response = get(&app, "/pkg/viewer.js", &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(response.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(response.body, gz);

    let plain = get(&app, "/pkg/viewer.js", &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(!plain.headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(plain.body, source);

    // A browser's next visit revalidates and gets no body back.
    let modified = plain.headers[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let again = get(
        &app,
        "/pkg/viewer.js",
        &[(header::IF_MODIFIED_SINCE, &modified)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
}

#[tokio::test]
async fn the_player_engine_and_wasm_have_their_types_and_nothing_else_is_reachable() {
    let app = TestApp::spawn().await;
    built_file(&app, "vendor/hls.light.min.js", "var Hls = {};");
    built_file(&app, "pkg/viewer.wasm", "\0asm wasm bytes");

    let hls = get(&app, "/vendor/hls.light.min.js", &[]).await;
    assert_eq!(hls.status, StatusCode::OK);
    assert_eq!(hls.body, "var Hls = {};");
    assert_eq!(hls.headers[header::CACHE_CONTROL], "no-cache");
    let wasm = get(&app, "/pkg/viewer.wasm", &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(wasm.headers[header::CONTENT_TYPE], "application/wasm");

    std::fs::write(app.site_dir.path().join("secret.txt"), "not an asset").unwrap();
    for path in [
        "/pkg/missing.js",
        "/pkg/../secret.txt",
        "/pkg/%2e%2e/secret.txt",
        "/vendor/",
    ] {
        let response = get(&app, path, &[]).await;
        assert!(
            response.status == StatusCode::NOT_FOUND || response.status == StatusCode::BAD_REQUEST,
            "{path}: {}",
            response.status
        );
        assert!(!response.body.contains("not an asset"), "{path}");
    }
}

#[tokio::test]
async fn assets_load_while_the_database_is_down() {
    let app = TestApp::spawn().await;
    built_file(&app, "pkg/ferrotape.css", "body { color: white; }");
    app.pool.close().await;
    let css = get(&app, "/pkg/ferrotape.css", &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.body, "body { color: white; }");
    // Pages need the database (to place the host in a tenant) and say so.
    assert_eq!(
        get(&app, "/", &[(header::HOST, common::SITE)]).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
