//! `/media/…`: player outputs with the right types, caching, ranges, validators and CORS;
//! nothing else (sources, upload chunks, paths that climb out) is reachable.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use uuid::Uuid;

fn put(app: &TestApp, key: &str, bytes: &[u8]) {
    let path = app.media_dir.path().join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> common::TestResponse {
    let mut request = Request::get(path).header("host", common::SITE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.request(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn segments_are_immutable_playlists_short_lived_and_ranges_work() {
    let app = TestApp::spawn().await;
    let (t, v) = (Uuid::new_v4(), Uuid::new_v4());
    let segment: Vec<u8> = (b'a'..=b'z').cycle().take(10_000).collect();
    put(&app, &format!("{t}/{v}/hls/720p/seg_0.m4s"), &segment);
    put(&app, &format!("{t}/{v}/hls/master.m3u8"), b"#EXTM3U\n");
    put(&app, &format!("{t}/{v}/thumbs/thumbs.vtt"), b"WEBVTT\n");

    let whole = get(
        &app,
        &format!("/media/{t}/{v}/hls/720p/seg_0.m4s"),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.headers["content-type"], "video/iso.segment");
    assert_eq!(
        whole.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(whole.headers["access-control-allow-origin"], "*");
    assert!(
        whole.headers.get("content-encoding").is_none(),
        "media is never re-compressed"
    );
    assert!(whole.headers.get("set-cookie").is_none());
    assert_eq!(whole.body.len(), 10_000);

    let etag = whole.headers["etag"].to_str().unwrap().to_owned();
    let again = get(
        &app,
        &format!("/media/{t}/{v}/hls/720p/seg_0.m4s"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let range = get(
        &app,
        &format!("/media/{t}/{v}/hls/720p/seg_0.m4s"),
        &[("range", "bytes=100-199")],
    )
    .await;
    assert_eq!(range.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.headers["content-range"], "bytes 100-199/10000");
    assert_eq!(range.headers["content-length"], "100");

    let master = get(&app, &format!("/media/{t}/{v}/hls/master.m3u8"), &[]).await;
    assert_eq!(
        master.headers["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert!(
        master.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=60")
    );
    let vtt = get(&app, &format!("/media/{t}/{v}/thumbs/thumbs.vtt"), &[]).await;
    assert_eq!(vtt.headers["content-type"], "text/vtt; charset=utf-8");
}

#[tokio::test]
async fn sources_chunks_and_escapes_are_not_found() {
    let app = TestApp::spawn().await;
    let (t, v) = (Uuid::new_v4(), Uuid::new_v4());
    put(
        &app,
        &format!("{t}/{v}/source/original.mp4"),
        b"secret source",
    );
    put(&app, &format!("{t}/{v}/upload/source.partial"), b"chunk");
    put(&app, &format!("{t}/{v}/hls/run.sh"), b"#!/bin/sh");
    for path in [
        format!("/media/{t}/{v}/source/original.mp4"),
        format!("/media/{t}/{v}/upload/source.partial"),
        format!("/media/{t}/{v}/hls/run.sh"),
        format!("/media/{t}/{v}/hls/../source/original.mp4"),
        format!("/media/{t}/{v}/hls/%2e%2e/source/original.mp4"),
        format!("/media/{t}/{v}/hls/missing.m4s"),
        "/media/..%2f..%2fetc/passwd".to_owned(),
    ] {
        let response = get(&app, &path, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!response.body.contains("secret"), "{path}");
    }
}
