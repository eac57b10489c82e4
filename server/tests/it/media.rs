//! `/media/…`: player outputs with the right types, caching, ranges, validators and CORS;
//! nothing else (sources, upload chunks, paths that climb out) is reachable; outputs of a
//! video whose talk is not public only through a signed preview URL.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use ferrotape_model::{Role, TenantId};
use ferrotape_server::media_visibility::MediaVisibility;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A video of the default tenant attached to a new talk in `talk`'s state, or to no talk at
/// all; returns (tenant, video) for its keys.
async fn video(app: &TestApp, talk: TalkState) -> (Uuid, Uuid) {
    let tenant = TenantId::DEFAULT;
    let published_at = match talk {
        TalkState::None => None,
        TalkState::Draft => Some(None),
        TalkState::PublishedAt(at) => Some(Some(at)),
    };
    let mut talk_id = None;
    if let Some(published_at) = published_at {
        let slug = format!("talk-{}", Uuid::new_v4().simple());
        talk_id =
            Some(common::insert_talk(&app.pool, tenant, &slug, "A talk", published_at, &[]).await);
    }
    let video: Uuid = sqlx::query_scalar(
        "INSERT INTO videos (tenant_id, talk_id, state, duration_ms, master_key, poster_key, processed_at)
         VALUES ($1, $2, 'ready', 1000, 'x/hls/master.m3u8', 'x/thumbs/poster.jpg', now()) RETURNING id",
    )
    .bind(tenant.0)
    .bind(talk_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (tenant.0, video)
}

#[derive(Clone, Copy)]
enum TalkState {
    None,
    Draft,
    PublishedAt(OffsetDateTime),
}

fn public() -> TalkState {
    TalkState::PublishedAt(OffsetDateTime::now_utc() - Duration::minutes(1))
}

/// Writes a master playlist and a segment of `(t, v)`.
fn put_outputs(app: &TestApp, (t, v): (Uuid, Uuid)) {
    put(
        app,
        &format!("{t}/{v}/hls/master.m3u8"),
        b"#EXTM3U\n720p/index.m3u8\n",
    );
    put(
        app,
        &format!("{t}/{v}/hls/720p/seg_0.m4s"),
        b"segment bytes",
    );
}

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
    let (t, v) = video(&app, public()).await;
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

#[tokio::test]
async fn outputs_of_a_video_whose_talk_is_not_public_are_not_found() {
    let app = TestApp::spawn().await;
    let draft = video(&app, TalkState::Draft).await;
    let scheduled = video(
        &app,
        TalkState::PublishedAt(OffsetDateTime::now_utc() + Duration::days(1)),
    )
    .await;
    let orphan = video(&app, TalkState::None).await;
    let unknown = (TenantId::DEFAULT.0, Uuid::new_v4());
    // Another tenant's id with this tenant's video: the pair must match.
    let (_, public_video) = video(&app, public()).await;
    let wrong_tenant = (Uuid::new_v4(), public_video);
    for ids in [draft, scheduled, orphan, unknown, wrong_tenant] {
        put_outputs(&app, ids);
        let (t, v) = ids;
        for file in ["hls/master.m3u8", "hls/720p/seg_0.m4s"] {
            let response = get(&app, &format!("/media/{t}/{v}/{file}"), &[]).await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "{t}/{v}/{file}");
            assert!(!response.body.contains("segment bytes"));
        }
    }
}

#[tokio::test]
async fn public_media_needs_no_cookie_and_is_cacheable_by_anyone() {
    let app = TestApp::spawn().await;
    let ids @ (t, v) = video(&app, public()).await;
    put_outputs(&app, ids);
    let response = get(&app, &format!("/media/{t}/{v}/hls/720p/seg_0.m4s"), &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, "segment bytes");
    let cache = response.headers["cache-control"].to_str().unwrap();
    assert!(cache.starts_with("public"), "{cache}");
    assert!(response.headers.get("set-cookie").is_none());
    assert!(
        response.headers.get_all("vary").iter().all(|v| !v
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("cookie")),
        "a CDN must be able to share it"
    );
}

