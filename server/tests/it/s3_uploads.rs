//! Uploads and playback with S3 storage, against the SeaweedFS server `make test` starts
//! (`FERROTAPE_TEST_S3_*`): chunks go straight to the bucket through presigned URLs (curl plays
//! the browser), the server joins the multipart upload, the worker transcodes from and to the
//! bucket, and `/media` streams the outputs with ranges and revalidation.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Client, TestApp, TestResponse};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::media::OpenedMedia;
use ferrotape_store::s3::{S3Args, S3Media};
use serde_json::json;
use sha2::{Digest, Sha256};

fn s3_args() -> S3Args {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the tests through `make test`, which starts an S3 server"
            )
        })
    };
    S3Args {
        s3_endpoint: Some(var("FERROTAPE_TEST_S3_ENDPOINT")),
        s3_public_endpoint: None,
        s3_region: "us-east-1".into(),
        // Shared by the tests: every key starts with a fresh video id.
        s3_bucket: Some("ferrotape-tests".into()),
        s3_access_key_id: Some(var("FERROTAPE_TEST_S3_ACCESS_KEY_ID")),
        s3_secret_access_key: Some(var("FERROTAPE_TEST_S3_SECRET_ACCESS_KEY")),
        s3_path_style: true,
    }
}

async fn s3_app() -> (TestApp, S3Media) {
    s3_app_with(s3_args(), None).await
}

async fn s3_app_with(
    args: S3Args,
    tools: Option<ferrotape_worker::MediaTools>,
) -> (TestApp, S3Media) {
    let s3 = S3Media::connect(&args).await.unwrap();
    // SeaweedFS may answer 500 while it grows storage for a new bucket: the SDK retries, a bare
    // curl request would not, so the first write goes through the SDK.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("warm-up"), b"warm").unwrap();
    use ferrotape_store::media::MediaStore;
    s3.put_file("warm-up/object", &scratch.path().join("warm-up"))
        .await
        .unwrap();
    let app =
        TestApp::spawn_with_uploads(Default::default(), Some(OpenedMedia::S3(s3.clone())), tools)
            .await;
    (app, s3)
}

