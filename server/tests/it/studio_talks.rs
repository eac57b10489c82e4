//! The rules of talk editing, as the studio and the API rely on them (store::studio_talks):
//! who may change a talk, stale revisions, slugs and their history, publication states and
//! what each one shows where, the trash and its purge; and what viewers then see: the watch
//! page's chapters, Markdown and JSON-LD, old slugs answering 301, unlisted talks unindexed.

use crate::common;

use ferrotape_model::talk::{Chapter, Publication, StudioTalkFilter, TalkFields, TalkState};
use ferrotape_model::{CatalogQuery, TenantId};
use ferrotape_store::test_support::TestDatabase;
use ferrotape_store::{PgPool, StoreError, speakers, studio_talks, talks};
use studio_talks::Actor;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T: TenantId = TenantId::DEFAULT;

async fn user(pool: &PgPool, email: &str, role: &str) -> Actor {
    let id = sqlx::query_scalar::<_, Uuid>(
        "INSERT INTO users (tenant_id, email, display_name, password_hash, role)
         VALUES ($1, $2, 'Editor', '$argon2id$test', $3::user_role) RETURNING id",
    )
    .bind(T.0)
    .bind(email)
    .bind(role)
    .fetch_one(pool)
    .await
    .unwrap();
    Actor {
        user: id,
        admin: role == "admin",
    }
}

/// A processed video of `uploader`, without a talk, lasting `secs`.
async fn ready_video(pool: &PgPool, uploader: Actor, secs: i64) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO videos (id, tenant_id, state, duration_ms, master_key, poster_key, uploaded_by)
         VALUES ($1, $2, 'ready', $3, $4, $4 || '.jpg', $5)",
    )
    .bind(id)
    .bind(T.0)
    .bind(secs * 1000)
    .bind(format!("{}/{id}/v1/hls/master.m3u8", T.0))
    .bind(uploader.user)
    .execute(pool)
    .await
    .unwrap();
    id
}

fn fields(title: &str) -> TalkFields {
    TalkFields {
        title: title.into(),
        ..TalkFields::default()
    }
}

fn publish() -> Publication {
    Publication {
        state: TalkState::Published,
        publish_at: None,
    }
}

async fn catalog_slugs(pool: &PgPool) -> Vec<String> {
    let query = CatalogQuery::default().normalized();
    talks::catalog(pool, T, &query, 50)
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|hit| hit.talk.slug)
        .collect()
}