/// The visibility check itself, without its cache: publishing, scheduling and unpublishing
/// are seen by the next request.
#[tokio::test]
async fn visibility_follows_the_talk() {
    let app = TestApp::spawn().await;
    let (t, v) = video(&app, TalkState::Draft).await;
    let visibility = MediaVisibility::with_ttl(std::time::Duration::ZERO);
    let set_published = |at: Option<OffsetDateTime>| {
        let pool = app.pool.clone();
        async move {
            sqlx::query(
                "UPDATE talks SET published_at = $1,
                        state = CASE WHEN $1::timestamptz IS NULL THEN 'unpublished' ELSE 'public' END::talk_state
                 WHERE id = (SELECT talk_id FROM videos WHERE id = $2)",
            )
            .bind(at)
            .bind(v)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    assert!(
        !visibility.is_public(&app.pool, t, v).await.unwrap(),
        "draft"
    );
    set_published(Some(OffsetDateTime::now_utc() + Duration::hours(1))).await;
    assert!(
        !visibility.is_public(&app.pool, t, v).await.unwrap(),
        "scheduled"
    );
    set_published(Some(OffsetDateTime::now_utc() - Duration::seconds(1))).await;
    assert!(
        visibility.is_public(&app.pool, t, v).await.unwrap(),
        "published"
    );
    set_published(None).await;
    assert!(
        !visibility.is_public(&app.pool, t, v).await.unwrap(),
        "unpublished"
    );
}

/// A popular video's answer expires for all its viewers at once: they wait for one lookup (its
/// two queries) instead of each asking the database, where hundreds would queue for the pool's
/// few connections and some would time out as a 503.
#[tokio::test]
async fn viewers_of_one_video_share_one_visibility_lookup() {
    let app = TestApp::spawn().await;
    let (t, v) = video(
        &app,
        TalkState::PublishedAt(OffsetDateTime::now_utc() - Duration::minutes(1)),
    )
    .await;
    // A pool of its own that counts the queries run through it (one acquisition each, of a
    // new connection or an idle one).
    let queries = Arc::new(AtomicUsize::new(0));
    let (opened, reused) = (queries.clone(), queries.clone());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .after_connect(move |_, _| {
            opened.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        })
        .before_acquire(move |_, _| {
            reused.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(true) })
        })
        .connect_with((*app.pool.connect_options()).clone())
        .await
        .unwrap();
    // Counted from here (connecting checks a connection out and back).
    let at_start = queries.load(Ordering::SeqCst);
    let queries = move || queries.load(Ordering::SeqCst) - at_start;
    let visibility = MediaVisibility::new();
    let viewers = (0..500).map(|_| visibility.lookup(&pool, t, v));
    let answers = futures::future::join_all(viewers).await;
    assert!(answers.iter().all(|answer| answer.as_ref().unwrap().public));
    assert_eq!(queries(), 2, "one lookup for 500 viewers");

    // Once answered, the next request reads the kept answer.
    assert!(visibility.lookup(&pool, t, v).await.unwrap().public);
    assert_eq!(queries(), 2);

    // A failed lookup is not kept: once the database answers again, so does the next request.
    let (t, v) = video(
        &app,
        TalkState::PublishedAt(OffsetDateTime::now_utc() - Duration::minutes(1)),
    )
    .await;
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(200))
        .connect_with((*app.pool.connect_options()).clone())
        .await
        .unwrap();
    let busy = one.acquire().await.unwrap();
    assert!(visibility.lookup(&one, t, v).await.is_err());
    drop(busy);
    assert!(visibility.lookup(&one, t, v).await.unwrap().public);
}

