//! Which videos' outputs `/media` may serve to anyone: those whose talk is published (its
//! `published_at` has passed). A player fetches a segment every few seconds, so the answer is
//! kept in-process for [`VISIBILITY_TTL`]: a segment costs a hash lookup, and a video costs one
//! primary-key query per TTL and server. Publishing shows within the TTL (a scheduled time is
//! kept and compared on each request, so it is exact); unpublishing too, except in caches
//! downstream that already hold a public copy (a CDN), which keep it until its `max-age`.
//! A popular video's answer expires for all its viewers at once: the requests that find it
//! expired wait for one lookup instead of each asking the database (a thousand viewers would
//! queue for the pool's few connections, and some time out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_store::{PgPool, StoreError, videos};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use time::OffsetDateTime;
use uuid::Uuid;

/// How long an answer is reused by default.
pub const VISIBILITY_TTL: Duration = Duration::from_secs(5);
/// At most this many videos are remembered; beyond it expired answers go, then all.
const MAX_ENTRIES: usize = 50_000;

type Key = (Uuid, Uuid);

/// A lookup every request for its video awaits; its error shared as it is.
type Pending = Shared<BoxFuture<'static, Result<MediaAccess, Arc<StoreError>>>>;

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
    entries: Mutex<HashMap<Key, Entry>>,
    /// Lookups under way, one per video.
    pending: Mutex<HashMap<Key, Pending>>,
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
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Whether anyone may fetch the outputs of `video` of `tenant` now.
    pub async fn is_public(
        &self,
        pool: &PgPool,
        tenant: Uuid,
        video: Uuid,
    ) -> Result<bool, Arc<StoreError>> {
        Ok(self.lookup(pool, tenant, video).await?.public)
    }

    /// Whether anyone may fetch the outputs of `video` of `tenant` now, and whether it is
    /// still transcoding.
    pub async fn lookup(
        &self,
        pool: &PgPool,
        tenant: Uuid,
        video: Uuid,
    ) -> Result<Visibility, Arc<StoreError>> {
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
            None => self.look_up_once(pool, key).await?,
        };
        Ok(Visibility {
            public: access
                .public_since
                .is_some_and(|since| since <= OffsetDateTime::now_utc()),
            processing: access.processing,
        })
    }

    /// Asks the database, or joins the request already asking it for the same video.
    async fn look_up_once(&self, pool: &PgPool, key: Key) -> Result<MediaAccess, Arc<StoreError>> {
        let lookup = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .entry(key)
                .or_insert_with(|| {
                    let pool = pool.clone();
                    async move {
                        let (tenant, video) = key;
                        Ok(MediaAccess {
                            public_since: videos::public_since(&pool, TenantId(tenant), video)
                                .await?,
                            processing: videos::is_processing(&pool, TenantId(tenant), video)
                                .await?,
                        })
                    }
                    .map(|looked_up: Result<_, StoreError>| looked_up.map_err(Arc::new))
                    .boxed()
                    .shared()
                })
                .clone()
        };
        let looked_up = lookup.clone().await;
        // The first waiter back keeps the answer (an error is not kept: the next request asks
        // again), then lets the next expiry start a lookup of its own.
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending
            .get(&key)
            .is_some_and(|under_way| under_way.ptr_eq(&lookup))
        {
            if let Ok(access) = &looked_up {
                self.remember(key, *access);
            }
            pending.remove(&key);
        }
        looked_up
    }

    fn remember(&self, key: Key, access: MediaAccess) {
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
