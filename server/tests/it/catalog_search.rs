//! Catalog search as a visitor uses it: full text over titles, speakers, tags and descriptions
//! with highlighted matches, tag and speaker filters, stable pagination, speaker pages, and
//! hostile or odd input that must neither break the page nor leak drafts.

use crate::common;

use axum::http::StatusCode;
use common::{TestApp, insert_talk, insert_tenant};
use ferrotape_model::{CatalogQuery, TenantId};
use ferrotape_store::talks;
use time::{Duration, OffsetDateTime};

fn days_ago(days: i64) -> Option<OffsetDateTime> {
    Some(OffsetDateTime::now_utc() - Duration::days(days))
}

async fn tag(app: &TestApp, talk: uuid::Uuid, slug: &str, name: &str) {
    let mut tx = app.pool.begin().await.unwrap();
    let tag = talks::upsert_tag(&mut tx, TenantId::DEFAULT, slug, name)
        .await
        .unwrap();
    talks::tag_talk(&mut tx, TenantId::DEFAULT, talk, tag)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Three published talks, a draft and another tenant's talk, all mentioning "streaming".
async fn seed(app: &TestApp) {
    let t = TenantId::DEFAULT;
    let rust = insert_talk(
        &app.pool,
        t,
        "rust-streaming",
        "Streaming video with Rust",
        days_ago(3),
        &[("ada-okafor", "Ada Okafor")],
    )
    .await;
    tag(app, rust, "rust", "Rust").await;
    let queues = insert_talk(
        &app.pool,
        t,
        "queues",
        "Postgres is a fine queue",
        days_ago(2),
        &[("marta-silva", "Marta Silva"), ("ada-okafor", "Ada Okafor")],
    )
    .await;
    tag(app, queues, "databases", "Databases").await;
    let captions = insert_talk(
        &app.pool,
        t,
        "captions",
        "Captions for everyone",
        days_ago(1),
        &[("sam-patel", "Sam Patel")],
    )
    .await;
    tag(app, captions, "streaming-tag", "Live streaming").await;
    insert_talk(
        &app.pool,
        t,
        "draft",
        "Streaming draft",
        None,
        &[("ada-okafor", "Ada Okafor")],
    )
    .await;
    let other = insert_tenant(&app.pool, "other").await;
    insert_talk(
        &app.pool,
        other,
        "other-streaming",
        "Other tenant's streaming",
        days_ago(1),
        &[],
    )
    .await;
}

fn search(q: &str) -> CatalogQuery {
    CatalogQuery {
        q: Some(q.to_owned()),
        page: 1,
        ..CatalogQuery::default()
    }
    .normalized()
}

#[tokio::test]
async fn search_covers_titles_speakers_and_tags_best_match_first_and_marks_matches() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let t = TenantId::DEFAULT;

    // "streaming" is in one title and one tag; the title match ranks first. Drafts and the
    // other tenant never appear.
    let page = talks::catalog(&app.pool, t, &search("streaming"), 24)
        .await
        .unwrap();
    let slugs: Vec<&str> = page.hits.iter().map(|h| h.talk.slug.as_str()).collect();
    assert_eq!(slugs, ["rust-streaming", "captions"]);
    assert_eq!(page.total, 2);
    assert_eq!(
        page.hits[0].marked_title.as_deref(),
        Some("\u{1}Streaming\u{2} video with Rust")
    );

    // Speaker names are searchable; stemming agrees between documents and queries.
    let by_speaker = talks::catalog(&app.pool, t, &search("okafor"), 24)
        .await
        .unwrap();
    assert_eq!(by_speaker.total, 2);
    let queues = talks::catalog(&app.pool, t, &search("queues"), 24)
        .await
        .unwrap();
    assert_eq!(queues.hits[0].talk.slug, "queues");

    // Web-search syntax: a phrase and an exclusion.
    let phrase = talks::catalog(&app.pool, t, &search("\"fine queue\" -captions"), 24)
        .await
        .unwrap();
    assert_eq!(phrase.total, 1);
    let nothing = talks::catalog(&app.pool, t, &search("zebra"), 24)
        .await
        .unwrap();
    assert_eq!(nothing.total, 0);
    assert!(nothing.hits.is_empty());

    // Renaming a speaker or a tag updates the search document (triggers).
    sqlx::query("UPDATE speakers SET name = 'Ada Lovelace' WHERE slug = 'ada-okafor'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        talks::catalog(&app.pool, t, &search("lovelace"), 24)
            .await
            .unwrap()
            .total,
        2
    );
    sqlx::query("UPDATE tags SET name = 'Broadcasting' WHERE slug = 'streaming-tag'")
        .execute(&app.pool)
        .await
        .unwrap();
    let renamed = talks::catalog(&app.pool, t, &search("broadcasting"), 24)
        .await
        .unwrap();
    assert_eq!(renamed.hits[0].talk.slug, "captions");
}

