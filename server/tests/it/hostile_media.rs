//! Uploads that try to make ffprobe or ffmpeg open something other than the uploaded file:
//! an HLS playlist, DASH manifests, an ffconcat list and an AVI carrying a playlist in an
//! embedded (GAB2) subtitle file, all named `.mp4`. Each names a TCP listener the test runs
//! and a video outside the upload. Each must be refused `not_playable`; the listener must see
//! no connection; nothing stored (files or probe) may carry the outside video; the refused
//! source itself is deleted.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Client, TestApp, TestResponse};
use ferrotape_model::{Role, TenantId};
use serde_json::json;
use sha2::{Digest, Sha256};

/// A video outside every upload, marked so its traces can be recognised.
struct Outside {
    _dir: tempfile::TempDir,
    clip: PathBuf,
    marker: String,
}

impl Outside {
    fn new() -> Outside {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("secret.ts");
        let marker = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi"])
            .args(["-i", "testsrc2=size=160x120:rate=10", "-t", "2"])
            .args(["-c:v", "libx264", "-preset", "ultrafast"])
            .args(["-metadata", &format!("service_name={marker}")])
            .args(["-metadata", &format!("title={marker}")])
            .arg(&clip)
            .status()
            .expect("ffmpeg must be installed (make test installs it)");
        assert!(status.success());
        Outside {
            _dir: dir,
            clip,
            marker,
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.clip.display())
    }

    /// A window from the middle of the outside file: present in any copy of it.
    fn sample(&self) -> Vec<u8> {
        let bytes = std::fs::read(&self.clip).unwrap();
        bytes[bytes.len() / 2..bytes.len() / 2 + 64].to_vec()
    }
}

/// A TCP listener that counts the connections it receives.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    async fn start() -> Listener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Listener { port, connections }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

async fn editor(app: &TestApp) -> Client<'_> {
    app.user(TenantId::DEFAULT, "ed@example.com", Role::Editor)
        .await;
    let mut client = app.client("10.0.0.1");
    client.log_in("ed@example.com", common::PASSWORD).await;
    client
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Uploads `bytes` as `name` (one chunk) and completes the upload: the video id and the
/// answer to `complete`.
async fn upload(client: &mut Client<'_>, name: &str, bytes: &[u8]) -> (String, TestResponse) {
    assert!(bytes.len() <= ferrotape_model::upload::CHUNK_SIZE as usize);
    let opened = client
        .post_json(
            "/api/v1/uploads",
            json!({"file_name": name, "size_bytes": bytes.len(), "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let id = opened.json()["id"].as_str().unwrap().to_owned();
    let video = opened.json()["video_id"].as_str().unwrap().to_owned();
    let chunk = client
        .request(Method::PUT, &format!("/api/v1/uploads/{id}/chunks/0"))
        .header("x-chunk-sha256", sha_hex(bytes))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    let sent = client.send(chunk).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let complete = client
        .request(Method::POST, &format!("/api/v1/uploads/{id}/complete"))
        .body(Body::empty())
        .unwrap();
    (video, client.send(complete).await)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Uploads each hostile file and checks it is refused as not playable, without a connection
/// to the listener, a job, a stored probe, or any stored byte of the outside video.
async fn assert_refused(files: &[(&str, Vec<u8>)], outside: &Outside, listener: &Listener) {
    let app = TestApp::spawn().await;
    let mut client = editor(&app).await;
    for (what, bytes) in files {
        let (video, refused) = upload(&mut client, "talk.mp4", bytes).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            refused.body
        );
        assert_eq!(refused.json()["code"], "not_playable", "{what}");
        let message = refused.json()["error"].as_str().unwrap().to_owned();
        assert!(!message.contains('/'), "{what}: no paths leak: {message}");
        let (state, probe): (String, Option<serde_json::Value>) =
            sqlx::query_as("SELECT state::text, probe FROM videos WHERE id = $1::uuid")
                .bind(&video)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(state, "failed", "{what}");
        assert!(
            !probe.is_some_and(|p| p.to_string().contains(&outside.marker)),
            "{what}: the outside video's probe was stored"
        );
        let stored = files_under(
            &app.media_dir
                .path()
                .join(TenantId::DEFAULT.0.to_string())
                .join(&video),
        );
        assert!(
            stored.is_empty(),
            "{what}: the refused source is deleted, nothing else written: {stored:?}"
        );
    }
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "nothing was queued for transcoding");
    let sample = outside.sample();
    for file in files_under(app.media_dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(sample.len()).any(|w| w == sample),
            "{} holds bytes of the outside video",
            file.display()
        );
    }
    assert_eq!(
        listener.connections.load(Ordering::SeqCst),
        0,
        "ffprobe or ffmpeg connected to the listener"
    );
}

#[tokio::test]
async fn an_hls_playlist_is_refused_and_opens_nothing() {
    let (outside, listener) = (Outside::new(), Listener::start().await);
    let playlist = |first: &str, second: &str| {
        format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXTINF:2.0,\n{first}\n#EXTINF:2.0,\n{second}\n#EXT-X-ENDLIST\n"
        )
        .into_bytes()
    };
    assert_refused(
        &[
            (
                "a playlist of a URL and a file",
                playlist(&listener.url("a.ts"), &outside.url()),
            ),
            (
                "a playlist of a file and a URL",
                playlist(&outside.url(), &listener.url("b.ts")),
            ),
        ],
        &outside,
        &listener,
    )
    .await;
}

