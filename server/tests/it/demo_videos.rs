//! `seed-demo` gives every demo talk its own generated clip, made and transcoded by the worker
//! in the background with the real ffmpeg (and espeak-ng's speech when it is installed), and a
//! second run neither duplicates nor regenerates anything.

use crate::common;

use std::time::{Duration, Instant};

use common::TestApp;
use ferrotape_model::TenantId;
use ferrotape_server::demo;

/// Each demo talk's videos: (slug, state, failure, master key, probe).
async fn demo_videos(
    app: &TestApp,
) -> Vec<(
    String,
    String,
    Option<String>,
    Option<String>,
    Option<serde_json::Value>,
)> {
    sqlx::query_as(
        "SELECT t.slug, v.state::text, v.failure_reason, v.master_key, v.probe
         FROM talks t LEFT JOIN videos v ON v.talk_id = t.id AND v.tenant_id = t.tenant_id
         WHERE t.tenant_id = $1 ORDER BY t.slug, v.created_at",
    )
    .bind(TenantId::DEFAULT.0)
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(
        |(slug, state, reason, master, probe): (String, Option<String>, _, _, _)| {
            (
                slug,
                state.unwrap_or_else(|| "none".into()),
                reason,
                master,
                probe,
            )
        },
    )
    .collect()
}

async fn job_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind IN ('demo.video', 'transcode')")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn espeak_installed() -> bool {
    std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The mean volume of the audio of an HLS rendition, in dB, as ffmpeg's volumedetect says.
fn mean_volume(playlist: &std::path::Path) -> f64 {
    let output = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(playlist)
        .args(["-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let said = String::from_utf8_lossy(&output.stderr);
    said.lines()
        .find_map(|line| line.split("mean_volume:").nth(1))
        .and_then(|rest| rest.trim().trim_end_matches("dB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no audio in {}:\n{said}", playlist.display()))
}

#[tokio::test]
async fn every_demo_talk_gets_a_generated_video_once() {
    let app = TestApp::spawn().await;
    // `seed-demo --no-videos`: the talks alone.
    assert_eq!(
        demo::seed(&app.pool, TenantId::DEFAULT, false)
            .await
            .unwrap(),
        5
    );
    let bare = demo_videos(&app).await;
    assert!(
        bare.iter().all(|(_, state, ..)| state == "none"),
        "{bare:?}"
    );
    // Seeding with videos gives every talk without one its clip (talks seeded before too).
    assert_eq!(
        demo::seed(&app.pool, TenantId::DEFAULT, true)
            .await
            .unwrap(),
        0
    );
    let queued = demo_videos(&app).await;
    assert_eq!(queued.len(), 5, "{queued:?}");
    // Seeding only queues: every talk waits for its clip, nothing is generated in the seed.
    for (slug, state, ..) in &queued {
        assert_eq!(state, "uploading", "{slug}");
    }
    // Seeding again (a second start) neither adds talks nor queues more clips.
    assert_eq!(
        demo::seed(&app.pool, TenantId::DEFAULT, true)
            .await
            .unwrap(),
        0
    );
    assert_eq!(demo_videos(&app).await.len(), 5);

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
    let deadline = Instant::now() + Duration::from_secs(600);
    let videos = loop {
        let videos = demo_videos(&app).await;
        let settled = videos
            .iter()
            .all(|(_, state, ..)| state == "ready" || state == "failed");
        if settled || Instant::now() > deadline {
            break videos;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = stop.send(true);
    worker.await.unwrap();

    let speech = espeak_installed();
    let mut sources = std::collections::BTreeSet::new();
    for (slug, state, reason, master, probe) in &videos {
        assert_eq!(state, "ready", "{slug}: {reason:?}");
        let probe = probe.as_ref().unwrap();
        let duration: f64 = probe["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((7.5..=15.5).contains(&duration), "{slug}: {duration} s");
        let streams = probe["streams"].as_array().unwrap();
        assert!(
            streams.iter().any(|s| s["codec_type"] == "audio"),
            "{slug} has no audio: {probe}"
        );
        let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
        assert!(video["width"].as_u64().unwrap() <= 854, "{slug}: {video}");
        // What viewers get has sound: the transcoded rendition, not silence.
        let master = app.media_dir.path().join(master.as_ref().unwrap());
        let rendition = std::fs::read_dir(master.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.join("index.m3u8").exists())
            .unwrap()
            .join("index.m3u8");
        let volume = mean_volume(&rendition);
        assert!(volume > -50.0, "{slug}: mean volume {volume} dB");
        // Each talk has its own clip (its title, and its own words when spoken).
        sources.insert(probe["format"]["size"].as_str().unwrap().to_owned());
    }
    if speech {
        assert_eq!(sources.len(), 5, "the clips are not distinct: {sources:?}");
    }

    // A restart seeds again: nothing is regenerated, duplicated or queued.
    let jobs = job_count(&app).await;
    assert_eq!(
        demo::seed(&app.pool, TenantId::DEFAULT, true)
            .await
            .unwrap(),
        0
    );
    let after = demo_videos(&app).await;
    assert_eq!(after.len(), 5);
    assert!(after.iter().all(|(_, state, ..)| state == "ready"));
    assert_eq!(job_count(&app).await, jobs);
}
