//! Talk posters and speaker photos through the API (`api::images`): real PNG, JPEG and WebP
//! files resized and served by `/media`, hostile files refused with nothing stored and the
//! previous image kept, a poster taken at full resolution from a real transcoded video,
//! permissions, draft posters hidden until publication, plain HTML forms, and S3 storage.

use crate::common;

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use common::{Client, TestApp, TestResponse};
use ferrotape_model::talk::{Publication, SpeakerFields, TalkFields, TalkState};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::media::MediaStore;
use ferrotape_store::studio_talks::{self, Actor};
use ferrotape_store::{PgPool, speakers};
use http_body_util::BodyExt;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::json;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use uuid::Uuid;

const T: TenantId = TenantId::DEFAULT;

// ---- helpers ----

async fn editor<'a>(app: &'a TestApp, email: &str, ip: &str) -> (Client<'a>, Actor) {
    let id = app.user(T, email, Role::Editor).await;
    let mut client = app.client(ip);
    client.log_in(email, common::PASSWORD).await;
    (
        client,
        Actor {
            user: id,
            admin: false,
        },
    )
}

/// A draft talk of `actor` (with a stand-in ready video when `with_video`).
async fn talk(pool: &PgPool, actor: Actor, title: &str, with_video: bool) -> (Uuid, String) {
    let fields = TalkFields {
        title: title.into(),
        ..TalkFields::default()
    };
    let id = studio_talks::create(pool, T, actor, fields, None)
        .await
        .unwrap();
    if with_video {
        common::insert_ready_video(pool, T, id, 60_000).await;
    }
    let slug: String = sqlx::query_scalar("SELECT slug FROM talks WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    (id, slug)
}

async fn publish(pool: &PgPool, actor: Actor, talk: Uuid) {
    let publication = Publication {
        state: TalkState::Published,
        publish_at: None,
    };
    studio_talks::set_publication(pool, T, actor, talk, None, publication)
        .await
        .unwrap();
}

async fn poster_key(pool: &PgPool, talk: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT poster_key FROM talks WHERE id = $1")
        .bind(talk)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn photo_key(pool: &PgPool, speaker: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT photo_key FROM speakers WHERE id = $1")
        .bind(speaker)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A picture with a left-to-right gradient, encoded as `format`.
fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 90])
    }));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// The files under `{owner}/images/` of local storage.