#[tokio::test]
async fn an_upload_becomes_a_published_talk_with_speakers_tags_and_chapters() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    let video = ready_video(pool, editor, 120).await;
    let ada = speakers::create(
        pool,
        T,
        ferrotape_model::talk::SpeakerFields {
            name: "Ada Okafor".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let lin = speakers::create(
        pool,
        T,
        ferrotape_model::talk::SpeakerFields {
            name: "Lin Zhao".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let talk = studio_talks::create(
        pool,
        T,
        editor,
        TalkFields {
            title: "Streaming at scale".into(),
            description: "Hello *world*".into(),
            tags: vec!["Video".into(), "Rust".into()],
            speakers: vec![lin.id, ada.id],
            chapters: vec![
                Chapter {
                    start_ms: 0,
                    title: "Intro".into(),
                },
                Chapter {
                    start_ms: 60_000,
                    title: "Demo".into(),
                },
            ],
            ..TalkFields::default()
        },
        Some(video),
    )
    .await
    .unwrap();

    // A draft is nowhere public.
    assert!(
        talks::find_published(pool, T, "streaming-at-scale")
            .await
            .is_err()
    );
    let listed = studio_talks::list(pool, T, editor, &StudioTalkFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0.state, TalkState::Draft);
    assert_eq!(listed[0].0.video.as_ref().map(|v| v.id), Some(video));

    let (state, _) = studio_talks::set_publication(pool, T, editor, talk, None, publish())
        .await
        .unwrap();
    assert_eq!(state, TalkState::Published);
    let page = talks::find_published(pool, T, "streaming-at-scale")
        .await
        .unwrap();
    let names: Vec<_> = page
        .summary
        .speakers
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Lin Zhao", "Ada Okafor"],
        "speakers keep the chosen order"
    );
    assert_eq!(page.chapters.len(), 2);
    assert!(page.listed);
    assert_eq!(catalog_slugs(pool).await, ["streaming-at-scale"]);

    // A video is one talk's: a second talk cannot take it.
    let err = studio_talks::create(pool, T, editor, fields("Again"), Some(video))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn only_the_owner_or_an_admin_changes_a_talk() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let owner = user(pool, "owner@example.test", "editor").await;
    let other = user(pool, "other@example.test", "editor").await;
    let admin = user(pool, "admin@example.test", "admin").await;
    let talk = studio_talks::create(pool, T, owner, fields("Mine"), None)
        .await
        .unwrap();
    let err = studio_talks::update(pool, T, other, talk, None, fields("Stolen"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let others_list = studio_talks::list(pool, T, other, &StudioTalkFilter::default(), None, 50)
        .await
        .unwrap();
    assert!(others_list.is_empty(), "another editor does not see it");
    studio_talks::update(pool, T, admin, talk, None, fields("Edited by admin"))
        .await
        .unwrap();
    let admins_list = studio_talks::list(pool, T, admin, &StudioTalkFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(admins_list[0].0.title, "Edited by admin");
    // Another editor's video cannot be attached either.
    let video = ready_video(pool, owner, 10).await;
    let err = studio_talks::create(pool, T, other, fields("Theirs"), Some(video))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

#[tokio::test]
async fn a_stale_revision_is_refused_and_nothing_is_written() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    let talk = studio_talks::create(pool, T, editor, fields("First"), None)
        .await
        .unwrap();
    let read = studio_talks::find(pool, T, editor, talk)
        .await
        .unwrap()
        .revision;
    let saved = studio_talks::update(pool, T, editor, talk, Some(read), fields("Second"))
        .await
        .unwrap();
    assert!(saved > read);
    let err = studio_talks::update(pool, T, editor, talk, Some(read), fields("Lost update"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Stale { current } if current == saved),
        "{err:?}"
    );
    assert_eq!(
        studio_talks::find(pool, T, editor, talk)
            .await
            .unwrap()
            .title,
        "Second"
    );
}

#[tokio::test]
async fn bad_fields_are_refused_whole() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    let video = ready_video(pool, editor, 60).await;
    let talk = studio_talks::create(pool, T, editor, fields("Short"), Some(video))
        .await
        .unwrap();
    let outside = TalkFields {
        tags: vec!["Kept?".into()],
        chapters: vec![Chapter {
            start_ms: 90_000,
            title: "After the end".into(),
        }],
        ..fields("Renamed")
    };
    let err = studio_talks::update(pool, T, editor, talk, None, outside)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(f) if f.field == "chapters"),
        "{err:?}"
    );
    let reserved = TalkFields {
        slug: Some("admin".into()),
        ..fields("Renamed")
    };
    assert!(matches!(
        studio_talks::update(pool, T, editor, talk, None, reserved).await,
        Err(StoreError::Invalid(f)) if f.field == "slug"
    ));
    let unknown_speaker = TalkFields {
        speakers: vec![Uuid::new_v4()],
        ..fields("Renamed")
    };
    assert!(matches!(
        studio_talks::update(pool, T, editor, talk, None, unknown_speaker).await,
        Err(StoreError::Invalid(f)) if f.field == "speakers"
    ));
    let row = studio_talks::find(pool, T, editor, talk).await.unwrap();
    assert_eq!(row.title, "Short", "nothing half-saved");
    assert!(row.tags.is_empty());
}

#[tokio::test]
async fn old_slugs_redirect_forever_and_stay_taken() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    let video = ready_video(pool, editor, 60).await;
    let talk = studio_talks::create(pool, T, editor, fields("Old name"), Some(video))
        .await
        .unwrap();
    studio_talks::set_publication(pool, T, editor, talk, None, publish())
        .await
        .unwrap();
    for slug in ["new-name", "newer-name"] {
        let rename = TalkFields {
            slug: Some(slug.into()),
            ..fields("Renamed")
        };
        studio_talks::update(pool, T, editor, talk, None, rename)
            .await
            .unwrap();
    }
    for old in ["old-name", "new-name"] {
        assert_eq!(
            studio_talks::redirect_for_old_slug(pool, T, old)
                .await
                .unwrap()
                .as_deref(),
            Some("newer-name"),
            "{old}"
        );
    }
    // Another talk can neither be created with nor renamed to an old slug.
    let other = studio_talks::create(pool, T, editor, fields("Other"), None)
        .await
        .unwrap();
    let take = TalkFields {
        slug: Some("old-name".into()),
        ..fields("Other")
    };
    let err = studio_talks::update(pool, T, editor, other, None, take)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(f) if f.field == "slug" && f.message.contains("still leads there")),
        "{err:?}"
    );
    // A talk made from a title that matches an old slug gets a free one instead.
    let from_title = studio_talks::create(pool, T, editor, fields("Old name"), None)
        .await
        .unwrap();
    let slug = studio_talks::find(pool, T, editor, from_title)
        .await
        .unwrap()
        .slug;
    assert_eq!(slug, "old-name-2");
    // The talk itself may take its old slug back; then it no longer redirects.
    let back = TalkFields {
        slug: Some("old-name".into()),
        ..fields("Renamed")
    };
    studio_talks::update(pool, T, editor, talk, None, back)
        .await
        .unwrap();
    assert_eq!(
        studio_talks::redirect_for_old_slug(pool, T, "old-name")
            .await
            .unwrap(),
        None
    );
    assert!(talks::find_published(pool, T, "old-name").await.is_ok());
    // A redirect never leads to a talk nobody may see.
    studio_talks::set_publication(
        pool,
        T,
        editor,
        talk,
        None,
        Publication {
            state: TalkState::Unpublished,
            publish_at: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        studio_talks::redirect_for_old_slug(pool, T, "newer-name")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn publication_states_decide_where_a_talk_shows() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    let talk = studio_talks::create(pool, T, editor, fields("Stateful"), None)
        .await
        .unwrap();
    // No playable video: it cannot become reachable in any way.
    for state in [TalkState::Published, TalkState::Unlisted] {
        let err = studio_talks::set_publication(
            pool,
            T,
            editor,
            talk,
            None,
            Publication {
                state,
                publish_at: None,
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(f) if f.field == "state"),
            "{err:?}"
        );
    }
    let video = ready_video(pool, editor, 30).await;
    studio_talks::attach_video(pool, T, editor, talk, video)
        .await
        .unwrap();

    // Unlisted: its page and media by link, but no listing and no sitemap.
    studio_talks::set_publication(
        pool,
        T,
        editor,
        talk,
        None,
        Publication {
            state: TalkState::Unlisted,
            publish_at: None,
        },
    )
    .await
    .unwrap();
    let page = talks::find_published(pool, T, "stateful").await.unwrap();
    assert!(!page.listed);
    // The studio's state filter finds it (states without a publication time included).
    let unlisted = StudioTalkFilter {
        state: Some(TalkState::Unlisted),
        ..StudioTalkFilter::default()
    };
    let found = studio_talks::list(pool, T, editor, &unlisted, None, 50)
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        1,
        "the unlisted filter lists the unlisted talk"
    );
    assert!(catalog_slugs(pool).await.is_empty());
    assert!(talks::sitemap(pool, T).await.unwrap().is_empty());
    assert!(
        ferrotape_store::videos::public_since(pool, T, video)
            .await
            .unwrap()
            .is_some_and(|since| since <= OffsetDateTime::now_utc())
    );

    // Scheduled: nowhere until its time, then everywhere, by itself.
    let at = OffsetDateTime::now_utc() + Duration::seconds(2);
    let (state, _) = studio_talks::set_publication(
        pool,
        T,
        editor,
        talk,
        None,
        Publication {
            state: TalkState::Scheduled,
            publish_at: Some(at),
        },
    )
    .await
    .unwrap();
    assert_eq!(state, TalkState::Scheduled);
    assert!(talks::find_published(pool, T, "stateful").await.is_err());
    assert!(catalog_slugs(pool).await.is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while catalog_slugs(pool).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled talk never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        OffsetDateTime::now_utc() >= at,
        "it appeared before its time"
    );
    let row = studio_talks::find(pool, T, editor, talk).await.unwrap();
    assert_eq!(row.state, TalkState::Published);
    assert_eq!(talks::sitemap(pool, T).await.unwrap().len(), 1);

    // Unpublished: gone from everywhere, media included.
    studio_talks::set_publication(
        pool,
        T,
        editor,
        talk,
        None,
        Publication {
            state: TalkState::Unpublished,
            publish_at: None,
        },
    )
    .await
    .unwrap();
    assert!(talks::find_published(pool, T, "stateful").await.is_err());
    assert!(catalog_slugs(pool).await.is_empty());
    assert_eq!(
        ferrotape_store::videos::public_since(pool, T, video)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_trash_hides_restores_and_purges() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    let video = ready_video(pool, editor, 30).await;
    let talk = studio_talks::create(pool, T, editor, fields("Binned"), Some(video))
        .await
        .unwrap();
    studio_talks::set_publication(pool, T, editor, talk, None, publish())
        .await
        .unwrap();
    studio_talks::trash(pool, T, editor, talk, None)
        .await
        .unwrap();
    assert!(talks::find_published(pool, T, "binned").await.is_err());
    assert!(catalog_slugs(pool).await.is_empty());
    let live = studio_talks::list(pool, T, editor, &StudioTalkFilter::default(), None, 50)
        .await
        .unwrap();
    assert!(live.is_empty());
    let trash = StudioTalkFilter {
        trash: true,
        ..StudioTalkFilter::default()
    };
    let binned = studio_talks::list(pool, T, editor, &trash, None, 50)
        .await
        .unwrap();
    assert_eq!(binned.len(), 1);
    assert_eq!(binned[0].0.state, TalkState::Unpublished);
    assert!(matches!(
        studio_talks::update(pool, T, editor, talk, None, fields("Edit in trash")).await,
        Err(StoreError::Conflict(_))
    ));

    // Not purged before its time.
    let cutoff = OffsetDateTime::now_utc() - Duration::days(ferrotape_model::talk::TRASH_DAYS);
    assert!(
        studio_talks::purge_trashed(pool, cutoff, 10)
            .await
            .unwrap()
            .is_empty()
    );
    studio_talks::restore(pool, T, editor, talk).await.unwrap();
    let restored = studio_talks::find(pool, T, editor, talk).await.unwrap();
    assert_eq!(restored.deleted_at, None);
    assert_eq!(
        restored.state,
        TalkState::Unpublished,
        "restored, not republished"
    );

    // Purged, with its video, once it is older than the cutoff.
    studio_talks::trash(pool, T, editor, talk, None)
        .await
        .unwrap();
    let purged =
        studio_talks::purge_trashed(pool, OffsetDateTime::now_utc() + Duration::seconds(1), 10)
            .await
            .unwrap();
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].videos, vec![video]);
    assert!(matches!(
        studio_talks::find(pool, T, editor, talk).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn the_list_filters_searches_and_pages_without_gaps() {
    let db = TestDatabase::create().await;
    let pool = &db.pool;
    let editor = user(pool, "ed@example.test", "editor").await;
    for i in 0..7 {
        studio_talks::create(
            pool,
            T,
            editor,
            fields(&format!("Talk {i} about queues")),
            None,
        )
        .await
        .unwrap();
    }
    studio_talks::create(pool, T, editor, fields("Something_else 100%"), None)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = studio_talks::list(pool, T, editor, &StudioTalkFilter::default(), cursor, 3)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|(_, c)| *c);
        seen.extend(page.into_iter().map(|(t, _)| t.id));
    }
    assert_eq!(seen.len(), 8);
    seen.dedup();
    assert_eq!(seen.len(), 8, "no talk twice");
    let search = |q: &str| StudioTalkFilter {
        q: Some(q.into()),
        ..StudioTalkFilter::default()
    };
    let hits = studio_talks::list(pool, T, editor, &search("QUEUES"), None, 50)
        .await
        .unwrap();
    assert_eq!(hits.len(), 7);
    // LIKE wildcards in the search text are literal.
    let hits = studio_talks::list(pool, T, editor, &search("_else 100%"), None, 50)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    let hits = studio_talks::list(pool, T, editor, &search("%"), None, 50)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    let drafts = StudioTalkFilter {
        state: Some(TalkState::Published),
        ..StudioTalkFilter::default()
    };
    assert!(
        studio_talks::list(pool, T, editor, &drafts, None, 50)
            .await
            .unwrap()
            .is_empty()
    );
}