/// A TCP proxy in front of the S3 server that counts the bytes S3 sends back: what the web
/// server downloads from the bucket.
struct CountingProxy {
    endpoint: String,
    downloaded: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: &str) -> CountingProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let downloaded = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = downloaded.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, counter) = (upstream.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    let up = async {
                        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                        let _ = to_server.shutdown().await;
                    };
                    let down = async {
                        let mut buffer = vec![0u8; 64 * 1024];
                        while let Ok(n) = from_server.read(&mut buffer).await {
                            if n == 0 || to_client.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                            counter.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
                        }
                        let _ = to_client.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        CountingProxy {
            endpoint,
            downloaded,
        }
    }

    fn downloaded(&self) -> u64 {
        self.downloaded.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A 3 s 320x240 clip with sound, made by ffmpeg's test sources.
fn clip(dir: &Path) -> Vec<u8> {
    let out = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
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
            "3",
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

async fn editor<'a>(app: &'a TestApp) -> Client<'a> {
    app.user(TenantId::DEFAULT, "ed@example.com", Role::Editor)
        .await;
    let mut client = app.client("10.0.0.1");
    client.log_in("ed@example.com", common::PASSWORD).await;
    client
}

async fn open(client: &mut Client<'_>, size: usize) -> serde_json::Value {
    let response = client
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": "talk.mp4", "size_bytes": size, "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    response.json()
}

async fn send(client: &mut Client<'_>, method: Method, path: &str) -> TestResponse {
    let request = client.request(method, path).body(Body::empty()).unwrap();
    client.send(request).await
}

/// PUTs a file to a presigned URL with curl, as the browser's uploader does; the HTTP status.
fn put_direct(url: &str, headers: &serde_json::Value, file: &Path) -> u16 {
    let mut command = Command::new("curl");
    command.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "--data-binary",
    ]);
    command.arg(format!("@{}", file.display()));
    for (name, value) in headers.as_object().unwrap() {
        command.args(["-H", &format!("{name}: {}", value.as_str().unwrap())]);
    }
    let output = command.arg(url).output().expect("curl runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

async fn video_state(app: &TestApp, video: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT state::text, failure_reason FROM videos WHERE id = $1::uuid")
        .bind(video)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_direct_upload_to_s3_is_transcoded_and_served_from_the_bucket() {
    let (app, s3) = s3_app().await;
    let mut client = editor(&app).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    let path = tmp.path().join("clip.mp4");

    let opened = open(&mut client, file.len()).await;
    assert_eq!(opened["direct"], true, "{opened}");
    let id = opened["id"].as_str().unwrap().to_owned();

    let bad = client
        .post_json(
            &format!("/api/v1/uploads/{id}/chunks/0/url"),
            json!({"sha256": "nope"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["code"], "checksum_missing");
    let beyond = client
        .post_json(
            &format!("/api/v1/uploads/{id}/chunks/1/url"),
            json!({"sha256": sha_hex(&file)}),
        )
        .await;
    assert_eq!(beyond.json()["code"], "bad_chunk_number", "{}", beyond.body);

    let presigned = client
        .post_json(
            &format!("/api/v1/uploads/{id}/chunks/0/url"),
            json!({"sha256": sha_hex(&file)}),
        )
        .await;
    assert_eq!(presigned.status, StatusCode::OK, "{}", presigned.body);
    let presigned = presigned.json();
    assert_eq!(presigned["method"], "PUT");
    let url = presigned["url"].as_str().unwrap();
    assert!(
        url.starts_with(&std::env::var("FERROTAPE_TEST_S3_ENDPOINT").unwrap()),
        "{url}"
    );

    // Completing before the chunk arrived names what is missing.
    let early = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.json()["missing"], json!([0]));

    assert_eq!(put_direct(url, &presigned["headers"], &path), 200);
    let status = client.get(&format!("/api/v1/uploads/{id}")).await.json();
    assert_eq!(status["received"], json!([0]), "{status}");
    assert_eq!(status["received_bytes"], file.len());

    let done = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let video = done.json()["video_id"].as_str().unwrap().to_owned();
    let prefix = format!("{}/{video}", TenantId::DEFAULT.0);
    let joined = s3
        .read(&format!("{prefix}/source/original.mp4"), None, None)
        .await
        .unwrap();
    assert!(
        matches!(joined, ferrotape_store::s3::ReadOutcome::Object(o) if o.content_length == Some(file.len() as u64))
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(ferrotape_worker::run(
        app.pool.clone(),
        app.media.clone(),
        ferrotape_worker::WorkerConfig {
            poll_interval: Duration::from_millis(100),
            ..ferrotape_worker::WorkerConfig::default()
        },
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(180);
    let (state, reason) = loop {
        let (state, reason) = video_state(&app, &video).await;
        if state != "processing" || Instant::now() > deadline {
            break (state, reason);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop.send(true);
    worker.await.unwrap();
    assert_eq!(state, "ready", "{reason:?}");
    let master_key: String =
        sqlx::query_scalar("SELECT master_key FROM videos WHERE id = $1::uuid")
            .bind(&video)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // This transcode's own prefix, `{prefix}/v{n}`.
    let outputs = master_key.trim_end_matches("/hls/master.m3u8");
    assert!(outputs.starts_with(&format!("{prefix}/v")), "{master_key}");
    // Published, so `/media` serves it to anyone (and caches may keep it).
    let talk = common::insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "s3-talk",
        "S3 talk",
        Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(1)),
        &[],
    )
    .await;
    sqlx::query("UPDATE videos SET talk_id = $1 WHERE id = $2::uuid")
        .bind(talk)
        .bind(&video)
        .execute(&app.pool)
        .await
        .unwrap();

    let master = app.get(&format!("/media/{outputs}/hls/master.m3u8")).await;
    assert_eq!(master.status, StatusCode::OK);
    assert_eq!(
        master.headers["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(master.headers["access-control-allow-origin"], "*");
    assert!(
        master.body.contains("RESOLUTION=320x240"),
        "{}",
        master.body
    );
    let rung = master
        .body
        .lines()
        .find(|l| l.ends_with("index.m3u8"))
        .unwrap()
        .to_owned();
    let playlist = app.get(&format!("/media/{outputs}/hls/{rung}")).await;
    let rung_dir = rung.trim_end_matches("index.m3u8");
    let segment = playlist
        .body
        .lines()
        .find(|l| l.ends_with(".m4s"))
        .unwrap()
        .to_owned();
    let segment_url = format!("/media/{outputs}/hls/{rung_dir}{segment}");

    let whole = app.get(&segment_url).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(
        whole.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(whole.headers["content-type"], "video/iso.segment");
    let length: u64 = whole.headers["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 100);
    let etag = whole.headers["etag"].to_str().unwrap().to_owned();

    let ranged = app
        .request(
            Request::get(&segment_url)
                .header("range", "bytes=0-99")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(ranged.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.headers["content-range"],
        format!("bytes 0-99/{length}").as_str()
    );
    assert_eq!(ranged.headers["content-length"], "100");
    let cached = app
        .request(
            Request::get(&segment_url)
                .header("if-none-match", &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);

    let poster = app
        .get(&format!("/media/{outputs}/thumbs/poster.jpg"))
        .await;
    assert_eq!(poster.status, StatusCode::OK);
    assert_eq!(poster.headers["content-type"], "image/jpeg");
    // The source is in the bucket but never served.
    let source = app
        .get(&format!("/media/{prefix}/source/original.mp4"))
        .await;
    assert_eq!(source.status, StatusCode::NOT_FOUND);
    let missing = app.get(&format!("/media/{outputs}/hls/none.m4s")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn chunks_sent_through_the_server_reach_s3_and_an_abort_discards_them() {
    let (app, s3) = s3_app().await;
    let mut client = editor(&app).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());

    // A script that never asks for presigned URLs still works: the server forwards chunks.
    let id = open(&mut client, file.len()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = client
        .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/0"))
        .header("x-chunk-sha256", sha_hex(&file))
        .body(Body::from(file.clone()))
        .unwrap();
    let sent = client.send(request).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let done = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // Aborting a direct upload aborts its multipart upload in the bucket.
    let opened = open(&mut client, file.len()).await;
    let id = opened["id"].as_str().unwrap().to_owned();
    let presigned = client
        .post_json(
            &format!("/api/v1/uploads/{id}/chunks/0/url"),
            json!({"sha256": sha_hex(&file)}),
        )
        .await
        .json();
    assert_eq!(
        put_direct(
            presigned["url"].as_str().unwrap(),
            &presigned["headers"],
            &tmp.path().join("clip.mp4")
        ),
        200
    );
    let record = ferrotape_store::uploads::find(&app.pool, TenantId::DEFAULT, id.parse().unwrap())
        .await
        .unwrap();
    let aborted = send(
        &mut client,
        Method::DELETE,
        &format!("/api/v1/uploads/{id}"),
    )
    .await;
    assert_eq!(aborted.status, StatusCode::NO_CONTENT);
    use ferrotape_store::media::MediaStore;
    let listed = s3.listed_parts(&record.target()).await;
    assert!(listed.is_err(), "the multipart upload is gone: {listed:?}");
}

#[tokio::test]
async fn local_storage_says_chunks_go_through_the_server() {
    let app = TestApp::spawn().await;
    let mut client = editor(&app).await;
    let opened = open(&mut client, 1000).await;
    assert_eq!(opened["direct"], false);
    let id = opened["id"].as_str().unwrap();
    let presign = client
        .post_json(
            &format!("/api/v1/uploads/{id}/chunks/0/url"),
            json!({"sha256": sha_hex(b"x")}),
        )
        .await;
    assert_eq!(presign.status, StatusCode::CONFLICT);
    assert_eq!(presign.json()["code"], "direct_upload_unavailable");
    assert!(
        presign.json()["error"]
            .as_str()
            .unwrap()
            .contains(&format!("/api/v1/uploads/{id}/chunks/0"))
    );
}

/// A 3 s clip of noise encoded losslessly: about 40 MB, with its `moov` index at the end as
/// cameras write it (no faststart).
fn big_camera_clip(dir: &Path) -> Vec<u8> {
    let out = dir.join("big.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x360:rate=30,noise=alls=60:allf=t")
        .args(["-f", "lavfi", "-i", "sine=frequency=440", "-t", "3"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (make test installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// With S3, `complete` probes the source from ranged reads (head, tail and the MP4 index
/// wherever it lies), never downloading the whole file to the web server, and still gets the
/// probe right for an MP4 whose index sits at its end.
#[tokio::test]
async fn complete_with_s3_reads_only_what_the_probe_needs() {
    let proxy = CountingProxy::start(&s3_args().s3_endpoint.unwrap()).await;
    let (app, _s3) = s3_app_with(
        S3Args {
            s3_endpoint: Some(proxy.endpoint.clone()),
            ..s3_args()
        },
        None,
    )
    .await;
    let mut client = editor(&app).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = big_camera_clip(tmp.path());
    assert!(file.len() > 30_000_000, "{} bytes", file.len());
    assert_ne!(&file[4..8], b"moov", "the index is not at the start");

    let opened = open(&mut client, file.len()).await;
    let id = opened["id"].as_str().unwrap().to_owned();
    const CHUNK: usize = ferrotape_model::upload::CHUNK_SIZE as usize;
    for (n, chunk) in file.chunks(CHUNK).enumerate() {
        let request = client
            .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/{n}"))
            .header("x-chunk-sha256", sha_hex(chunk))
            .body(Body::from(chunk.to_vec()))
            .unwrap();
        let sent = client.send(request).await;
        assert_eq!(sent.status, StatusCode::OK, "chunk {n}: {}", sent.body);
    }

    let before = proxy.downloaded();
    let done = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    let downloaded = proxy.downloaded() - before;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let duration = done.json()["duration_ms"].as_i64().unwrap();
    assert!((2900..=3100).contains(&duration), "{duration}");
    let width: Option<i32> = sqlx::query_scalar("SELECT width FROM videos WHERE id = $1::uuid")
        .bind(done.json()["video_id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(width, Some(640));
    let windows = ferrotape_store::probe_copy::ProbeWindows::default();
    assert!(
        downloaded < windows.head + windows.tail + 1_000_000,
        "complete downloaded {downloaded} of the {} bytes",
        file.len()
    );
}

/// A client whose `complete` got no answer (here: the probe could not run after storage had
/// joined the parts, so S3 has no multipart upload left) asks for the status and resumes:
/// the status says every chunk is in, a chunk sent again is refused clearly, and completing
/// again finishes it, then keeps giving the same answer.
#[tokio::test]
async fn a_client_that_lost_the_answer_to_complete_resumes_with_s3() {
    let tools_dir = tempfile::tempdir().unwrap();
    let ffprobe = tools_dir.path().join("ffprobe");
    let (app, _s3) = s3_app_with(
        s3_args(),
        Some(ferrotape_worker::MediaTools {
            ffprobe: ffprobe.clone(),
            ..ferrotape_worker::MediaTools::default()
        }),
    )
    .await;
    let mut client = editor(&app).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = clip(tmp.path());
    let opened = open(&mut client, file.len()).await;
    let id = opened["id"].as_str().unwrap().to_owned();
    let presigned = client
        .post_json(
            &format!("/api/v1/uploads/{id}/chunks/0/url"),
            json!({"sha256": sha_hex(&file)}),
        )
        .await
        .json();
    assert_eq!(
        presigned["headers"]["content-length"],
        file.len().to_string().as_str(),
        "the URL is for exactly this chunk: {presigned}"
    );
    assert_eq!(
        put_direct(
            presigned["url"].as_str().unwrap(),
            &presigned["headers"],
            &tmp.path().join("clip.mp4")
        ),
        200
    );

    let lost = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    assert_eq!(
        lost.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        lost.body
    );

    let status = client.get(&format!("/api/v1/uploads/{id}")).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(status.json()["state"], "open");
    assert_eq!(status.json()["received"], json!([0]));
    assert_eq!(status.json()["received_bytes"], file.len());
    let resent = client
        .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/0"))
        .header("x-chunk-sha256", sha_hex(&file))
        .body(Body::from(file.clone()))
        .unwrap();
    let resent = client.send(resent).await;
    assert_eq!(resent.status, StatusCode::CONFLICT, "{}", resent.body);
    assert_eq!(resent.json()["code"], "upload_closed");

    std::os::unix::fs::symlink(common::system_ffprobe(), &ffprobe).unwrap();
    let done = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let again = send(
        &mut client,
        Method::POST,
        &format!("/api/v1/uploads/{id}/complete"),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["video_id"], done.json()["video_id"]);
    assert_eq!(again.json()["duration_ms"], done.json()["duration_ms"]);
    let status = client.get(&format!("/api/v1/uploads/{id}")).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(status.json()["state"], "completed");
    let (state, _) = video_state(&app, done.json()["video_id"].as_str().unwrap()).await;
    assert_eq!(state, "processing");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'transcode'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
}
