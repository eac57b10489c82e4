//! The studio's server functions for talks (app::api::talks_editor) as the browser calls them,
//! hydrated (JSON back) and as plain HTML forms (a redirect back with `?error=`): their bad
//! paths above all. A stale save, a refused field and a bulk action that cannot publish a talk
//! each answer clearly and write nothing they should not.

use crate::common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp};
use ferrotape_model::talk::{TalkFields, TalkState};
use ferrotape_model::{Role, TenantId};
use ferrotape_store::studio_talks::{self, Actor};
use uuid::Uuid;

const T: TenantId = TenantId::DEFAULT;

/// A ready video of `user` without a talk.
async fn ready_video(app: &TestApp, user: Uuid, secs: i64) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO videos (tenant_id, state, duration_ms, master_key, uploaded_by, original_name)
         VALUES ($1, 'ready', $2, 't/v/hls/master.m3u8', $3, 'clip.mp4') RETURNING id",
    )
    .bind(T.0)
    .bind(secs * 1000)
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

fn editor(user: Uuid) -> Actor {
    Actor { user, admin: false }
}

/// The save form's fields as the editor page posts them, with `changes` on top.
fn save_form<'a>(
    talk: &'a str,
    revision: &'a str,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("id", talk),
        ("revision", revision),
        ("title", "Streaming at scale"),
        ("slug", "streaming-at-scale"),
        ("description", ""),
        ("language", ""),
        ("recorded_on", ""),
        ("event", ""),
        ("tags", ""),
        ("chapters", ""),
    ];
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    form
}

