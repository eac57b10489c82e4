//! Schema v1 rules that no code path may bypass: the video state machine, tenant-consistent
//! references, and constraints on user-provided text.

use crate::common;

use common::{insert_talk, insert_tenant};
use ferrotape_model::{TenantId, VideoState};
use ferrotape_store::PgPool;
use ferrotape_store::test_support::TestDatabase;
use uuid::Uuid;

async fn insert_video(pool: &PgPool, tenant: TenantId) -> Uuid {
    sqlx::query_scalar("INSERT INTO videos (tenant_id) VALUES ($1) RETURNING id")
        .bind(tenant.0)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn set_state(pool: &PgPool, video: Uuid, state: VideoState) -> Result<(), String> {
    let reason = (state == VideoState::Failed).then_some("boom");
    let duration = (state == VideoState::Ready).then_some(1000_i64);
    sqlx::query(
        "UPDATE videos SET state = $2::video_state, failure_reason = $3, duration_ms = COALESCE($4, duration_ms),
                master_key = COALESCE($5, master_key)
         WHERE id = $1",
    )
    .bind(video)
    .bind(state.as_str())
    .bind(reason)
    .bind(duration)
    .bind(duration.map(|_| "t/v/hls/master.m3u8"))
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_database_enforces_the_same_state_machine_as_the_model() {
    let db = TestDatabase::create().await;
    let pool = db.pool.clone();
    for from in VideoState::ALL {
        for to in VideoState::ALL {
            if from == to {
                continue;
            }
            // Walk a fresh video to `from` along legal steps, then try `from → to`.
            let video = insert_video(&pool, TenantId::DEFAULT).await;
            let path: &[VideoState] = match from {
                VideoState::Uploading => &[],
                VideoState::Processing => &[VideoState::Processing],
                VideoState::Ready => &[VideoState::Processing, VideoState::Ready],
                VideoState::Failed => &[VideoState::Failed],
            };
            for step in path {
                set_state(&pool, video, *step).await.unwrap();
            }
            let result = set_state(&pool, video, to).await;
            assert_eq!(
                result.is_ok(),
                from.can_become(to),
                "{from} -> {to}: {result:?}"
            );
            if let Err(message) = result {
                assert!(
                    message.contains(&format!("a video cannot go from {from} to {to}")),
                    "{message}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_failed_video_must_say_why_and_a_ready_one_must_have_a_duration_and_a_playlist() {
    let db = TestDatabase::create().await;
    let pool = db.pool.clone();
    let video = insert_video(&pool, TenantId::DEFAULT).await;
    let no_reason = sqlx::query("UPDATE videos SET state = 'failed' WHERE id = $1")
        .bind(video)
        .execute(&pool)
        .await;
    assert!(no_reason.is_err());
    sqlx::query("UPDATE videos SET state = 'processing' WHERE id = $1")
        .bind(video)
        .execute(&pool)
        .await
        .unwrap();
    let no_duration =
        sqlx::query("UPDATE videos SET state = 'ready', master_key = 'k/m.m3u8' WHERE id = $1")
            .bind(video)
            .execute(&pool)
            .await;
    assert!(no_duration.is_err());
    let no_playlist =
        sqlx::query("UPDATE videos SET state = 'ready', duration_ms = 1000 WHERE id = $1")
            .bind(video)
            .execute(&pool)
            .await;
    assert!(no_playlist.is_err());
    sqlx::query(
        "UPDATE videos SET state = 'ready', duration_ms = 1000, master_key = 'k/m.m3u8' WHERE id = $1",
    )
    .bind(video)
    .execute(&pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn rows_cannot_reference_another_tenants_rows() {
    let db = TestDatabase::create().await;
    let pool = db.pool.clone();
    let other = insert_tenant(&pool, "other").await;
    let talk = insert_talk(&pool, TenantId::DEFAULT, "mine", "Mine", None, &[]).await;
    let foreign_speaker: Uuid = sqlx::query_scalar(
        "INSERT INTO speakers (tenant_id, slug, name) VALUES ($1, 's', 'S') RETURNING id",
    )
    .bind(other.0)
    .fetch_one(&pool)
    .await
    .unwrap();
    // Linking the default tenant's talk to the other tenant's speaker fails either way round.
    for tenant in [TenantId::DEFAULT, other] {
        let link = sqlx::query(
            "INSERT INTO talk_speakers (tenant_id, talk_id, speaker_id) VALUES ($1, $2, $3)",
        )
        .bind(tenant.0)
        .bind(talk)
        .bind(foreign_speaker)
        .execute(&pool)
        .await;
        assert!(
            link.is_err(),
            "cross-tenant link accepted with tenant {tenant}"
        );
    }
    let video = sqlx::query("INSERT INTO videos (tenant_id, talk_id) VALUES ($1, $2)")
        .bind(other.0)
        .bind(talk)
        .execute(&pool)
        .await;
    assert!(
        video.is_err(),
        "a video of another tenant cannot belong to this talk"
    );
}

#[tokio::test]
async fn duplicate_and_malformed_slugs_are_clear_conflicts() {
    let db = TestDatabase::create().await;
    let pool = db.pool.clone();
    insert_talk(&pool, TenantId::DEFAULT, "taken", "Taken", None, &[]).await;
    let talk = ferrotape_store::talks::NewTalk {
        slug: "taken".into(),
        title: "Again".into(),
        description: String::new(),
        recorded_on: None,
        published_at: None,
        speakers: vec![],
    };
    let mut tx = pool.begin().await.unwrap();
    let err = ferrotape_store::talks::create_talk(&mut tx, TenantId::DEFAULT, &talk)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a talk with the slug `taken` already exists"
    );
    drop(tx);

    // The same slug in another tenant is fine.
    let other = insert_tenant(&pool, "other").await;
    insert_talk(&pool, other, "taken", "Taken elsewhere", None, &[]).await;

    let bad = ferrotape_store::talks::NewTalk {
        slug: "../x".into(),
        ..talk
    };
    let mut tx = pool.begin().await.unwrap();
    let err = ferrotape_store::talks::create_talk(&mut tx, TenantId::DEFAULT, &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ferrotape_store::StoreError::Conflict(_)),
        "{err:?}"
    );
}