#[tokio::test]
async fn a_signed_url_serves_a_draft_privately_with_one_token_for_the_whole_playlist() {
    let app = TestApp::spawn().await;
    let ids @ (t, v) = video(&app, TalkState::Draft).await;
    put_outputs(&app, ids);
    let signer = app.accounts.media_urls();
    let now = OffsetDateTime::now_utc();
    let master = signer
        .sign_key(&format!("{t}/{v}/hls/master.m3u8"), now)
        .unwrap();
    let response = get(&app, &master, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{master}");
    assert!(response.body.starts_with("#EXTM3U"));
    assert!(
        response.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    // hls.js resolves the playlist's relative entries against the master's path.
    let segment = master.replace("master.m3u8", "720p/seg_0.m4s");
    let response = get(&app, &segment, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, "segment bytes");
    assert!(
        response.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    // Sources stay out of reach even with a valid token.
    put(
        &app,
        &format!("{t}/{v}/source/original.mp4"),
        b"secret source",
    );
    let source = master.replace("hls/master.m3u8", "source/original.mp4");
    assert_eq!(get(&app, &source, &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn expired_tampered_and_borrowed_signatures_are_refused() {
    let app = TestApp::spawn().await;
    let draft @ (t, v) = video(&app, TalkState::Draft).await;
    let other @ (_, other_v) = video(&app, TalkState::Draft).await;
    put_outputs(&app, draft);
    put_outputs(&app, other);
    let signer = app.accounts.media_urls();
    let now = OffsetDateTime::now_utc();
    let key = format!("{t}/{v}/hls/master.m3u8");

    let expired = signer.sign_key(&key, now - Duration::hours(3)).unwrap();
    let valid = signer.sign_key(&key, now).unwrap();
    let signature = valid.split('/').nth(4).unwrap().to_owned();
    let mut flipped = signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let tampered = valid.replace(&signature, std::str::from_utf8(&flipped).unwrap());
    let borrowed = signer
        .sign_key(&format!("{t}/{other_v}/hls/master.m3u8"), now)
        .unwrap()
        .replace(&other_v.to_string(), &v.to_string());
    let expires = valid.split('/').nth(3).unwrap();
    let extended = valid.replacen(
        expires,
        &(expires.parse::<i64>().unwrap() + 86_400).to_string(),
        1,
    );
    for url in [expired, tampered, borrowed, extended] {
        let response = get(&app, &url, &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{url}");
        assert!(!response.body.contains("EXTM3U"));
    }
    let garbled = format!("/media/s/soon/{signature}/{t}/{v}/hls/master.m3u8");
    assert_eq!(get(&app, &garbled, &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_studio_points_an_editor_at_signed_previews_of_their_drafts() {
    let app = TestApp::spawn().await;
    let editor = app
        .user(TenantId::DEFAULT, "editor@example.org", Role::Editor)
        .await;
    let (t, v) = video(&app, TalkState::Draft).await;
    put(&app, &format!("{t}/{v}/thumbs/poster.jpg"), b"poster bytes");
    sqlx::query("UPDATE videos SET uploaded_by = $1, poster_key = $2 WHERE id = $3")
        .bind(editor)
        .bind(format!("{t}/{v}/thumbs/poster.jpg"))
        .bind(v)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut client = app.client("192.0.2.10");
    client.log_in("editor@example.org", common::PASSWORD).await;
    let listed = client.server_fn("studio/videos", &[]).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let poster = listed.json()[0]["poster_url"].as_str().unwrap().to_owned();
    assert!(poster.starts_with("/media/s/"), "{poster}");
    assert_eq!(
        get(&app, &format!("/media/{t}/{v}/thumbs/poster.jpg"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND,
        "the plain URL of a draft stays closed"
    );
    let response = get(&app, &poster, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, "poster bytes");
}

/// A GET as `ip` sends it (the peer address the server sees).
async fn get_from(
    app: &TestApp,
    ip: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> common::TestResponse {
    let mut request = Request::get(path).header("host", common::SITE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            ip.parse().unwrap(),
            40000,
        )));
    app.request(request).await
}

#[tokio::test]
async fn a_front_server_is_handed_media_it_may_send_and_nothing_else() {
    let app = TestApp::spawn_behind_front_server(
        vec!["10.0.0.2/32".parse().unwrap()],
        "/_ferrotape_media/",
    )
    .await;
    let public @ (t, v) = video(&app, public()).await;
    put_outputs(&app, public);
    let draft @ (dt, dv) = video(&app, TalkState::Draft).await;
    put_outputs(&app, draft);
    let front = "10.0.0.2";

    let segment = get_from(
        &app,
        front,
        &format!("/media/{t}/{v}/hls/720p/seg_0.m4s"),
        &[],
    )
    .await;
    assert_eq!(segment.status, StatusCode::OK);
    assert_eq!(
        segment.headers["x-accel-redirect"],
        format!("/_ferrotape_media/{t}/{v}/hls/720p/seg_0.m4s").as_str()
    );
    assert_eq!(segment.body, "", "the front server sends the bytes");
    assert_eq!(segment.headers["content-type"], "video/iso.segment");
    assert_eq!(
        segment.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let master = get_from(&app, front, &format!("/media/{t}/{v}/hls/master.m3u8"), &[]).await;
    assert_eq!(
        master.headers["x-accel-redirect"],
        format!("/_ferrotape_media/{t}/{v}/hls/master.m3u8").as_str()
    );
    assert!(
        master.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=60")
    );

    // What the platform refuses, it refuses to the front server too: no hand-over.
    for path in [
        format!("/media/{dt}/{dv}/hls/720p/seg_0.m4s"),
        format!("/media/{t}/{v}/source/original.mp4"),
        format!("/media/{t}/{v}/hls/%2e%2e/%2e%2e/{dv}/hls/master.m3u8"),
    ] {
        let response = get_from(&app, front, &path, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert!(response.headers.get("x-accel-redirect").is_none(), "{path}");
    }
    let signer = app.accounts.media_urls();
    let now = OffsetDateTime::now_utc();
    let expired = signer
        .sign_key(
            &format!("{dt}/{dv}/hls/master.m3u8"),
            now - Duration::hours(3),
        )
        .unwrap();
    let refused = get_from(&app, front, &expired, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.headers.get("x-accel-redirect").is_none());
    let signed = signer
        .sign_key(&format!("{dt}/{dv}/hls/master.m3u8"), now)
        .unwrap();
    let preview = get_from(&app, front, &signed, &[]).await;
    assert_eq!(
        preview.headers["x-accel-redirect"],
        format!("/_ferrotape_media/{dt}/{dv}/hls/master.m3u8").as_str()
    );
    assert_eq!(preview.headers["cache-control"], "private, no-cache");

    // A client that reaches the platform directly gets the bytes, never a hand-over.
    let direct = get_from(
        &app,
        "203.0.113.7",
        &format!("/media/{t}/{v}/hls/720p/seg_0.m4s"),
        &[],
    )
    .await;
    assert_eq!(direct.status, StatusCode::OK);
    assert_eq!(direct.body, "segment bytes");
    assert!(direct.headers.get("x-accel-redirect").is_none());
}

#[tokio::test]
async fn hostile_ranges_validators_and_paths_get_correct_answers() {
    let app = TestApp::spawn().await;
    let (t, v) = video(&app, public()).await;
    let body: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let key = format!("{t}/{v}/hls/720p/seg_0.m4s");
    put(&app, &key, &body);
    let path = format!("/media/{key}");

    let whole = get(&app, &path, &[]).await;
    assert_eq!(whole.status, StatusCode::OK);
    let etag = whole.headers["etag"].to_str().unwrap().to_owned();
    let last_modified = whole.headers["last-modified"].to_str().unwrap().to_owned();
    assert_eq!(whole.headers["accept-ranges"], "bytes");

    for (range, status, content_range, length) in [
        (
            "bytes=4096-",
            StatusCode::RANGE_NOT_SATISFIABLE,
            Some("bytes */4096"),
            None,
        ),
        (
            "bytes=5000-6000",
            StatusCode::RANGE_NOT_SATISFIABLE,
            Some("bytes */4096"),
            None,
        ),
        (
            "bytes=4000-9999",
            StatusCode::PARTIAL_CONTENT,
            Some("bytes 4000-4095/4096"),
            Some("96"),
        ),
        (
            "bytes=-10",
            StatusCode::PARTIAL_CONTENT,
            Some("bytes 4086-4095/4096"),
            Some("10"),
        ),
        // Several ranges (overlapping or not) and nonsense: the whole file, once.
        (
            "bytes=0-4095,0-4095,0-4095,0-4095",
            StatusCode::OK,
            None,
            Some("4096"),
        ),
        ("bytes=0-10,20-30", StatusCode::OK, None, Some("4096")),
        ("bytes=10-5", StatusCode::OK, None, Some("4096")),
        ("bytes=x-y", StatusCode::OK, None, Some("4096")),
        ("lines=1-2", StatusCode::OK, None, Some("4096")),
    ] {
        let response = get(&app, &path, &[("range", range)]).await;
        assert_eq!(response.status, status, "{range}");
        assert_eq!(
            response
                .headers
                .get("content-range")
                .map(|v| v.to_str().unwrap()),
            content_range,
            "{range}"
        );
        if let Some(length) = length {
            assert_eq!(response.headers["content-length"], length, "{range}");
        }
    }
    let part = get(&app, &path, &[("range", "bytes=256-259")]).await;
    assert_eq!(part.body.as_bytes(), &body[256..260]);

    for (name, value, status) in [
        ("if-none-match", etag.as_str(), StatusCode::NOT_MODIFIED),
        ("if-none-match", "\u{1}garbage", StatusCode::OK),
        ("if-none-match", "\"nope\", W/\"also-nope\"", StatusCode::OK),
        (
            "if-modified-since",
            last_modified.as_str(),
            StatusCode::NOT_MODIFIED,
        ),
        ("if-modified-since", "not a date", StatusCode::OK),
    ] {
        let headers = [(name, value)];
        let request = Request::get(&path).header("host", common::SITE);
        let request =
            headers.iter().fold(
                request,
                |r, (n, v)| match axum::http::HeaderValue::from_bytes(v.as_bytes()) {
                    Ok(v) => r.header(*n, v),
                    Err(_) => r,
                },
            );
        let response = app.request(request.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status, status, "{name}: {value:?}");
        if status == StatusCode::NOT_MODIFIED {
            assert_eq!(response.body, "");
            assert_eq!(response.headers["etag"], etag.as_str());
            assert_eq!(
                response.headers["cache-control"],
                "public, max-age=31536000, immutable"
            );
        }
    }
    // A range of another version of the file is not answered as a part of this one.
    let stale = get(
        &app,
        &path,
        &[("range", "bytes=0-9"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);

    let head = app
        .request(
            Request::head(&path)
                .header("host", common::SITE)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-length"], "4096");
    assert_eq!(head.headers["etag"], etag.as_str());
    assert_eq!(head.body, "");

    for hostile in [
        format!("/media/{t}/{v}/hls/720p/..%2f..%2f..%2fsource/original.mp4"),
        format!("/media/{t}/{v}/hls%2f720p%2fseg_0.m4s"),
        format!("/media/{t}/{v}/hls/720p/seg_0.m4s%00.jpg"),
        format!("/media/{t}/{v}/hls/720p/%00"),
        format!("/media/{t}%2f{v}/hls/720p/seg_0.m4s"),
        format!("/media/{t}/{v}/hls/720p/seg_0.m4s/"),
        format!("/media/{t}/{v}/hls/720p//seg_0.m4s"),
    ] {
        let response = get(&app, &hostile, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{hostile}");
    }
}