#[tokio::test]
async fn a_save_refused_as_stale_or_invalid_writes_nothing_and_says_why() {
    let app = TestApp::spawn().await;
    let user = app.user(T, "ed@example.test", Role::Editor).await;
    let video = ready_video(&app, user, 120).await;
    let mut browser = app.client("10.1.0.1");
    browser.log_in("ed@example.test", PASSWORD).await;

    // A talk from the upload, through the form the orphan list shows.
    let created = browser
        .server_fn(
            "studio/talks/create",
            &[
                ("title", "Streaming at scale"),
                ("video_id", &video.to_string()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let talk: Uuid = created.json().as_str().unwrap().parse().unwrap();
    let id = talk.to_string();
    let loaded = studio_talks::editable(&app.pool, T, editor(user), talk)
        .await
        .unwrap();
    let revision = loaded.talk.revision.to_string();

    // Chapters past the end of the 2-minute video: a 422 naming the field, and the new speaker
    // typed in the same form is not created.
    let refused = browser
        .server_fn(
            "studio/talk/save",
            &save_form(
                &id,
                &revision,
                &[
                    ("chapters", "0:00 Intro\n5:00 Too late"),
                    ("new_speaker_name", "Ada Okafor"),
                    ("op", "new"),
                ],
            ),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("chapters") && refused.body.contains("after the video ends"),
        "{}",
        refused.body
    );
    let speakers: i64 = sqlx::query_scalar("SELECT count(*) FROM speakers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(speakers, 0, "nothing half-saved");

    // Without JavaScript, the same post comes back to the editor with the field's code.
    let plain = browser
        .form_post(
            "studio/talk/save",
            &save_form(&id, &revision, &[("chapters", "soon Intro")]),
            &format!("/studio/talks/{id}"),
        )
        .await;
    assert_eq!(plain.status, StatusCode::FOUND);
    assert_eq!(
        plain.location(),
        Some(format!("/studio/talks/{id}?error=invalid_chapters").as_str())
    );

    // A save with speakers, a new one, tags and chapters goes through...
    let ok = browser
        .server_fn(
            "studio/talk/save",
            &save_form(
                &id,
                &revision,
                &[
                    ("tags", "Rust, Video, rust"),
                    ("chapters", "0:00 Intro\n1:00 Demo"),
                    ("new_speaker_name", "Ada Okafor"),
                    ("new_speaker_links", "https://ada.example"),
                ],
            ),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let saved = studio_talks::editable(&app.pool, T, editor(user), talk)
        .await
        .unwrap();
    assert_eq!(saved.speakers.len(), 1);
    assert_eq!(saved.speakers[0].links, ["https://ada.example"]);
    let tags: Vec<&str> = saved.talk.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, ["Rust", "Video"]);
    assert_eq!(saved.chapters.len(), 2);

    // ...and the form still holding the old revision is now stale: 412, nothing overwritten.
    let stale = browser
        .server_fn(
            "studio/talk/save",
            &save_form(&id, &revision, &[("title", "Overwritten")]),
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.body
    );
    assert!(stale.body.contains("Stale"), "{}", stale.body);
    let after = studio_talks::editable(&app.pool, T, editor(user), talk)
        .await
        .unwrap();
    assert_eq!(after.talk.title, "Streaming at scale");
    let plain = browser
        .form_post(
            "studio/talk/save",
            &save_form(&id, &revision, &[("title", "Overwritten")]),
            &format!("/studio/talks/{id}"),
        )
        .await;
    assert_eq!(
        plain.location(),
        Some(format!("/studio/talks/{id}?error=stale").as_str())
    );

    // Another editor cannot read or change it: as if it did not exist.
    app.user(T, "other@example.test", Role::Editor).await;
    let mut other = app.client("10.1.0.2");
    other.log_in("other@example.test", PASSWORD).await;
    assert_eq!(
        other.server_fn("studio/talk", &[("id", &id)]).await.status,
        StatusCode::NOT_FOUND
    );
    let current = after.talk.revision.to_string();
    let foreign = other
        .server_fn(
            "studio/talk/save",
            &save_form(&id, &current, &[("title", "Mine now")]),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    // Making the captions again: another editor's talk is not found and a malformed id is
    // refused, queueing nothing; the owner queues one transcription, and asking twice still one.
    let transcriptions = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE kind = 'transcribe'")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let foreign = other
        .server_fn("studio/talk/transcribe", &[("id", &id)])
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    for garbage in ["../etc", "", "'; DROP TABLE jobs; --"] {
        let refused = browser
            .server_fn("studio/talk/transcribe", &[("id", garbage)])
            .await;
        assert!(
            refused.status.is_client_error(),
            "{garbage:?}: {} {}",
            refused.status,
            refused.body
        );
    }
    assert_eq!(transcriptions().await, 0);
    for _ in 0..2 {
        let queued = browser
            .server_fn("studio/talk/transcribe", &[("id", &id)])
            .await;
        assert_eq!(queued.status, StatusCode::OK, "{}", queued.body);
    }
    assert_eq!(transcriptions().await, 1);
    // A viewer is refused the studio altogether.
    app.user(T, "viewer@example.test", Role::Viewer).await;
    let mut viewer = app.client("10.1.0.3");
    viewer.log_in("viewer@example.test", PASSWORD).await;
    assert_eq!(
        viewer.server_fn("studio/talks", &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn bulk_actions_report_each_talk_and_scheduling_reads_the_browser_offset() {
    let app = TestApp::spawn().await;
    let user = app.user(T, "ed@example.test", Role::Editor).await;
    let actor = editor(user);
    let video = ready_video(&app, user, 60).await;
    let playable = studio_talks::create(
        &app.pool,
        T,
        actor,
        TalkFields {
            title: "Playable".into(),
            ..TalkFields::default()
        },
        Some(video),
    )
    .await
    .unwrap();
    let empty = studio_talks::create(
        &app.pool,
        T,
        actor,
        TalkFields {
            title: "No video".into(),
            ..TalkFields::default()
        },
        None,
    )
    .await
    .unwrap();
    let mut browser = app.client("10.1.0.4");
    browser.log_in("ed@example.test", PASSWORD).await;
    let (playable_id, empty_id) = (playable.to_string(), empty.to_string());

    // Without JavaScript: the report travels in the URL back to the filtered list.
    let plain = browser
        .form_post(
            "studio/talks/bulk",
            &[
                ("ids[0]", &playable_id),
                ("ids[3]", &empty_id),
                ("action", "publish"),
                ("tag", ""),
                ("q", "o"),
                ("state", ""),
                ("trash", ""),
            ],
            "/studio?q=o",
        )
        .await;
    assert_eq!(plain.status, StatusCode::FOUND, "{}", plain.body);
    assert_eq!(
        plain.location(),
        Some(format!("/studio?q=o&notice=bulk&done=1&failed={empty}:invalid_state").as_str())
    );
    let published = studio_talks::find(&app.pool, T, actor, playable)
        .await
        .unwrap();
    assert_eq!(published.state, TalkState::Published);
    assert_eq!(
        studio_talks::find(&app.pool, T, actor, empty)
            .await
            .unwrap()
            .state,
        TalkState::Draft,
        "a talk without a playable video stays a draft"
    );

    // Tagging both; an empty tag or no talk chosen is refused as a whole.
    let tagged = browser
        .server_fn(
            "studio/talks/bulk",
            &[
                ("ids[0]", &playable_id),
                ("ids[1]", &empty_id),
                ("action", "tag"),
                ("tag", "Keynote"),
            ],
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);
    assert_eq!(
        tagged.json()["done"].as_array().unwrap().len(),
        2,
        "{}",
        tagged.body
    );
    for talk in [playable, empty] {
        let tags = studio_talks::find(&app.pool, T, actor, talk)
            .await
            .unwrap()
            .tags;
        assert_eq!(
            tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["Keynote"]
        );
    }
    let nameless = browser
        .server_fn(
            "studio/talks/bulk",
            &[("ids[0]", &playable_id), ("action", "tag"), ("tag", " ")],
        )
        .await;
    assert_eq!(
        nameless.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nameless.body
    );
    let none = browser
        .server_fn("studio/talks/bulk", &[("action", "publish")])
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "{}", none.body);

    // Scheduling: the datetime-local text in the browser's zone (UTC+01:00 → offset -60).
    let ahead = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    let berlin = ahead.to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap());
    let local_text = format!(
        "{}T{:02}:{:02}:{:02}",
        berlin.date(),
        berlin.hour(),
        berlin.minute(),
        berlin.second()
    );
    let revision = studio_talks::find(&app.pool, T, actor, playable)
        .await
        .unwrap()
        .revision
        .to_string();
    let scheduled = browser
        .server_fn(
            "studio/talk/publish",
            &[
                ("id", &playable_id),
                ("revision", &revision),
                ("state", "scheduled"),
                ("publish_at", &local_text),
                ("tz_offset", "-60"),
            ],
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::OK, "{}", scheduled.body);
    let talk = studio_talks::find(&app.pool, T, actor, playable)
        .await
        .unwrap();
    assert_eq!(talk.state, TalkState::Scheduled);
    assert_eq!(
        talk.published_at.unwrap().unix_timestamp(),
        ahead.unix_timestamp()
    );
    // A time in the past, or nonsense, is refused on the field; without JavaScript, back with
    // its code.
    let current = talk.revision.to_string();
    for bad in ["2020-01-01T10:00", "next tuesday"] {
        let refused = browser
            .form_post(
                "studio/talk/publish",
                &[
                    ("id", &playable_id),
                    ("revision", &current),
                    ("state", "scheduled"),
                    ("publish_at", bad),
                    ("tz_offset", ""),
                ],
                &format!("/studio/talks/{playable}"),
            )
            .await;
        assert_eq!(
            refused.location(),
            Some(format!("/studio/talks/{playable}?error=invalid_publish_at").as_str()),
            "{bad}"
        );
    }
}
