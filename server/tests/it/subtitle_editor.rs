//! The subtitle editor's back end (`/api/v1/talks/{id}/subtitles…`, `store::subtitle_editing`)
//! as the editor page calls it (session cookies, same-origin): import a file as a track, save
//! cues with the revision, publish (files, master playlist, transcript lines, `human`),
//! export, delete; and its bad paths: a stale save refused with nothing overwritten,
//! malformed files refused with their lines and nothing stored, another editor's talk 404.

use crate::common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Client, PASSWORD, TestApp, TestResponse};
use ferrotape_model::subtitles::{Cue, Word, parse_srt, parse_vtt};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::subtitles::{self as tracks, TrackStart};
use serde_json::{Value, json};
use uuid::Uuid;

const T: TenantId = TenantId::DEFAULT;

const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n\
360p/index.m3u8\n";

struct Talk {
    id: Uuid,
    video: Uuid,
    master_key: String,
}

/// A talk of `user` serving a ready 2-minute video whose master playlist is stored.
async fn talk_with_video(app: &TestApp, browser: &mut Client<'_>, user: Uuid) -> Talk {
    let video: Uuid = sqlx::query_scalar(
        "INSERT INTO videos (id, tenant_id, state, duration_ms, uploaded_by, original_name,
                             master_key)
         SELECT g, $1, 'ready', 120000, $2, 'clip.mp4', $1::text || '/' || g || '/v1/hls/master.m3u8'
         FROM gen_random_uuid() g RETURNING id",
    )
    .bind(T.0)
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let master_key = format!("{}/{video}/v1/hls/master.m3u8", T.0);
    put_text(app, &master_key, MASTER).await;
    let created = browser
        .server_fn(
            "studio/talks/create",
            &[
                ("title", "Captions at scale"),
                ("video_id", &video.to_string()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let id = created.json().as_str().unwrap().parse().unwrap();
    Talk {
        id,
        video,
        master_key,
    }
}

async fn put_text(app: &TestApp, key: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, text).unwrap();
    app.media.put_file(key, &file).await.unwrap();
}

async fn read_text(app: &TestApp, key: &str) -> Option<String> {
    let size = app.media.object_size(key).await.unwrap()?;
    let bytes = app.media.read_range(key, 0, size).await.unwrap();
    Some(String::from_utf8(bytes.to_vec()).unwrap())
}

async fn editor<'a>(app: &'a TestApp, email: &str, ip: &str) -> (Client<'a>, Uuid) {
    let user = app.user(T, email, Role::Editor).await;
    let mut browser = app.client(ip);
    browser.log_in(email, PASSWORD).await;
    (browser, user)
}

async fn call(
    browser: &mut Client<'_>,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Body,
    content_type: &str,
) -> TestResponse {
    let mut request = browser
        .request(method, path)
        .header("content-type", content_type);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    browser.send(request.body(body).unwrap()).await
}

async fn import(
    browser: &mut Client<'_>,
    talk: Uuid,
    query: &str,
    if_match: Option<&str>,
    file: impl Into<Vec<u8>>,
) -> TestResponse {
    call(
        browser,
        Method::POST,
        &format!("/api/v1/talks/{talk}/subtitles?{query}"),
        if_match,
        Body::from(file.into()),
        "text/vtt",
    )
    .await
}

async fn save(
    browser: &mut Client<'_>,
    talk: Uuid,
    track: &str,
    if_match: Option<&str>,
    cues: Value,
) -> TestResponse {
    call(
        browser,
        Method::PUT,
        &format!("/api/v1/talks/{talk}/subtitles/{track}"),
        if_match,
        Body::from(json!({ "cues": cues }).to_string()),
        "application/json",
    )
    .await
}

async fn get_track(browser: &mut Client<'_>, talk: Uuid, track: &str) -> Value {
    let got = browser
        .get(&format!("/api/v1/talks/{talk}/subtitles/{track}"))
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    got.json()
}

async fn track_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM subtitle_tracks")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn etag(response: &TestResponse) -> String {
    response.headers["etag"].to_str().unwrap().to_owned()
}

const FILE: &[u8] =
    b"\xEF\xBB\xBFWEBVTT\r\n\r\n00:00:01.000 --> 00:00:03.500\r\nHello and welcome\r\n\r\n\
00:00:04.000 --> 00:00:06.000\r\n<script>alert(1)</script> &lt;b&gt; is text\r\n\r\n\
00:00:07.000 --> 00:00:09.000\r\nto the talk\r\n";

