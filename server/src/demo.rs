//! `ferrotape seed-demo`: a few demo talks so a new install has something to show.

use ferrotape_model::TenantId;
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

/// Inserts the demo talks that are not there yet; returns how many were added.
pub async fn seed(pool: &PgPool, tenant: TenantId) -> Result<usize, StoreError> {
    let mut added = 0;
    let published = datetime!(2026 - 10 - 01 12:00 UTC);
    for (index, demo) in DEMO_TALKS.iter().enumerate() {
        if talks::slug_taken(pool, tenant, demo.slug).await? {
            continue;
        }
        let mut tx = pool.begin().await?;
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
        tx.commit().await?;
        added += 1;
    }
    Ok(added)
}