#[tokio::test]
async fn filters_and_pagination_have_stable_results() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let t = TenantId::DEFAULT;
    let by = |tag: Option<&str>, speaker: Option<&str>, page: u32| CatalogQuery {
        q: None,
        tag: tag.map(str::to_owned),
        speaker: speaker.map(str::to_owned),
        page,
    };
    let databases = talks::catalog(&app.pool, t, &by(Some("databases"), None, 1), 24)
        .await
        .unwrap();
    assert_eq!(databases.total, 1);
    assert_eq!(databases.hits[0].talk.slug, "queues");
    let ada = talks::catalog(&app.pool, t, &by(None, Some("ada-okafor"), 1), 24)
        .await
        .unwrap();
    assert_eq!(ada.total, 2);
    // The filter lists name only tags and speakers with published talks in this tenant.
    let tag_names: Vec<&str> = ada.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tag_names, ["Databases", "Live streaming", "Rust"]);
    assert_eq!(ada.speakers.len(), 3);

    // Pages of one: newest first, each talk exactly once, the total on every page (also past
    // the end, so the page can link back).
    let mut seen = Vec::new();
    for page in 1..=4 {
        let results = talks::catalog(&app.pool, t, &by(None, None, page), 1)
            .await
            .unwrap();
        assert_eq!(results.total, 3, "page {page}");
        seen.extend(results.hits.into_iter().map(|h| h.talk.slug));
    }
    assert_eq!(seen, ["captions", "queues", "rust-streaming"]);
}

#[tokio::test]
async fn a_page_past_the_end_links_back_to_the_last_one() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let page = app.get("/?q=streaming&page=9").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("This page is past the end of the results."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"href="/?q=streaming""#),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_catalog_page_searches_without_javascript_and_escapes_everything() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    insert_talk(
        &app.pool,
        TenantId::DEFAULT,
        "hostile",
        "<script>alert(1)</script> streaming",
        days_ago(5),
        &[],
    )
    .await;

    let page = app.get("/?q=streaming").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<mark>Streaming</mark> video with Rust"),
        "{}",
        page.body
    );
    assert!(page.body.contains("3 talks match “streaming”."));
    // The canonical link is absolute (search engines want it so) and names the query.
    let canonical = page
        .body
        .split("<link ")
        .find_map(|tag| {
            let tag = tag.split('>').next()?;
            tag.contains(r#"rel="canonical""#)
                .then(|| tag.split(r#"href=""#).nth(1)?.split('"').next())
                .flatten()
        })
        .expect("a canonical link");
    assert!(
        canonical.starts_with("http://") && canonical.ends_with("/?q=streaming"),
        "{canonical}"
    );
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(
        page.body
            .contains(r#"<input id="catalog-q" type="search" name="q" value="streaming""#)
    );

    // Query syntax Postgres would choke on in to_tsquery is fine for websearch_to_tsquery.
    for hostile in ["%27%26%7C!(", "%22%22%22", "or", "-", "%3Cb%3E", "%00x"] {
        let response = app.get(&format!("/?q={hostile}")).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "q={hostile}: {}",
            response.body
        );
    }
    // An over-long query is cut, not refused; a junk page number is page 1.
    let long = app.get(&format!("/?q={}", "a".repeat(5000))).await;
    assert_eq!(long.status, StatusCode::OK);
    let junk_page = app.get("/?page=-7").await;
    assert!(junk_page.body.contains("4 talks."), "{}", junk_page.body);

    // Pagination links keep the query in a fixed order.
    let filtered = app.get("/?speaker=ada-okafor&tag=rust").await;
    assert!(
        filtered
            .body
            .contains("1 talk matches tagged Rust by Ada Okafor."),
        "{}",
        filtered.body
    );
}

#[tokio::test]
async fn speaker_pages_list_their_published_talks() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let page = app.get("/speakers/ada-okafor").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<h1 id=\"speaker-name\">Ada Okafor</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("2 talks"));
    assert!(page.body.contains("Streaming video with Rust"));
    assert!(page.body.contains("Postgres is a fine queue"));
    assert!(!page.body.contains("Streaming draft"));
    assert_eq!(
        app.get("/speakers/nobody").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/speakers/..%2Fadmin").await.status,
        StatusCode::NOT_FOUND
    );
}