fn stored_images(app: &TestApp, owner: Uuid) -> Vec<String> {
    let dir = app
        .media_dir
        .path()
        .join(T.0.to_string())
        .join(owner.to_string())
        .join("images");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn put_image(
    client: &mut Client<'_>,
    path: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> TestResponse {
    let request = client
        .request(Method::PUT, path)
        .header("content-type", mime)
        .body(Body::from(bytes))
        .unwrap();
    client.send(request).await
}

/// A multipart/form-data body as a browser sends a form: `(name, file name, bytes)`.
fn form_data(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----ferrotape-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        write!(body, "--{boundary}\r\n").unwrap();
        match file_name {
            Some(file) => write!(
                body,
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .unwrap(),
            None => write!(
                body,
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )
            .unwrap(),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_form(
    client: &mut Client<'_>,
    path: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> TestResponse {
    let (content_type, body) = form_data(parts);
    let request = client
        .request(Method::POST, path)
        .header("content-type", content_type)
        .header("accept", "text/html")
        .body(Body::from(body))
        .unwrap();
    client.send(request).await
}

/// An anonymous GET keeping the body's bytes.
async fn fetch(app: &TestApp, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = Request::builder()
        .uri(path)
        .header("host", common::SITE)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

/// The JPEG `/media` serves at `url` (polling while the 5 s visibility cache may still say
/// "not public"), decoded.
async fn served_jpeg(app: &TestApp, url: &str) -> DynamicImage {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, headers, bytes) = fetch(app, url).await;
        if status == StatusCode::OK {
            assert_eq!(headers["content-type"], "image/jpeg");
            assert!(
                headers["cache-control"]
                    .to_str()
                    .unwrap()
                    .contains("immutable"),
                "{headers:?}"
            );
            return image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).unwrap();
        }
        assert!(Instant::now() < deadline, "{url} answers {status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn assert_not_served(app: &TestApp, url: &str) {
    let (status, _, _) = fetch(app, url).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
}

fn url_of(response: &TestResponse, field: &str) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()[field].as_str().unwrap().to_owned()
}

fn code_of(response: &TestResponse) -> String {
    response.json()["code"].as_str().unwrap_or("").to_owned()
}

// ---- uploads ----

#[tokio::test]
async fn png_jpeg_and_webp_posters_are_resized_served_and_shown_once_published() {
    let app = TestApp::spawn().await;
    let (mut client, actor) = editor(&app, "ed@example.com", "10.0.0.1").await;
    let (talk, slug) = talk(&app.pool, actor, "Posters", true).await;
    let path = format!("/api/v1/talks/{talk}/poster");

    let wide = put_image(
        &mut client,
        &path,
        picture(3000, 1000, ImageFormat::Png),
        "image/png",
    )
    .await;
    let first = url_of(&wide, "poster_url");
    assert_eq!(
        (
            wide.json()["width"].as_u64(),
            wide.json()["height"].as_u64()
        ),
        (Some(1280), Some(427))
    );
    assert!(
        first.starts_with(&format!("/media/{}/{talk}/images/", T.0)),
        "{first}"
    );
    // A draft's poster is nobody's business.
    assert_not_served(&app, &first).await;
    publish(&app.pool, actor, talk).await;
    let served = served_jpeg(&app, &first).await;
    assert_eq!((served.width(), served.height()), (1280, 427));

    // The Content-Type is ignored: the bytes say JPEG. A square fits 720 high.
    let square = put_image(
        &mut client,
        &path,
        picture(2000, 2000, ImageFormat::Jpeg),
        "image/png",
    )
    .await;
    let second = url_of(&square, "poster_url");
    let served = served_jpeg(&app, &second).await;
    assert_eq!((served.width(), served.height()), (720, 720));
    // The replaced image is gone from storage and from /media.
    assert_eq!(stored_images(&app, talk).len(), 1);
    assert_not_served(&app, &first).await;

    // A small WebP is not enlarged.
    let small = put_image(
        &mut client,
        &path,
        picture(640, 360, ImageFormat::WebP),
        "image/webp",
    )
    .await;
    let third = url_of(&small, "poster_url");
    let served = served_jpeg(&app, &third).await;
    assert_eq!((served.width(), served.height()), (640, 360));
    assert_eq!(
        poster_key(&app.pool, talk)
            .await
            .map(|k| format!("/media/{k}")),
        Some(third.clone())
    );

    // The catalog card, the watch page's poster and its OpenGraph image use it.
    let catalog = app.get("/").await;
    assert!(catalog.body.contains(&third), "catalog card");
    let page = app.get(&format!("/talks/{slug}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let og = page.body.split("og:image").nth(1).expect("an og:image");
    assert!(
        og[..og.len().min(400)].contains(&third),
        "og:image: {og:.400}"
    );
    assert!(
        page.body.matches(&third).count() >= 2,
        "player poster and og:image"
    );

    // Back to the video's own poster.
    let request = client
        .request(Method::DELETE, &path)
        .body(Body::empty())
        .unwrap();
    assert_eq!(client.send(request).await.status, StatusCode::NO_CONTENT);
    assert_eq!(poster_key(&app.pool, talk).await, None);
    assert!(stored_images(&app, talk).is_empty());
    let page = app.get(&format!("/talks/{slug}")).await;
    assert!(!page.body.contains(&third) && page.body.contains("/media/t/v/thumbs/poster.jpg"));
}

/// A PNG whose header declares `width`×`height` 16-bit RGBA and whose data really inflates to
/// that size (every byte zero), compressed to a few hundred kilobytes.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[16, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = vec![0u8; 1 + width as usize * 8];
    for _ in 0..height {
        zlib.write_all(&row).unwrap();
    }
    chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

#[tokio::test]
async fn hostile_photos_are_refused_and_the_previous_photo_stays() {
    let app = TestApp::spawn().await;
    let (mut client, _) = editor(&app, "ed@example.com", "10.0.0.2").await;
    let speaker = speakers::create(
        &app.pool,
        T,
        SpeakerFields {
            name: "Ada Okafor".into(),
            ..SpeakerFields::default()
        },
    )
    .await
    .unwrap();
    let path = format!("/api/v1/speakers/{}/photo", speaker.id);
    let good = put_image(
        &mut client,
        &path,
        picture(1000, 800, ImageFormat::Jpeg),
        "image/jpeg",
    )
    .await;
    let photo = url_of(&good, "photo_url");
    // Speakers are public: their photo is served at once, a centred square.
    let served = served_jpeg(&app, &photo).await;
    assert_eq!((served.width(), served.height()), (400, 400));
    let page = app.get(&format!("/speakers/{}", speaker.slug)).await;
    assert!(
        page.body.contains(&format!("src=\"{photo}\"")) && page.body.contains("alt=\"Ada Okafor\""),
        "the speaker page shows the photo"
    );
    let kept = photo_key(&app.pool, speaker.id).await;
    let files = stored_images(&app, speaker.id);
    assert_eq!(files.len(), 1);

    let jpeg = picture(300, 300, ImageFormat::Jpeg);
    let mut declared_huge = picture(1, 1, ImageFormat::Png);
    declared_huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]); // 100000×100000
    let crc = crc32fast::hash(&declared_huge[12..29]);
    declared_huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let bomb = png_bomb(6000, 6000);
    assert!(bomb.len() < 2 * 1024 * 1024, "a small file: {}", bomb.len());
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_image"),
        ("svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><script>alert(1)</script></svg>".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_image"),
        ("html", b"<!doctype html><title>x</title><img src=x onerror=alert(1)>".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_image"),
        ("text", b"just some words, not a picture".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_image"),
        ("empty", Vec::new(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_image"),
        ("truncated jpeg", jpeg[..jpeg.len() / 2].to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_image"),
        ("100000x100000 png", declared_huge, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large"),
        ("png bomb", bomb, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large"),
        ("25 MiB", vec![0xFF; 25 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "image_too_large"),
    ];
    for (what, bytes, status, code) in cases {
        let started = Instant::now();
        let response = put_image(&mut client, &path, bytes.clone(), "image/jpeg").await;
        assert_eq!(response.status, status, "{what}: {}", response.body);
        assert_eq!(code_of(&response), code, "{what}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} took {:?}",
            started.elapsed()
        );
        // The same file through a form (its return path in the action's query, known before
        // the body is read: even a body refused at once goes back with its code).
        let form = post_form(
            &mut client,
            &format!("{path}?return_to=/studio/speakers"),
            &[("file", Some("photo.jpg"), &bytes)],
        )
        .await;
        assert_eq!(form.status, StatusCode::SEE_OTHER, "{what}");
        assert_eq!(
            form.location(),
            Some(format!("/studio/speakers?error={code}").as_str()),
            "{what}"
        );
        assert_eq!(photo_key(&app.pool, speaker.id).await, kept, "{what}");
        assert_eq!(
            stored_images(&app, speaker.id),
            files,
            "{what}: nothing stored"
        );
    }
    served_jpeg(&app, &photo).await;

    // A form that works goes back with a notice, and the new photo replaces the old one.
    let form = post_form(
        &mut client,
        &format!("{path}?return_to=/studio/speakers%3Ftab%3Dphoto"),
        &[("file", Some("me.png"), &picture(500, 900, ImageFormat::Png))],
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER);
    assert_eq!(
        form.location(),
        Some("/studio/speakers?tab=photo&notice=photo_saved")
    );
    let new_key = photo_key(&app.pool, speaker.id).await.unwrap();
    assert_ne!(Some(new_key.clone()), kept);
    let served = served_jpeg(&app, &format!("/media/{new_key}")).await;
    assert_eq!((served.width(), served.height()), (400, 400));
    assert_not_served(&app, &photo).await;
    assert_eq!(stored_images(&app, speaker.id).len(), 1);

    // Off-site return paths are refused, not followed.
    let form = post_form(
        &mut client,
        &path,
        &[
            ("return_to", None, b"//evil.example/"),
            ("file", Some("a.jpg"), &jpeg),
        ],
    )
    .await;
    assert_eq!(form.status, StatusCode::BAD_REQUEST, "{}", form.body);

    // Viewers cannot set photos; a speaker of nobody is 404.
    app.user(T, "viewer@example.com", Role::Viewer).await;
    let mut viewer = app.client("10.0.0.3");
    viewer.log_in("viewer@example.com", common::PASSWORD).await;
    let refused = put_image(&mut viewer, &path, jpeg.clone(), "image/jpeg").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let missing = put_image(
        &mut client,
        &format!("/api/v1/speakers/{}/photo", Uuid::new_v4()),
        jpeg.clone(),
        "image/jpeg",
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let request = client
        .request(Method::DELETE, &path)
        .body(Body::empty())
        .unwrap();
    assert_eq!(client.send(request).await.status, StatusCode::NO_CONTENT);
    assert!(stored_images(&app, speaker.id).is_empty());
    assert_eq!(photo_key(&app.pool, speaker.id).await, None);
}

// ---- frames ----

fn ffmpeg(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success(), "ffmpeg failed to make {name}");
    out
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Uploads `file` through the upload API, transcodes it with a worker; returns the video id.
async fn upload_and_transcode(app: &TestApp, client: &mut Client<'_>, file: &[u8]) -> Uuid {
    let open = client
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": "colours.mp4", "size_bytes": file.len(), "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(open.status, StatusCode::CREATED, "{}", open.body);
    let id = open.json()["id"].as_str().unwrap().to_owned();
    let chunk = client
        .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/0"))
        .header("x-chunk-sha256", sha_hex(file))
        .header("content-type", "application/octet-stream")
        .body(Body::from(file.to_vec()))
        .unwrap();
    assert_eq!(client.send(chunk).await.status, StatusCode::OK);
    let complete = client
        .request(Method::POST, &format!("/api/v1/uploads/{id}/complete"))
        .body(Body::empty())
        .unwrap();
    let done = client.send(complete).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let video: Uuid = done.json()["video_id"].as_str().unwrap().parse().unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = ferrotape_worker::WorkerConfig {
        poll_interval: Duration::from_millis(100),
        ..ferrotape_worker::WorkerConfig::default()
    };
    let worker = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        config,
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(240);
    let state = loop {
        let state: String = sqlx::query_scalar("SELECT state::text FROM videos WHERE id = $1")
            .bind(video)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if state != "processing" || Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    worker.await.unwrap();
    assert_eq!(state, "ready");
    video
}

fn centre(image: &DynamicImage) -> [u8; 3] {
    image
        .to_rgb8()
        .get_pixel(image.width() / 2, image.height() / 2)
        .0
}

async fn frame_poster(client: &mut Client<'_>, talk: Uuid, at_ms: u64) -> TestResponse {
    client
        .post_json(
            &format!("/api/v1/talks/{talk}/poster"),
            json!({ "at_ms": at_ms }),
        )
        .await
}

#[tokio::test]
async fn a_poster_frame_is_a_full_resolution_frame_of_the_chosen_moment() {
    let app = TestApp::spawn().await;
    let (mut client, actor) = editor(&app, "ed@example.com", "10.0.0.4").await;
    let tmp = tempfile::tempdir().unwrap();
    // Red for a second, blue until 7 s, green until 8 s, red again to the end (the second 6 s
    // segment holds blue, green and red: a frame taken at the wrong place there shows it).
    let clip = std::fs::read(ffmpeg(
        tmp.path(),
        "colours.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:size=640x360:rate=30:duration=1",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:size=640x360:rate=30:duration=6",
            "-f",
            "lavfi",
            "-i",
            "color=c=green:size=640x360:rate=30:duration=1",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:size=640x360:rate=30:duration=1",
            "-filter_complex",
            "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
    ))
    .unwrap();
    let video = upload_and_transcode(&app, &mut client, &clip).await;
    let fields = TalkFields {
        title: "Colours".into(),
        ..TalkFields::default()
    };
    let talk = studio_talks::create(&app.pool, T, actor, fields, Some(video))
        .await
        .unwrap();

    // Not an editor's talk of theirs: as if it did not exist.
    let (mut other, _) = editor(&app, "other@example.com", "10.0.0.5").await;
    assert_eq!(
        frame_poster(&mut other, talk, 500).await.status,
        StatusCode::NOT_FOUND
    );
    let put = put_image(
        &mut other,
        &format!("/api/v1/talks/{talk}/poster"),
        picture(64, 64, ImageFormat::Png),
        "image/png",
    )
    .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    assert_eq!(poster_key(&app.pool, talk).await, None);

    // Outside the video: 422, nothing stored.
    let duration: i64 = sqlx::query_scalar("SELECT duration_ms FROM videos WHERE id = $1")
        .bind(video)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!((8_900..9_200).contains(&duration), "{duration}");
    for at_ms in [duration as u64, duration as u64 + 1, 3_600_000] {
        let response = frame_poster(&mut client, talk, at_ms).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{at_ms}: {}",
            response.body
        );
        assert_eq!(code_of(&response), "invalid_frame");
    }
    let form = post_form(
        &mut client,
        &format!("/api/v1/talks/{talk}/poster"),
        &[
            ("return_to", None, b"/studio/talks"),
            ("at_ms", None, b"soon"),
            ("file", Some(""), b""),
        ],
    )
    .await;
    assert_eq!(form.location(), Some("/studio/talks?error=invalid_frame"));
    assert!(stored_images(&app, talk).is_empty());
    assert_eq!(poster_key(&app.pool, talk).await, None);

    let red = frame_poster(&mut client, talk, 500).await;
    let red_url = url_of(&red, "poster_url");
    // A draft: hidden from plain /media; the studio's signed preview URL shows it.
    assert_not_served(&app, &red_url).await;
    let signed = app
        .accounts
        .media_urls()
        .sign_media_path(&red_url, time::OffsetDateTime::now_utc());
    let (status, headers, _) = fetch(&app, &signed).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    publish(&app.pool, actor, talk).await;
    let red = served_jpeg(&app, &red_url).await;
    // The rendition's full size, not a 160 px sprite tile.
    assert_eq!((red.width(), red.height()), (640, 360));
    let [r, g, b] = centre(&red);
    assert!(r > 200 && g < 60 && b < 60, "red at 0.5 s: {:?}", [r, g, b]);

    // Through a plain form (a frame chosen with no file): a notice, and the red one replaced.
    let form = post_form(
        &mut client,
        &format!("/api/v1/talks/{talk}/poster"),
        &[
            ("return_to", None, b"/studio/talks"),
            ("file", Some(""), b""),
            ("at_ms", None, b"1500"),
        ],
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{}", form.body);
    assert_eq!(form.location(), Some("/studio/talks?notice=poster_saved"));
    let blue_key = poster_key(&app.pool, talk).await.unwrap();
    let blue = served_jpeg(&app, &format!("/media/{blue_key}")).await;
    let [r, g, b] = centre(&blue);
    assert!(
        b > 200 && r < 60 && g < 60,
        "blue at 1.5 s: {:?}",
        [r, g, b]
    );
    assert_not_served(&app, &red_url).await;

    // A moment in the second segment.
    let green = frame_poster(&mut client, talk, 7_500).await;
    let green = served_jpeg(&app, &url_of(&green, "poster_url")).await;
    assert_eq!((green.width(), green.height()), (640, 360));
    let [r, g, b] = centre(&green);
    assert!(
        g > 100 && r < 60 && b < 60,
        "green at 7.5 s: {:?}",
        [r, g, b]
    );
    assert_eq!(stored_images(&app, talk).len(), 1);

    // A talk without a video has no frame to give.
    let (empty, _) = self::talk(&app.pool, actor, "No video", false).await;
    let response = frame_poster(&mut client, empty, 0).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(code_of(&response), "no_video");
}

// ---- S3 ----

fn s3_args() -> ferrotape_store::s3::S3Args {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the tests through `make test`, which starts an S3 server"
            )
        })
    };
    ferrotape_store::s3::S3Args {
        s3_endpoint: Some(var("FERROTAPE_TEST_S3_ENDPOINT")),
        s3_public_endpoint: None,
        s3_region: "us-east-1".into(),
        s3_bucket: Some("ferrotape-tests".into()),
        s3_access_key_id: Some(var("FERROTAPE_TEST_S3_ACCESS_KEY_ID")),
        s3_secret_access_key: Some(var("FERROTAPE_TEST_S3_SECRET_ACCESS_KEY")),
        s3_path_style: true,
    }
}

#[tokio::test]
async fn posters_are_stored_served_and_replaced_in_an_s3_bucket() {
    let s3 = ferrotape_store::s3::S3Media::connect(&s3_args())
        .await
        .unwrap();
    // SeaweedFS may answer 500 while it grows a new bucket; the SDK retries this first write.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("warm-up"), b"warm").unwrap();
    s3.put_file("warm-up/object", &scratch.path().join("warm-up"))
        .await
        .unwrap();
    let app =
        TestApp::spawn_with_storage(ferrotape_store::media::OpenedMedia::S3(s3.clone())).await;
    let (mut client, actor) = editor(&app, "ed@example.com", "10.0.0.6").await;
    let (talk, _) = talk(&app.pool, actor, "In the bucket", true).await;
    publish(&app.pool, actor, talk).await;
    let path = format!("/api/v1/talks/{talk}/poster");

    let first = put_image(
        &mut client,
        &path,
        picture(1920, 1080, ImageFormat::Png),
        "image/png",
    )
    .await;
    let first_key = url_of(&first, "poster_url")
        .trim_start_matches("/media/")
        .to_owned();
    assert!(
        s3.object_size(&first_key).await.unwrap().is_some(),
        "in the bucket"
    );
    assert!(
        app.media_dir.path().read_dir().unwrap().next().is_none(),
        "nothing on local disk"
    );
    let served = served_jpeg(&app, &format!("/media/{first_key}")).await;
    assert_eq!((served.width(), served.height()), (1280, 720));

    // A refused file leaves the poster as it was.
    let refused = put_image(&mut client, &path, b"<svg/>".to_vec(), "image/svg+xml").await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        poster_key(&app.pool, talk).await.as_deref(),
        Some(first_key.as_str())
    );

    let second = put_image(
        &mut client,
        &path,
        picture(800, 600, ImageFormat::WebP),
        "image/webp",
    )
    .await;
    let second_key = url_of(&second, "poster_url")
        .trim_start_matches("/media/")
        .to_owned();
    let served = served_jpeg(&app, &format!("/media/{second_key}")).await;
    assert_eq!((served.width(), served.height()), (800, 600));
    assert_eq!(
        s3.object_size(&first_key).await.unwrap(),
        None,
        "the replaced poster is deleted"
    );
    assert_not_served(&app, &format!("/media/{first_key}")).await;
}
