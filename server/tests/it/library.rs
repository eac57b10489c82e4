//! The viewer's library: beacons become resume points (continue watching, history, watched at
//! 95 %), watch later, removal and "clear history", for signed-in and anonymous viewers, with
//! an anonymous library merging into the account on sign-in, and nothing crossing between
//! owners or tenants.

use axum::http::StatusCode;
use ferrotape_model::library::{Library, LibraryEntry, OwnerKind, TalkProgress};
use ferrotape_model::{Role, TenantId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::beacons::{drained, ev, now_ms, post_batch};
use crate::common::{Client, PASSWORD, TestApp, insert_ready_video, insert_talk, insert_tenant};

/// A published talk `secs` long with a ready video.
async fn talk(app: &TestApp, slug: &str, secs: i64) -> Uuid {
    let now = time::OffsetDateTime::now_utc();
    let id = insert_talk(&app.pool, TenantId::DEFAULT, slug, slug, Some(now), &[]).await;
    insert_ready_video(&app.pool, TenantId::DEFAULT, id, secs * 1000).await;
    id
}

/// One batch of `events` for `talk` from `client`, carrying the anonymous `viewer` id.
async fn send(
    client: &mut Client<'_>,
    talk: Uuid,
    viewer: Option<Uuid>,
    events: Vec<Value>,
    headers: &[(&str, &str)],
) {
    let mut body = json!({"sent_at": now_ms(), "talk": talk, "events": events});
    if let Some(viewer) = viewer {
        body["viewer"] = json!(viewer);
    }
    let response = post_batch(client, body.to_string(), headers).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
}

/// A view of `talk` that played up to `to` seconds, its last event at `at`.
async fn watched_to(
    app: &TestApp,
    client: &mut Client<'_>,
    talk: Uuid,
    viewer: Option<Uuid>,
    to: f64,
    at: i64,
) {
    let view = Uuid::new_v4();
    send(
        client,
        talk,
        viewer,
        vec![
            ev(view, at - 1000, json!({"type": "view_start", "position": 0.0})),
            ev(view, at - 500, json!({"type": "first_frame", "startup_ms": 500})),
            // The last stretch only: an event may carry at most 120 s watched.
            ev(view, at, json!({"type": "heartbeat", "position": to, "watched": [[(to - 60.0).max(0.0), to]]})),
        ],
        &[],
    )
    .await;
    drained(app).await;
}

async fn library(client: &mut Client<'_>, viewer: Option<Uuid>) -> Library {
    let viewer = viewer.map(|v| v.to_string()).unwrap_or_default();
    let response = client
        .server_fn("library/load", &[("viewer", &viewer)])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

async fn progress(client: &mut Client<'_>, talk: Uuid, viewer: Option<Uuid>) -> TalkProgress {
    let viewer = viewer.map(|v| v.to_string()).unwrap_or_default();
    let response = client
        .server_fn(
            "library/talk",
            &[("talk", &talk.to_string()), ("viewer", &viewer)],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

fn slugs(entries: &[LibraryEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.talk.slug.as_str()).collect()
}

#[tokio::test]
async fn heartbeats_become_a_resume_point_until_95_percent_marks_the_talk_watched() {
    let app = TestApp::spawn().await;
    let long = talk(&app, "long-talk", 100).await;
    app.user(TenantId::DEFAULT, "viewer@example.com", Role::Viewer)
        .await;
    let mut client = app.client("10.1.0.1");
    client.log_in("viewer@example.com", PASSWORD).await;

    assert_eq!(library(&mut client, None).await.owner, OwnerKind::Account);
    watched_to(&app, &mut client, long, None, 42.5, now_ms()).await;
    let shelf = library(&mut client, None).await;
    assert_eq!(slugs(&shelf.continue_watching), ["long-talk"]);
    let entry = &shelf.continue_watching[0];
    assert_eq!(entry.resume_seconds(), Some(42));
    assert_eq!(entry.href(), "/talks/long-talk?t=42s");
    assert!(!entry.watched);
    assert_eq!(
        progress(&mut client, long, None).await.resume_seconds,
        Some(42)
    );

    // 95 of 100 seconds: watched, nothing to resume, still in the history.
    watched_to(&app, &mut client, long, None, 95.0, now_ms()).await;
    let shelf = library(&mut client, None).await;
    assert!(shelf.continue_watching.is_empty(), "{shelf:?}");
    assert_eq!(slugs(&shelf.history), ["long-talk"]);
    assert!(shelf.history[0].watched && shelf.history[0].at_end);
    assert_eq!(progress(&mut client, long, None).await.resume_seconds, None);

    // Watching again from the start puts it back in "continue watching", still watched.
    watched_to(&app, &mut client, long, None, 30.0, now_ms()).await;
    let shelf = library(&mut client, None).await;
    assert_eq!(slugs(&shelf.continue_watching), ["long-talk"]);
    assert!(shelf.continue_watching[0].watched);
}

#[tokio::test]
async fn a_late_event_of_an_older_view_does_not_move_the_position_back() {
    let app = TestApp::spawn().await;
    let long = talk(&app, "long-talk", 600).await;
    let viewer = Some(Uuid::new_v4());
    let mut client = app.client("10.1.0.2");
    let now = now_ms();
    watched_to(&app, &mut client, long, viewer, 300.0, now).await;
    // A view of ten minutes ago, delivered only now (a browser that was offline).
    watched_to(&app, &mut client, long, viewer, 20.0, now - 600_000).await;
    let shelf = library(&mut client, viewer).await;
    assert_eq!(shelf.owner, OwnerKind::Browser);
    assert_eq!(shelf.continue_watching[0].resume_seconds(), Some(300));
}

#[tokio::test]
async fn an_anonymous_library_joins_the_account_on_sign_in_and_the_newer_place_wins() {
    let app = TestApp::spawn().await;
    let first = talk(&app, "first-talk", 600).await;
    let second = talk(&app, "second-talk", 600).await;
    let saved = talk(&app, "saved-talk", 600).await;
    app.user(TenantId::DEFAULT, "ada@example.com", Role::Viewer)
        .await;
    let viewer = Uuid::new_v4();

    // Signed in earlier on another device: 100 s into the first talk, an hour ago.
    let mut other_device = app.client("10.1.0.3");
    other_device.log_in("ada@example.com", PASSWORD).await;
    watched_to(
        &app,
        &mut other_device,
        first,
        None,
        100.0,
        now_ms() - 3_600_000,
    )
    .await;

    // Anonymous on this browser: further into the first talk since, the second talk, a save.
    let mut browser = app.client("10.1.0.4");
    watched_to(&app, &mut browser, first, Some(viewer), 250.0, now_ms()).await;
    watched_to(&app, &mut browser, second, Some(viewer), 60.0, now_ms()).await;
    let response = browser
        .server_fn(
            "library/watch-later",
            &[
                ("talk", &saved.to_string()),
                ("saved", "true"),
                ("viewer", &viewer.to_string()),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(library(&mut browser, Some(viewer)).await.history.len(), 2);

    // Signing in on this browser: the first call that carries the id moves it.
    browser.log_in("ada@example.com", PASSWORD).await;
    let shelf = library(&mut browser, Some(viewer)).await;
    assert_eq!(shelf.owner, OwnerKind::Account);
    let mut places: Vec<(&str, Option<u64>)> = shelf
        .continue_watching
        .iter()
        .map(|e| (e.talk.slug.as_str(), e.resume_seconds()))
        .collect();
    places.sort();
    assert_eq!(
        places,
        [("first-talk", Some(250)), ("second-talk", Some(60))]
    );
    assert_eq!(slugs(&shelf.watch_later), ["saved-talk"]);
    // The account sees it everywhere; the anonymous id holds nothing any more.
    assert_eq!(
        library(&mut other_device, None)
            .await
            .continue_watching
            .len(),
        2
    );
    let mut anonymous = app.client("10.1.0.5");
    let left = library(&mut anonymous, Some(viewer)).await;
    assert!(
        left.history.is_empty() && left.watch_later.is_empty(),
        "{left:?}"
    );
}

#[tokio::test]
async fn an_anonymous_id_equal_to_a_user_id_reaches_nothing_of_theirs() {
    let app = TestApp::spawn().await;
    let long = talk(&app, "long-talk", 600).await;
    let user = app
        .user(TenantId::DEFAULT, "grace@example.com", Role::Viewer)
        .await;
    let mut owner = app.client("10.1.0.6");
    owner.log_in("grace@example.com", PASSWORD).await;
    watched_to(&app, &mut owner, long, None, 120.0, now_ms()).await;

    // Someone who learnt the user's id sends it as their anonymous id.
    let mut intruder = app.client("10.1.0.7");
    assert!(library(&mut intruder, Some(user)).await.history.is_empty());
    watched_to(&app, &mut intruder, long, Some(user), 5.0, now_ms()).await;
    let response = intruder
        .server_fn("library/clear", &[("viewer", &user.to_string())])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let shelf = library(&mut owner, None).await;
    assert_eq!(shelf.continue_watching[0].resume_seconds(), Some(120));
}

#[tokio::test]
async fn removal_and_clear_forget_history_but_keep_watch_later() {
    let app = TestApp::spawn().await;
    let a = talk(&app, "talk-a", 600).await;
    let b = talk(&app, "talk-b", 600).await;
    let viewer = Uuid::new_v4();
    let v = viewer.to_string();
    let mut client = app.client("10.1.0.8");
    watched_to(&app, &mut client, a, Some(viewer), 50.0, now_ms()).await;
    watched_to(&app, &mut client, b, Some(viewer), 70.0, now_ms()).await;
    let response = client
        .server_fn(
            "library/watch-later",
            &[("talk", &a.to_string()), ("saved", "true"), ("viewer", &v)],
        )
        .await;
    assert_eq!(response.body, "true");
    assert!(progress(&mut client, a, Some(viewer)).await.watch_later);

    let response = client
        .server_fn(
            "library/remove",
            &[("talk", &b.to_string()), ("viewer", &v)],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let shelf = library(&mut client, Some(viewer)).await;
    assert_eq!(slugs(&shelf.history), ["talk-a"]);

    let response = client.server_fn("library/clear", &[("viewer", &v)]).await;
    assert_eq!(response.body, "1");
    let shelf = library(&mut client, Some(viewer)).await;
    assert!(shelf.history.is_empty() && shelf.continue_watching.is_empty());
    assert_eq!(slugs(&shelf.watch_later), ["talk-a"]);
    // Saved, never resumed: the card says so and links to the start.
    assert_eq!(shelf.watch_later[0].href(), "/talks/talk-a");

    let response = client
        .server_fn(
            "library/watch-later",
            &[("talk", &a.to_string()), ("saved", "false"), ("viewer", &v)],
        )
        .await;
    assert_eq!(response.body, "false");
    assert!(
        library(&mut client, Some(viewer))
            .await
            .watch_later
            .is_empty()
    );
}

#[tokio::test]
async fn talks_nobody_can_reach_leave_the_lists_and_cannot_be_saved() {
    let app = TestApp::spawn().await;
    let gone = talk(&app, "soon-trashed", 600).await;
    let draft = insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "a-draft",
        "A draft",
        None,
        &[],
    )
    .await;
    let viewer = Uuid::new_v4();
    let mut client = app.client("10.1.0.9");
    watched_to(&app, &mut client, gone, Some(viewer), 50.0, now_ms()).await;
    assert_eq!(library(&mut client, Some(viewer)).await.history.len(), 1);
    sqlx::query("UPDATE talks SET state = 'unpublished', published_at = NULL, deleted_at = now() WHERE id = $1")
        .bind(gone)
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(library(&mut client, Some(viewer)).await.history.is_empty());

    for hidden in [gone, draft] {
        let response = client
            .server_fn(
                "library/watch-later",
                &[
                    ("talk", &hidden.to_string()),
                    ("saved", "true"),
                    ("viewer", &viewer.to_string()),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.body);
    }
    // Purged from the trash: its rows go with it.
    sqlx::query("DELETE FROM talks WHERE id = $1")
        .bind(gone)
        .execute(&app.pool)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM library_progress WHERE talk_id = $1")
        .bind(gone)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn privacy_signals_keep_no_library_and_bad_input_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let long = talk(&app, "long-talk", 600).await;
    let viewer = Uuid::new_v4();
    let mut client = app.client("10.1.0.10");
    let view = Uuid::new_v4();
    send(
        &mut client,
        long,
        Some(viewer),
        vec![ev(
            view,
            now_ms(),
            json!({"type": "heartbeat", "position": 80.0, "watched": [[0.0, 80.0]]}),
        )],
        &[("sec-gpc", "1")],
    )
    .await;
    drained(&app).await;
    assert!(library(&mut client, Some(viewer)).await.history.is_empty());

    // Nobody to save for: 401, and a plain form post goes to the login page and back.
    let response = client
        .server_fn(
            "library/watch-later",
            &[("talk", &long.to_string()), ("saved", "true")],
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.body
    );
    let response = client
        .form_post(
            "library/watch-later",
            &[
                ("talk", &long.to_string()),
                ("saved", "true"),
                ("next", "/talks/long-talk"),
            ],
            "/talks/long-talk",
        )
        .await;
    assert_eq!(
        response.location(),
        Some("/login?next=%2Ftalks%2Flong-talk")
    );
    // A hostile `next` never leaves the site.
    let response = client
        .form_post(
            "library/watch-later",
            &[
                ("talk", &long.to_string()),
                ("saved", "true"),
                ("next", "//evil.example/"),
            ],
            "/talks/long-talk",
        )
        .await;
    assert_eq!(response.location(), Some("/login?next=%2F"));

    for bad in [
        "not-a-uuid",
        "'; DROP TABLE library_progress; --",
        "00000000-0000-0000-0000-00000000000g",
    ] {
        let response = client.server_fn("library/load", &[("viewer", bad)]).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            response.body
        );
        assert!(response.body.contains("viewer id"), "{}", response.body);
    }
    for bad in [
        "not-a-uuid",
        "../../etc/passwd",
        &Uuid::new_v4().to_string(),
    ] {
        let response = client
            .server_fn(
                "library/talk",
                &[("talk", bad), ("viewer", &viewer.to_string())],
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{bad}: {}",
            response.body
        );
    }
}

#[tokio::test]
async fn one_viewer_id_on_two_tenants_keeps_two_libraries() {
    let app = TestApp::spawn().await;
    let here = talk(&app, "long-talk", 600).await;
    let other = insert_tenant(&app.pool, "other").await;
    let viewer = Uuid::new_v4();
    let mut client = app.client("10.1.0.11");
    watched_to(&app, &mut client, here, Some(viewer), 50.0, now_ms()).await;
    let owner = ferrotape_store::library::Owner::Viewer(viewer);
    use ferrotape_store::library::{ProgressList, progress, remove_from_history};
    assert_eq!(
        progress(
            &app.pool,
            TenantId::DEFAULT,
            owner,
            ProgressList::History,
            10
        )
        .await
        .unwrap()
        .len(),
        1
    );
    assert!(
        progress(&app.pool, other, owner, ProgressList::History, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Another tenant's calls cannot forget this tenant's rows either.
    assert!(
        !remove_from_history(&app.pool, other, owner, here)
            .await
            .unwrap()
    );
    assert_eq!(library(&mut client, Some(viewer)).await.history.len(), 1);
}
