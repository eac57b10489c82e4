//! `ferrotape seed-demo`: a few demo talks so a new install has something to show, each with
//! a short generated clip: a `demo.video` job per talk (`worker::demo_video`) makes it and
//! hands it to the transcode, in the background once a worker runs (the server's own in the
//! embedded mode). Until then the talk's watch page says its video is processing.

use ferrotape_model::TenantId;
use ferrotape_store::imports::{self, DEMO_VIDEO_JOB, SourceJob};
use ferrotape_store::talks::{self, NewTalk};
use ferrotape_store::{PgPool, StoreError};
use time::macros::{date, datetime};

struct DemoTalk {
    slug: &'static str,
    title: &'static str,
    description: &'static str,
    recorded_on: time::Date,
    speakers: &'static [(&'static str, &'static str)],
    tags: &'static [(&'static str, &'static str)],
}

const DEMO_TALKS: &[DemoTalk] = &[
    DemoTalk {
        slug: "adaptive-streaming-from-first-principles",
        title: "Adaptive streaming from first principles",
        description: "How HLS and DASH turn one recording into a ladder of renditions, and how a \
                      player picks the right rung for every network.\n\nWith live demos of \
                      bandwidth estimation and buffer-based switching.",
        recorded_on: date!(2026 - 03 - 14),
        speakers: &[("ada-okafor", "Ada Okafor")],
        tags: &[("video", "Video"), ("streaming", "Streaming")],
    },
    DemoTalk {
        slug: "one-decode-many-renditions",
        title: "One decode, many renditions: transcoding at scale",
        description: "Why decoding once and scaling many times beats one encoder per resolution, \
                      and what aligned keyframes buy you.",
        recorded_on: date!(2026 - 04 - 02),
        speakers: &[("lin-zhao", "Lin Zhao"), ("marta-silva", "Marta Silva")],
        tags: &[("video", "Video"), ("performance", "Performance")],
    },
    DemoTalk {
        slug: "captions-for-everyone",
        title: "Captions for everyone with Whisper",
        description: "Automatic subtitles that are good enough to ship, and the editing workflow \
                      that makes them perfect.",
        recorded_on: date!(2026 - 05 - 20),
        speakers: &[("sam-patel", "Sam Patel")],
        tags: &[
            ("accessibility", "Accessibility"),
            ("machine-learning", "Machine learning"),
        ],
    },
    DemoTalk {
        slug: "postgres-is-a-fine-queue",
        title: "Postgres is a fine queue",
        description: "SKIP LOCKED, leases and rescuers: running millions of jobs without adding \
                      another moving part.",
        recorded_on: date!(2026 - 06 - 11),
        speakers: &[
            ("marta-silva", "Marta Silva"),
            ("jonas-berg", "Jonas Berg"),
            ("ada-okafor", "Ada Okafor"),
        ],
        tags: &[("databases", "Databases"), ("performance", "Performance")],
    },
    DemoTalk {
        slug: "accessible-video-players",
        title: "Accessible video players",
        description: "Keyboard shortcuts, screen-reader labels, readable captions and reduced \
                      motion: what WCAG 2.1 AA asks of a player.",
        recorded_on: date!(2026 - 09 - 08),
        speakers: &[("noor-haddad", "Noor Haddad")],
        tags: &[("accessibility", "Accessibility"), ("video", "Video")],
    },
];

/// Inserts the demo talks that are not there yet and, with `videos`, queues a clip for every
/// demo talk without a video; returns how many talks were added. Running it again adds nothing
/// and queues nothing (a talk with a video, in whatever state, keeps it).
pub async fn seed(pool: &PgPool, tenant: TenantId, videos: bool) -> Result<usize, StoreError> {
    let mut added = 0;
    let mut queued = 0;
    let published = datetime!(2026 - 10 - 01 12:00 UTC);
    for (index, demo) in DEMO_TALKS.iter().enumerate() {
        let existing = match talks::id_by_slug(pool, tenant, demo.slug).await {
            Ok(id) => Some(id),
            Err(StoreError::NotFound) => None,
            Err(err) => return Err(err),
        };
        let mut tx = pool.begin().await?;
        let id = if let Some(id) = existing {
            id
        } else {
            let mut speakers = Vec::new();
            for (slug, name) in demo.speakers {
                speakers.push(talks::upsert_speaker(&mut tx, tenant, slug, name).await?);
            }
            let talk = NewTalk {
                slug: demo.slug.to_owned(),
                title: demo.title.to_owned(),
                description: demo.description.to_owned(),
                recorded_on: Some(demo.recorded_on),
                // Spread publication times so the catalog order is stable and meaningful.
                published_at: Some(published + time::Duration::days(index as i64)),
                speakers,
            };
            let id = talks::create_talk(&mut tx, tenant, &talk).await?;
            for (slug, name) in demo.tags {
                let tag = talks::upsert_tag(&mut tx, tenant, slug, name).await?;
                talks::tag_talk(&mut tx, tenant, id, tag).await?;
            }
            added += 1;
            id
        };
        if videos && !imports::talk_has_video(&mut *tx, tenant, id).await? {
            let clip = SourceJob {
                talk: id,
                uploaded_by: None,
                name: &format!("{}.mp4", demo.slug),
                kind: DEMO_VIDEO_JOB,
                payload: serde_json::json!({
                    "title": demo.title,
                    "speech": speech(demo),
                }),
                max_attempts: 3,
            };
            imports::queue_video_job(&mut tx, tenant, &clip).await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    if queued > 0 {
        ferrotape_store::jobs::notify_enqueued(pool, &[DEMO_VIDEO_JOB]).await?;
    }
    Ok(added)
}

/// What the demo clip of `demo` says: its title and the first sentence of its description
/// (a few seconds of speech for the subtitles to transcribe).
fn speech(demo: &DemoTalk) -> String {
    let description = demo
        .description
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let first = description
        .split_inclusive(". ")
        .next()
        .unwrap_or(&description)
        .trim();
    format!("{}. {first}", demo.title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_clip_speaks_the_title_and_the_first_sentence() {
        assert_eq!(
            speech(&DEMO_TALKS[0]),
            "Adaptive streaming from first principles. How HLS and DASH turn one recording \
             into a ladder of renditions, and how a player picks the right rung for every \
             network."
        );
        for demo in DEMO_TALKS {
            // About 15 s of speech at most (espeak-ng at 160 words a minute).
            assert!(
                speech(demo).split_whitespace().count() <= 40,
                "{}",
                demo.slug
            );
        }
    }
}