#[tokio::test]
async fn a_track_is_imported_edited_published_exported_and_deleted() {
    let app = TestApp::spawn().await;
    let (mut browser, user) = editor(&app, "ed@example.test", "10.3.0.1").await;
    let talk = talk_with_video(&app, &mut browser, user).await;

    // A WebVTT with a byte order mark and CR LF, and markup in a cue: read, markup as text.
    let created = import(&mut browser, talk.id, "language=en", None, FILE).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(etag(&created), "\"1\"");
    let summary = created.json();
    assert_eq!(summary["origin"], "human");
    assert_eq!(summary["state"], "draft");
    assert_eq!(summary["cue_count"], 3);
    assert_eq!(summary["published_revision"], Value::Null);
    let track = summary["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        format!("/api/v1/talks/{}/subtitles/{track}", talk.id)
    );
    let loaded = get_track(&mut browser, talk.id, &track).await;
    assert_eq!(loaded["revision"], 1);
    assert_eq!(loaded["cue_count"], 3);
    let raw = browser
        .get(&format!("/api/v1/talks/{}/subtitles/{track}", talk.id))
        .await
        .body;
    assert_eq!(raw.matches("\"cues\"").count(), 1, "{raw}");
    assert_eq!(loaded["cues"][1]["text"], "alert(1) <b> is text");
    assert_eq!(loaded["cues"][0]["start_ms"], 1000);

    // The list shows it; the studio's caption status says it is a draft.
    let list = browser
        .get(&format!("/api/v1/talks/{}/subtitles", talk.id))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["tracks"][0]["label"], "English (human)");

    // A save at revision 1 goes through and raises the revision.
    let mut cues = loaded["cues"].clone();
    cues[0]["text"] = json!("Hello, and welcome");
    cues[0]["end_ms"] = json!(3800);
    let saved = save(&mut browser, talk.id, &track, Some("\"1\""), cues.clone()).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(etag(&saved), "\"2\"");
    assert_eq!(saved.json()["revision"], 2);

    // Another tab still at revision 1: refused, and nothing it sent is stored.
    let mut other = cues.clone();
    other[2]["text"] = json!("from the other tab");
    let stale = save(&mut browser, talk.id, &track, Some("\"1\""), other).await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.body
    );
    assert_eq!(stale.json()["code"], "stale");
    let now = get_track(&mut browser, talk.id, &track).await;
    assert_eq!(now["revision"], 2);
    assert_eq!(now["cues"], cues);

    // A refused cue: a 422 naming it, nothing written.
    let mut bad = cues.clone();
    bad[1]["end_ms"] = bad[1]["start_ms"].clone();
    let refused = save(&mut browser, talk.id, &track, Some("\"2\""), bad).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.json()["field"], "cues");
    assert_eq!(
        refused.json()["error"],
        "cue 2: it must end after it starts"
    );
    let mut blank = cues.clone();
    blank[2]["text"] = json!("   ");
    let refused = save(&mut browser, talk.id, &track, Some("\"2\""), blank).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("cue 3:")
    );
    let malformed = call(
        &mut browser,
        Method::PUT,
        &format!("/api/v1/talks/{}/subtitles/{track}", talk.id),
        Some("\"2\""),
        Body::from("{\"cues\": [{\"start_ms\": -5}]}"),
        "application/json",
    )
    .await;
    assert!(malformed.status.is_client_error(), "{}", malformed.status);
    assert_eq!(
        get_track(&mut browser, talk.id, &track).await["revision"],
        2
    );

    // Publishing writes the next revision's files, names the track in the master playlist
    // and fills transcript search.
    let stale_publish = call(
        &mut browser,
        Method::POST,
        &format!("/api/v1/talks/{}/subtitles/{track}/publish", talk.id),
        Some("\"1\""),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(stale_publish.status, StatusCode::PRECONDITION_FAILED);
    let published = call(
        &mut browser,
        Method::POST,
        &format!("/api/v1/talks/{}/subtitles/{track}/publish", talk.id),
        Some("\"2\""),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    let summary = published.json();
    assert_eq!(summary["state"], "ready");
    assert_eq!(summary["origin"], "human");
    assert_eq!(summary["revision"], 3);
    assert_eq!(summary["published_revision"], 3);
    let prefix = format!("{}/{}/subs/{track}/r3", T.0, talk.video);
    let vtt = read_text(&app, &format!("{prefix}/captions.vtt"))
        .await
        .expect("the published WebVTT");
    assert!(vtt.contains("Hello, and welcome"), "{vtt}");
    assert!(vtt.contains("alert(1) &lt;b&gt; is text"), "{vtt}");
    assert!(
        read_text(&app, &format!("{prefix}/index.m3u8"))
            .await
            .is_some()
    );
    let master = read_text(&app, &talk.master_key).await.unwrap();
    assert!(master.contains("TYPE=SUBTITLES"), "{master}");
    assert!(
        master.contains(&format!("../../subs/{track}/r3/index.m3u8")),
        "{master}"
    );
    assert!(master.contains("NAME=\"English (human)\""), "{master}");
    let lines: Vec<(String,)> =
        sqlx::query_as("SELECT text FROM transcript_lines WHERE track_id = $1 ORDER BY start_ms")
            .bind(Uuid::parse_str(&track).unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].0, "Hello, and welcome");

    // A second publication replaces the first revision's files.
    let mut changed = cues.clone();
    changed[2]["text"] = json!("to this talk");
    let saved = save(
        &mut browser,
        talk.id,
        &track,
        Some("\"3\""),
        changed.clone(),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(saved.json()["published_revision"], 3);
    let published = call(
        &mut browser,
        Method::POST,
        &format!("/api/v1/talks/{}/subtitles/{track}/publish", talk.id),
        Some("\"4\""),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(published.json()["revision"], 5);
    assert!(
        read_text(&app, &format!("{prefix}/captions.vtt"))
            .await
            .is_none()
    );
    let master = read_text(&app, &talk.master_key).await.unwrap();
    assert!(
        master.contains(&format!("subs/{track}/r5/index.m3u8")),
        "{master}"
    );
    assert!(!master.contains("/r3/"), "{master}");

    // Export gives back exactly the cues, in both formats.
    let stored: Vec<Cue> =
        serde_json::from_value(get_track(&mut browser, talk.id, &track).await["cues"].clone())
            .unwrap();
    for (format, parse) in [("vtt", parse_vtt as Parser), ("srt", parse_srt as Parser)] {
        let file = browser
            .get(&format!(
                "/api/v1/talks/{}/subtitles/{track}/export?format={format}",
                talk.id
            ))
            .await;
        assert_eq!(file.status, StatusCode::OK, "{}", file.body);
        assert!(
            file.headers["content-disposition"]
                .to_str()
                .unwrap()
                .ends_with(&format!("captions.en.{format}\""))
        );
        assert_eq!(parse(file.body.as_bytes()).unwrap(), stored, "{format}");
    }
    let unknown = browser
        .get(&format!(
            "/api/v1/talks/{}/subtitles/{track}/export?format=docx",
            talk.id
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    // Importing into the language again replaces its cues only with its revision.
    let second = b"1\n00:00:01,000 --> 00:00:02,000\nReplaced\n";
    let refused = import(&mut browser, talk.id, "language=en", None, &second[..]).await;
    assert_eq!(
        refused.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        refused.body
    );
    let refused = import(
        &mut browser,
        talk.id,
        "language=en",
        Some("\"4\""),
        &second[..],
    )
    .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        get_track(&mut browser, talk.id, &track).await["cues"],
        json!(stored_json(&stored))
    );
    let replaced = import(
        &mut browser,
        talk.id,
        "language=en",
        Some("\"5\""),
        &second[..],
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.json()["id"], track.as_str());
    assert_eq!(replaced.json()["cue_count"], 1);
    assert_eq!(track_count(&app).await, 1);
    // The published files stay those of revision 5 until the next publication.
    let master = read_text(&app, &talk.master_key).await.unwrap();
    assert!(master.contains("/r5/"), "{master}");

    // A second language is a second track.
    let german = import(
        &mut browser,
        talk.id,
        "language=de&filename=de.srt",
        None,
        &b"1\n00:00:01,000 --> 00:00:02,000\nHallo\n"[..],
    )
    .await;
    assert_eq!(german.status, StatusCode::CREATED, "{}", german.body);
    assert_eq!(track_count(&app).await, 2);

    // Deleting needs the current revision, then the master no longer names it.
    let path = format!("/api/v1/talks/{}/subtitles/{track}", talk.id);
    let stale = call(
        &mut browser,
        Method::DELETE,
        &path,
        Some("\"5\""),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let deleted = call(
        &mut browser,
        Method::DELETE,
        &path,
        Some("\"6\""),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let master = read_text(&app, &talk.master_key).await.unwrap();
    assert!(!master.contains("TYPE=SUBTITLES"), "{master}");
    assert!(
        read_text(
            &app,
            &format!("{}/{}/subs/{track}/r5/captions.vtt", T.0, talk.video)
        )
        .await
        .is_none()
    );
    assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND);
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM transcript_lines")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(lines, 0);
}

type Parser = fn(&[u8]) -> Result<Vec<Cue>, ferrotape_model::subtitles::SubtitleError>;

fn stored_json(cues: &[Cue]) -> Value {
    serde_json::to_value(cues).unwrap()
}

#[tokio::test]
async fn a_machine_track_published_after_a_persons_edit_is_labelled_human() {
    let app = TestApp::spawn().await;
    let (mut browser, user) = editor(&app, "ed@example.test", "10.3.0.2").await;
    let talk = talk_with_video(&app, &mut browser, user).await;
    // The transcribe job's track, as `finish` leaves it (with word timings).
    let cues = vec![Cue {
        words: vec![
            Word {
                start_ms: 1000,
                end_ms: 1400,
                text: " Hello".into(),
                probability: 0.95,
            },
            Word {
                start_ms: 1500,
                end_ms: 2000,
                text: " wrld".into(),
                probability: 0.3,
            },
        ],
        ..Cue::new(1000, 2000, "Hello wrld")
    }];
    let TrackStart::Started { track, .. } = tracks::start(&app.pool, T, talk.video, "en", "tiny")
        .await
        .unwrap()
    else {
        panic!("a new track");
    };
    let files = ferrotape_worker::transcribe::publish::publish_track(
        &*app.media,
        tempfile::tempdir().unwrap().path(),
        T,
        talk.video,
        track,
        1,
        &cues,
        120_000,
        Some(&[0, 10, 200, 30]),
    )
    .await
    .unwrap();
    tracks::finish(&app.pool, T, track, "en", &cues, &files)
        .await
        .unwrap();
    let id = track.to_string();
    let loaded = get_track(&mut browser, talk.id, &id).await;
    assert_eq!(loaded["origin"], "auto");
    assert_eq!(loaded["edited"], false);
    assert_eq!(loaded["cues"][0]["words"][1]["probability"], 0.3);

    // Published again unedited, it stays the machine's.
    let publish = |tag: &'static str| {
        let path = format!("/api/v1/talks/{}/subtitles/{id}/publish", talk.id);
        async move { (path, tag) }
    };
    let (path, tag) = publish("\"2\"").await;
    let again = call(
        &mut browser,
        Method::POST,
        &path,
        Some(tag),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["origin"], "auto");

    // A person fixes a word: saved, still `auto` to viewers until published...
    let mut fixed = loaded["cues"].clone();
    fixed[0]["text"] = json!("Hello world");
    fixed[0]["words"][1]["text"] = json!(" world");
    let saved = save(&mut browser, talk.id, &id, Some("\"3\""), fixed).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.json()["origin"], "auto");
    assert_eq!(saved.json()["edited"], true);
    // ...and a new transcription leaves the edited track alone.
    assert!(matches!(
        tracks::start(&app.pool, T, talk.video, "en", "tiny")
            .await
            .unwrap(),
        TrackStart::EditedByAPerson
    ));
    let published = call(
        &mut browser,
        Method::POST,
        &path,
        Some("\"4\""),
        Body::empty(),
        "application/json",
    )
    .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(published.json()["origin"], "human");
    assert_eq!(published.json()["label"], "English (human)");
    let master = read_text(&app, &talk.master_key).await.unwrap();
    assert!(master.contains("NAME=\"English (human)\""), "{master}");
    assert!(!master.contains("(auto)"), "{master}");
    // The waveform stays where the transcription put it, served as JSON.
    let waveform = read_text(&app, &tracks::waveform_key(T, talk.video))
        .await
        .unwrap();
    assert_eq!(waveform, r#"{"peaks":[0,10,200,30],"rate":100}"#);
}

#[tokio::test]
async fn malformed_files_are_refused_with_their_lines_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (mut browser, user) = editor(&app, "ed@example.test", "10.3.0.3").await;
    let talk = talk_with_video(&app, &mut browser, user).await;

    let mut huge = b"WEBVTT\n\n".to_vec();
    while huge.len() < 50_000_000 {
        huge.extend_from_slice(b"00:00:01.000 --> 00:00:02.000\nHello\n\n");
    }
    // (what, file, status, the first problem's line and a word of its message)
    type Case<'a> = (&'a str, Vec<u8>, StatusCode, Option<(usize, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            "missing arrow",
            b"WEBVTT\n\n00:00:01.000 00:00:02.000\nHello\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            // Line 3 could be a cue identifier; the timing line is missing after it.
            Some((4, "missing `-->`")),
        ),
        (
            "bad timestamp",
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:61:01.000 --> 01:00:02.000\nx\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((6, "minutes must be 00 to 59")),
        ),
        (
            "SubRip with a bad timestamp",
            b"1\r\n00:00:01,000 --> 00:00:02,000\r\nok\r\n\r\n2\r\n00:00:03.5 --> 00:00:04,000\r\nx\r\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((6, "bad timestamp")),
        ),
        (
            "not UTF-8",
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\ncaf\xE9\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((4, "not UTF-8")),
        ),
        (
            "negative cue",
            b"WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nbackwards\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((3, "")),
        ),
        (
            "50 MB",
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (name, file, status, problem) in cases {
        let query = if name.starts_with("SubRip") {
            "language=en&filename=a.srt"
        } else {
            "language=en&filename=a.vtt"
        };
        let refused = import(&mut browser, talk.id, query, None, file).await;
        assert_eq!(refused.status, status, "{name}: {}", refused.body);
        let body = refused.json();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("nothing was stored"), "{name}: {message}");
        assert!(!message.contains('\n'), "{name}");
        match problem {
            Some((line, words)) => {
                assert_eq!(body["code"], "invalid_subtitles", "{name}");
                let first = &body["problems"][0];
                assert_eq!(first["line"], line, "{name}: {body}");
                assert!(
                    first["message"].as_str().unwrap().contains(words),
                    "{name}: {body}"
                );
                assert!(
                    message.contains(&format!("line {line}:")),
                    "{name}: {message}"
                );
            }
            None => {
                assert_eq!(body["code"], "subtitle_file_too_large", "{name}");
                assert!(message.contains("8 MiB"), "{message}");
            }
        }
        assert_eq!(track_count(&app).await, 0, "{name} stored something");
    }
    // A refused language or an empty cue list of a bad file stores nothing either.
    let refused = import(&mut browser, talk.id, "language=English!", None, FILE).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["field"], "language");
    let refused = import(&mut browser, talk.id, "", None, FILE).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(track_count(&app).await, 0);

    // A file that is fine after all those is stored whole.
    let ok = import(&mut browser, talk.id, "language=en", None, FILE).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.json()["cue_count"], 3);
    // And a bad file into that existing track, even with its revision, changes nothing.
    let refused = import(
        &mut browser,
        talk.id,
        "language=en",
        Some("\"1\""),
        &b"WEBVTT\n\nnonsense --> 00:00:02.000\nx\n"[..],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let track = ok.json()["id"].as_str().unwrap().to_owned();
    let kept = get_track(&mut browser, talk.id, &track).await;
    assert_eq!(kept["revision"], 1);
    assert_eq!(kept["cues"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn another_editors_talk_is_not_found_and_an_admin_may() {
    let app = TestApp::spawn().await;
    let (mut owner, user) = editor(&app, "owner@example.test", "10.3.0.4").await;
    let talk = talk_with_video(&app, &mut owner, user).await;
    let created = import(&mut owner, talk.id, "language=en", None, FILE).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let track = created.json()["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/talks/{}/subtitles", talk.id);

    let (mut other, _) = editor(&app, "other@example.test", "10.3.0.5").await;
    for (method, path, body) in [
        (Method::GET, base.clone(), Body::empty()),
        (
            Method::POST,
            format!("{base}?language=de"),
            Body::from(FILE),
        ),
        (Method::GET, format!("{base}/{track}"), Body::empty()),
        (
            Method::PUT,
            format!("{base}/{track}"),
            Body::from(
                json!({"cues": [{"start_ms": 0, "end_ms": 1000, "text": "mine"}]}).to_string(),
            ),
        ),
        (
            Method::POST,
            format!("{base}/{track}/publish"),
            Body::empty(),
        ),
        (Method::GET, format!("{base}/{track}/export"), Body::empty()),
        (Method::DELETE, format!("{base}/{track}"), Body::empty()),
    ] {
        let response = call(
            &mut other,
            method.clone(),
            &path,
            None,
            body,
            "application/json",
        )
        .await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            response.body
        );
    }
    assert_eq!(track_count(&app).await, 1);
    assert_eq!(get_track(&mut owner, talk.id, &track).await["revision"], 1);

    // Viewers are refused; an admin of the tenant may edit.
    app.user(T, "viewer@example.test", Role::Viewer).await;
    let mut viewer = app.client("10.3.0.6");
    viewer.log_in("viewer@example.test", PASSWORD).await;
    assert_eq!(viewer.get(&base).await.status, StatusCode::FORBIDDEN);
    app.user(T, "admin@example.test", Role::Admin).await;
    let mut admin = app.client("10.3.0.7");
    admin.log_in("admin@example.test", PASSWORD).await;
    let saved = save(
        &mut admin,
        talk.id,
        &track,
        Some("\"1\""),
        json!([{"start_ms": 0, "end_ms": 1000, "text": "fixed by the admin"}]),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    // Without a session: 401.
    let anonymous = app.get(&base).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// The editor page: the player, the editor's data and the loader of its own bundle, which no
/// other page names.
#[tokio::test]
async fn the_editor_page_loads_the_editor_bundle_and_no_other_page_does() {
    let app = TestApp::spawn().await;
    let (mut browser, user) = editor(&app, "ed@example.test", "10.3.0.8").await;
    let talk = talk_with_video(&app, &mut browser, user).await;
    let created = import(&mut browser, talk.id, "language=en", None, FILE).await;
    assert_eq!(created.status, StatusCode::CREATED);

    let page = browser
        .get(&format!("/studio/talks/{}/subtitles", talk.id))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let html = &page.body;
    assert!(html.contains("id=\"subtitle-editor\""), "{html}");
    assert!(html.contains(&talk.id.to_string()));
    assert!(
        html.contains("English (human)"),
        "the tracks are in the props"
    );
    assert!(html.contains("/pkg/subtitle_editor.js"), "{html}");
    assert!(html.contains("/pkg/subtitle_editor.wasm"));
    assert!(html.contains("/media/s/"), "signed media URLs");
    assert!(html.contains("waveform.json"));
    assert!(html.contains("Keyboard shortcuts"));
    assert!(html.contains("<video"), "the player");
    // The loader script carries the page's nonce, so the CSP lets it run.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce");
    let loader = html
        .split("<script")
        .find(|s| s.contains("subtitle_editor.js"))
        .unwrap();
    assert!(loader.contains(&format!("nonce=\"{nonce}\"")), "{loader}");

    // The talk editor links to it (a full page load); neither it nor the public pages load
    // the editor bundle.
    let editor_page = browser.get(&format!("/studio/talks/{}", talk.id)).await;
    assert_eq!(editor_page.status, StatusCode::OK);
    assert!(
        editor_page
            .body
            .contains(&format!("/studio/talks/{}/subtitles", talk.id))
    );
    for path in [
        format!("/studio/talks/{}", talk.id),
        "/studio".to_owned(),
        "/".to_owned(),
    ] {
        let other = browser.get(&path).await;
        assert!(
            !other.body.contains("subtitle_editor"),
            "{path} names the editor bundle"
        );
    }

    // The page's data as a server function; another editor gets a 404.
    let data = browser
        .server_fn("studio/talk/subtitles", &[("id", &talk.id.to_string())])
        .await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.body);
    assert_eq!(data.json()["duration_ms"], 120000);
    assert_eq!(data.json()["tracks"][0]["language"], "en");
    let (mut other, _) = editor(&app, "other@example.test", "10.3.0.9").await;
    let refused = other
        .server_fn("studio/talk/subtitles", &[("id", &talk.id.to_string())])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let page = other
        .get(&format!("/studio/talks/{}/subtitles", talk.id))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("data-props"));
}