#[tokio::test]
async fn dash_manifests_are_refused_and_open_nothing() {
    let (outside, listener) = (Outside::new(), Listener::start().await);
    let manifest = |urls: &[String]| {
        let sets: String = urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                format!(
                    r#"<AdaptationSet id="{i}" contentType="video" mimeType="video/mp2t">
                      <Representation id="{i}" bandwidth="100000" width="160" height="120">
                        <BaseURL>{url}</BaseURL></Representation></AdaptationSet>"#
                )
            })
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"
     minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="0" start="PT0S">{sets}</Period>
</MPD>
"#
        )
        .into_bytes()
    };
    assert_refused(
        &[
            (
                "a manifest of a file and a URL",
                manifest(&[outside.url(), listener.url("d.ts")]),
            ),
            ("a manifest of a file", manifest(&[outside.url()])),
        ],
        &outside,
        &listener,
    )
    .await;
}

#[tokio::test]
async fn an_ffconcat_list_is_refused_and_opens_nothing() {
    let (outside, listener) = (Outside::new(), Listener::start().await);
    let list = format!(
        "ffconcat version 1.0\nfile '{}'\nduration 2\nfile '{}'\nduration 2\n",
        listener.url("c.ts"),
        outside.clip.display()
    );
    let relative = "ffconcat version 1.0\nfile original.mp4\nduration 2\n".to_owned();
    assert_refused(
        &[
            ("a concat list of a URL and a file", list.into_bytes()),
            ("a concat list of itself", relative.into_bytes()),
        ],
        &outside,
        &listener,
    )
    .await;
}

#[tokio::test]
async fn an_avi_carrying_a_playlist_in_an_embedded_subtitle_file_is_refused() {
    let (outside, listener) = (Outside::new(), Listener::start().await);
    let playlist = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{}\n#EXTINF:2.0,\n{}\n#EXT-X-ENDLIST\n",
        listener.url("e.ts"),
        outside.url()
    );
    assert_refused(
        &[(
            "an AVI with a GAB2 playlist",
            avi_with_gab2(playlist.as_bytes()),
        )],
        &outside,
        &listener,
    )
    .await;
}

