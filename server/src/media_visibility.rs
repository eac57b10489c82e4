//! Which videos' outputs `/media` may serve to anyone: those whose talk is published (its
//! `published_at` has passed). A player fetches a segment every few seconds, so the answer is
//! kept in-process for [`VISIBILITY_TTL`]: a segment costs a hash lookup, and a video costs one
//! primary-key query per TTL and server. Publishing shows within the TTL (a scheduled time is
//! kept and compared on each request, so it is exact); unpublishing too, except in caches
//! downstream that already hold a public copy (a CDN), which keep it until its `max-age`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_store::{PgPool, StoreError, videos};
use time::OffsetDateTime;
use uuid::Uuid;

/// How long an answer is reused by default.
pub const VISIBILITY_TTL: Duration = Duration::from_secs(5);
/// At most this many videos are remembered; beyond it expired answers go, then all.
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    looked_up: Instant,
    access: MediaAccess,
}

/// What the database says of one id's media.
#[derive(Debug, Clone, Copy)]
struct MediaAccess {
    public_since: Option<OffsetDateTime>,
    /// A video still transcoding.
    processing: bool,
}

/// What `/media` may do with one video's outputs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visibility {
    /// Anyone may fetch them.
    pub public: bool,
    /// The video is still transcoding: its playlists grow (served `no-cache`).
    pub processing: bool,
}

pub struct MediaVisibility {
    ttl: Duration,
    entries: Mutex<HashMap<(Uuid, Uuid), Entry>>,
}

impl Default for MediaVisibility {
    fn default() -> MediaVisibility {
        MediaVisibility::with_ttl(VISIBILITY_TTL)
    }
}

impl MediaVisibility {
    pub fn new() -> MediaVisibility {
        MediaVisibility::default()
    }

    /// Answers kept for `ttl` (zero: every request asks the database).
    pub fn with_ttl(ttl: Duration) -> MediaVisibility {
        MediaVisibility {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether anyone may fetch the outputs of `video` of `tenant` now.
    pub async fn is_public(
        &self,
        pool: &PgPool,
        tenant: Uuid,
        video: Uuid,
    ) -> Result<bool, StoreError> {
        Ok(self.lookup(pool, tenant, video).await?.public)
    }

    /// Whether anyone may fetch the outputs of `video` of `tenant` now, and whether it is
    /// still transcoding.
    pub async fn lookup(
        &self,
        pool: &PgPool,
        tenant: Uuid,
        video: Uuid,
    ) -> Result<Visibility, StoreError> {
        let key = (tenant, video);
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .get(&key)
                .filter(|entry| entry.looked_up.elapsed() < self.ttl)
                .map(|entry| entry.access)
        };
        let access = match cached {
            Some(access) => access,
            None => {
                let access = MediaAccess {
                    public_since: videos::public_since(pool, TenantId(tenant), video).await?,
                    processing: videos::is_processing(pool, TenantId(tenant), video).await?,
                };
                self.remember(key, access);
                access
            }
        };
        Ok(Visibility {
            public: access
                .public_since
                .is_some_and(|since| since <= OffsetDateTime::now_utc()),
            processing: access.processing,
        })
    }

    fn remember(&self, key: (Uuid, Uuid), access: MediaAccess) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.looked_up.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                looked_up: Instant::now(),
                access,
            },
        );
    }
}