/// An editor's published talk with a ready video (rows only; the page needs no media).
async fn published_talk(app: &common::TestApp, fields: TalkFields) -> (Actor, Uuid) {
    let editor = Actor {
        user: app
            .user(T, "viewer-page@example.test", ferrotape_model::Role::Editor)
            .await,
        admin: false,
    };
    let video = ready_video(&app.pool, editor, 600).await;
    let talk = studio_talks::create(&app.pool, T, editor, fields, Some(video))
        .await
        .unwrap();
    studio_talks::set_publication(&app.pool, T, editor, talk, None, publish())
        .await
        .unwrap();
    (editor, talk)
}

#[tokio::test]
async fn the_watch_page_shows_chapters_and_safe_markdown() {
    let app = common::TestApp::spawn().await;
    let fields = TalkFields {
        title: "Chaptered".into(),
        description: "Read **this** first.\n\n<script>alert(1)</script> [x](javascript:alert(1))"
            .into(),
        event: "RustConf 2026".into(),
        chapters: vec![
            Chapter {
                start_ms: 0,
                title: "Welcome".into(),
            },
            Chapter {
                start_ms: 125_000,
                title: "Live demo".into(),
            },
        ],
        ..TalkFields::default()
    };
    published_talk(&app, fields).await;
    let page = app.get("/talks/chaptered").await;
    assert_eq!(page.status, 200);
    let html = &page.body;
    assert!(html.contains("<strong>this</strong>"), "Markdown rendered");
    assert!(!html.contains("<script>alert(1)"), "raw HTML never passes");
    assert!(
        !html.contains(r#"href="javascript:"#),
        "no javascript: link"
    );
    assert!(
        !html.contains("Read **this**"),
        "meta and JSON-LD descriptions are plain text, not Markdown"
    );
    assert!(html.contains("RustConf 2026"));
    // The chapter list links to start times, and the player's props carry the chapters.
    assert!(html.contains(r#"aria-label="Chapters""#), "chapter list");
    assert!(html.contains(r#"href="?t=2m5s""#), "{html}");
    assert!(html.contains("Live demo"));
    assert!(html.contains("player-chapter-mark"), "seek-bar marks");
    // JSON-LD names them as key moments.
    assert!(
        html.contains(r#""hasPart""#) && html.contains(r#""startOffset":125"#),
        "{html}"
    );
    assert!(
        !html.contains(r#"name="robots" content="noindex""#),
        "a listed talk is indexed"
    );
}

#[tokio::test]
async fn an_old_slug_answers_301_to_the_new_page() {
    let app = common::TestApp::spawn().await;
    let (editor, talk) = published_talk(&app, fields("Before rename")).await;
    let rename = TalkFields {
        slug: Some("after-rename".into()),
        ..fields("After")
    };
    studio_talks::update(&app.pool, T, editor, talk, None, rename)
        .await
        .unwrap();
    let old = app.get("/talks/before-rename?t=90").await;
    assert_eq!(old.status, 301);
    assert_eq!(old.location(), Some("/talks/after-rename?t=90"));
    assert_eq!(app.get("/talks/after-rename").await.status, 200);
    // A slug nobody ever had is still a 404.
    assert_eq!(app.get("/talks/never-was").await.status, 404);
    // Asked through the server function (the hydrated router), the move is data, not a 301.
    let call = app.call_server_fn("talks/get", "slug=before-rename").await;
    assert_ne!(call.status, 301);
    assert!(call.body.contains("after-rename"), "{}", call.body);
}

#[tokio::test]
async fn an_unlisted_talk_plays_by_link_but_is_listed_nowhere() {
    let app = common::TestApp::spawn().await;
    let (editor, talk) = published_talk(&app, fields("Secret preview")).await;
    studio_talks::set_publication(
        &app.pool,
        T,
        editor,
        talk,
        None,
        Publication {
            state: TalkState::Unlisted,
            publish_at: None,
        },
    )
    .await
    .unwrap();
    let page = app.get("/talks/secret-preview").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"name="robots" content="noindex""#));
    assert!(!app.get("/").await.body.contains("secret-preview"));
    assert!(!app.get("/?q=secret").await.body.contains("secret-preview"));
    assert!(
        !app.get("/sitemap.xml")
            .await
            .body
            .contains("secret-preview")
    );
}

#[tokio::test]
async fn the_purge_job_empties_old_trash_and_replaced_videos_with_their_media() {
    let app = common::TestApp::spawn().await;
    let pool = &app.pool;
    let (editor, talk) = published_talk(&app, fields("To be purged")).await;
    let kept = studio_talks::create(pool, T, editor, fields("Kept"), None)
        .await
        .unwrap();
    let old_video = ready_video(pool, editor, 60).await;
    studio_talks::attach_video(pool, T, editor, kept, old_video)
        .await
        .unwrap();
    let new_video = ready_video(pool, editor, 60).await;
    studio_talks::attach_video(pool, T, editor, kept, new_video)
        .await
        .unwrap();
    sqlx::query("UPDATE videos SET created_at = now() - interval '1 day', processed_at = now() - interval '1 day' WHERE id = $1")
        .bind(old_video)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE videos SET processed_at = now() - interval '2 hours' WHERE id = $1")
        .bind(new_video)
        .execute(pool)
        .await
        .unwrap();
    let videos: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM videos WHERE talk_id = $1")
        .bind(talk)
        .fetch_all(pool)
        .await
        .unwrap();
    // Media of every video involved, and the purged talk's poster folder.
    let mut dirs = Vec::new();
    for id in videos.iter().chain([&old_video, &new_video, &talk]) {
        let dir = app
            .media_dir
            .path()
            .join(T.0.to_string())
            .join(id.to_string())
            .join("v1/hls");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("master.m3u8"), "#EXTM3U\n").unwrap();
        dirs.push((*id, dir));
    }
    studio_talks::trash(pool, T, editor, talk, None)
        .await
        .unwrap();
    sqlx::query("UPDATE talks SET deleted_at = now() - interval '31 days' WHERE id = $1")
        .bind(talk)
        .execute(pool)
        .await
        .unwrap();

    let now = OffsetDateTime::now_utc();
    let purged = ferrotape_worker::trash::purge(
        pool,
        &*app.media,
        now - Duration::days(ferrotape_model::talk::TRASH_DAYS),
        now - Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(purged.talks, 1);
    assert_eq!(
        purged.videos, 2,
        "the trashed talk's video and the replaced one"
    );
    for (id, dir) in &dirs {
        let gone = *id != new_video;
        assert_eq!(!dir.exists(), gone, "media of {id}");
    }
    assert!(studio_talks::find(pool, T, editor, talk).await.is_err());
    let kept_row = studio_talks::find(pool, T, editor, kept).await.unwrap();
    assert_eq!(kept_row.video.map(|v| v.id), Some(new_video));
}