/// An AVI with two seconds of 16×16 raw video (a real, playable stream) and a GAB2 subtitle
/// track: the AVI demuxer hands a GAB2 payload to whichever demuxer probing picks for it.
fn avi_with_gab2(embedded: &[u8]) -> Vec<u8> {
    const W: u32 = 16;
    const H: u32 = 16;
    const FRAMES: u32 = 20;
    const RATE: u32 = 10;
    fn chunk(tag: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = tag.to_vec();
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        out
    }
    fn list(kind: &[u8; 4], items: &[Vec<u8>]) -> Vec<u8> {
        let mut data = kind.to_vec();
        items.iter().for_each(|item| data.extend(item));
        chunk(b"LIST", &data)
    }
    fn u32s(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
    let frame: Vec<u8> = [0x40u8, 0x80, 0xc0].repeat((W * H) as usize);
    let frame_len = frame.len() as u32;
    // avih: µs per frame, max bytes/s, padding, flags (has index), frames, initial frames,
    // streams, buffer size, width, height, 4 reserved.
    let avih = u32s(&[
        1_000_000 / RATE,
        0,
        0,
        0x10,
        FRAMES,
        0,
        2,
        frame_len,
        W,
        H,
        0,
        0,
        0,
        0,
    ]);
    let strh = |kind: &[u8; 4], handler: &[u8; 4], length: u32, size: u32| {
        let mut out = kind.to_vec();
        out.extend(handler);
        // flags, priority+language, initial frames, scale, rate, start, length, buffer size,
        // quality, sample size, then the frame rectangle.
        out.extend(u32s(&[0, 0, 0, 1, RATE, 0, length, size, u32::MAX, 0]));
        out.extend(
            [0u16, 0, W as u16, H as u16]
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        );
        out
    };
    // BITMAPINFOHEADER: size, width, height, planes + bits (1, 24), BI_RGB, image size, …
    let mut bitmap = u32s(&[40, W, H]);
    bitmap.extend(1u16.to_le_bytes());
    bitmap.extend(24u16.to_le_bytes());
    bitmap.extend(u32s(&[0, frame_len, 0, 0, 0, 0]));
    // GAB2: "GAB2\0", version 2, a UTF-16 name, then a type and the embedded file.
    let name: Vec<u8> = "x\0".encode_utf16().flat_map(|c| c.to_le_bytes()).collect();
    let mut gab2 = b"GAB2\0".to_vec();
    gab2.extend(2u16.to_le_bytes());
    gab2.extend((name.len() as u32).to_le_bytes());
    gab2.extend(&name);
    gab2.extend(4u16.to_le_bytes());
    gab2.extend((embedded.len() as u32).to_le_bytes());
    gab2.extend(embedded);
    let header = list(
        b"hdrl",
        &[
            chunk(b"avih", &avih),
            list(
                b"strl",
                &[
                    chunk(b"strh", &strh(b"vids", b"DIB ", FRAMES, frame_len)),
                    chunk(b"strf", &bitmap),
                ],
            ),
            list(
                b"strl",
                &[
                    chunk(b"strh", &strh(b"txts", &[0; 4], 1, 0)),
                    chunk(b"strf", &[]),
                ],
            ),
        ],
    );
    let mut items: Vec<(&[u8; 4], &[u8])> = vec![(b"01tx", &gab2)];
    items.extend((0..FRAMES).map(|_| (b"00db", frame.as_slice())));
    let (mut movi, mut index, mut offset) = (Vec::new(), Vec::new(), 4u32);
    for (tag, data) in items {
        let piece = chunk(tag, data);
        index.extend(tag);
        index.extend(u32s(&[0x10, offset, data.len() as u32]));
        offset += piece.len() as u32;
        movi.push(piece);
    }
    let mut body = b"AVI ".to_vec();
    body.extend(header);
    body.extend(list(b"movi", &movi));
    body.extend(chunk(b"idx1", &index));
    let mut file = b"RIFF".to_vec();
    file.extend((body.len() as u32).to_le_bytes());
    file.extend(body);
    file
}

/// Defence in depth on the transcode side: even with a forged probe (one saying MPEG-TS) in
/// front of a playlist, ffmpeg reads the source only as the probed container through the file
/// protocol, so the attempt fails instead of transcoding the outside video.
#[tokio::test]
async fn the_transcode_reads_its_source_only_as_the_probed_container() {
    use ferrotape_model::jobs::ResourceClass;
    use ferrotape_store::jobs::{self, NewJob};
    use ferrotape_store::uploads::{self, TRANSCODE_JOB};
    use ferrotape_worker::JobHandler;

    let (outside, listener) = (Outside::new(), Listener::start().await);
    let app = TestApp::spawn().await;
    let tenant = TenantId::DEFAULT;
    let video = uuid::Uuid::new_v4();
    let key = uploads::source_key(tenant, video, "mp4");
    let source = app.media_dir.path().join(&key);
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    let playlist = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{}\n#EXTINF:2.0,\n{}\n#EXT-X-ENDLIST\n",
        outside.url(),
        listener.url("f.ts")
    );
    std::fs::write(&source, playlist).unwrap();
    // The outside clip's own probe: a playable MPEG-TS, as a forged record would claim.
    let forged = ferrotape_worker::probe::probe(Path::new("ffprobe"), &outside.clip)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO videos (tenant_id, id, original_name, state, source_key, probe, duration_ms)
         VALUES ($1, $2, 'talk.mp4', 'processing', $3, $4, 2000)",
    )
    .bind(tenant.0)
    .bind(video)
    .bind(&key)
    .bind(&forged.raw)
    .execute(&app.pool)
    .await
    .unwrap();
    jobs::enqueue(
        &app.pool,
        tenant,
        &NewJob::new(TRANSCODE_JOB, json!({ "video_id": video })),
    )
    .await
    .unwrap();
    let kinds = [TRANSCODE_JOB.to_owned()];
    let job = jobs::claim(
        &app.pool,
        &kinds,
        ResourceClass::Gpu,
        1,
        "worker-a",
        std::time::Duration::from_secs(600),
        16,
    )
    .await
    .unwrap()
    .remove(0);
    let handler = ferrotape_worker::transcode::Transcode {
        media: app.media.clone(),
        tools: ferrotape_worker::MediaTools::default(),
        encoders: Arc::new(ferrotape_worker::encoder::EncoderCache::new(
            "ffmpeg".into(),
        )),
        concurrency: 1,
        read_rate: None,
    };
    let result = handler
        .run(ferrotape_worker::JobContext {
            job,
            pool: app.pool.clone(),
            worker: "worker-a".to_owned(),
        })
        .await;
    assert!(result.is_err(), "the attempt fails: {result:?}");
    let state: String = sqlx::query_scalar("SELECT state::text FROM videos WHERE id = $1")
        .bind(video)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "processing", "not ready with someone else's video");
    let video_dir = app
        .media_dir
        .path()
        .join(uploads::video_prefix(tenant, video));
    let stored: Vec<PathBuf> = files_under(&video_dir);
    assert_eq!(stored, [source], "no outputs were stored");
    assert_eq!(listener.connections.load(Ordering::SeqCst), 0);
}
