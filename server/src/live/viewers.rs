//! Live viewer counts: the live player says "still watching" every 10 s
//! (`POST /live/{stream}/watching`, answered with the count); a viewer is one (network, user
//! agent, signed-in user) hash seen within the last 30 s, so reloads and several tabs count
//! once. The hashes live in this process's memory only (they are never written anywhere);
//! every 10 s the counts go to `live_streams.viewers` (and the session's peak), which the
//! studio and the analytics dashboards read.
//!
//! Counts are per server process: behind several replicas each counts the viewers it serves,
//! and the stored figure is the last replica's (README, "Viewer counts").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ferrotape_accounts::RequestContext;
use ferrotape_model::TenantId;
use ferrotape_model::live::LiveState;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// A viewer unseen for this long no longer counts.
pub const SEEN_WITHIN: Duration = Duration::from_secs(30);
/// How often the live player says it is still watching.
pub const PING_EVERY: Duration = Duration::from_secs(10);
/// How often the counts are written to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// At most this many viewers are told apart per stream: past it, new hashes are not
/// recorded (the count stays at the cap), so made-up user agents cannot exhaust memory.
pub const MAX_VIEWERS_PER_STREAM: usize = 100_000;

/// Who is watching which stream, by hash, with when each was last seen.
#[derive(Default)]
pub struct LiveViewers {
    seen: Mutex<HashMap<Uuid, Audience>>,
}

/// One stream's viewers.
struct Audience {
    last_seen: HashMap<[u8; 16], Instant>,
    /// When viewers past their window were last forgotten (at most once a second, so a
    /// ping costs no scan of a large audience).
    pruned_at: Instant,
}

impl Audience {
    fn prune(&mut self, now: Instant) {
        self.last_seen
            .retain(|_, at| now.saturating_duration_since(*at) < SEEN_WITHIN);
        self.pruned_at = now;
    }
}

impl LiveViewers {
    /// Records that `viewer` watches `stream` at `now`; returns the stream's count.
    pub fn watching(&self, stream: Uuid, viewer: [u8; 16], now: Instant) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let audience = seen.entry(stream).or_insert_with(|| Audience {
            last_seen: HashMap::new(),
            pruned_at: now,
        });
        if now.saturating_duration_since(audience.pruned_at) >= Duration::from_secs(1) {
            audience.prune(now);
        }
        let known = audience.last_seen.contains_key(&viewer);
        if known || audience.last_seen.len() < MAX_VIEWERS_PER_STREAM {
            audience.last_seen.insert(viewer, now);
        }
        audience.last_seen.len()
    }

    /// Every stream's count at `now`, forgetting viewers (and streams) no longer seen. A
    /// stream whose last viewer just left is reported once with 0.
    pub fn counts(&self, now: Instant) -> Vec<(Uuid, usize)> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts = Vec::with_capacity(seen.len());
        seen.retain(|stream, audience| {
            audience.prune(now);
            counts.push((*stream, audience.last_seen.len()));
            !audience.last_seen.is_empty()
        });
        counts
    }

    /// Writes the counts every [`FLUSH_EVERY`] until the server stops.
    pub async fn run(
        self: std::sync::Arc<Self>,
        pool: ferrotape_store::PgPool,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        crate::periodic::every(FLUSH_EVERY, stop, || self.flush(&pool)).await;
    }

    async fn flush(&self, pool: &ferrotape_store::PgPool) {
        let counts = self.counts(Instant::now());
        if counts.is_empty() {
            return;
        }
        if let Err(err) = ferrotape_store::live::store_viewer_counts(pool, &counts).await {
            tracing::warn!(%err, "live viewer counts not stored this time");
        }
    }
}

/// The hash a viewer is told apart by: the client's network and user agent, and the user
/// when signed in (two people behind one address are two viewers once signed in).
pub fn viewer_key(
    tenant: TenantId,
    client: std::net::IpAddr,
    headers: &HeaderMap,
    user: Option<Uuid>,
) -> [u8; 16] {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut hasher = Sha256::new();
    hasher.update(b"ferrotape live viewer");
    hasher.update(tenant.0.as_bytes());
    hasher.update(
        ferrotape_accounts::limits::network_of(client)
            .to_string()
            .as_bytes(),
    );
    hasher.update([0]);
    hasher.update(agent.as_bytes());
    if let Some(user) = user {
        hasher.update(user.as_bytes());
    }
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/live/{stream}/watching", post(watching))
}

/// "Still watching": counts the caller and answers `{"viewers": n}` (`no-store`). Only a
/// stream of the request's tenant that is live (or reconnecting) counts anyone.
async fn watching(
    State(state): State<AppState>,
    axum::Extension(tenant): axum::Extension<TenantId>,
    axum::Extension(context): axum::Extension<RequestContext>,
    claims: Option<axum::Extension<ferrotape_accounts::AccessClaims>>,
    headers: HeaderMap,
    Path(stream): Path<String>,
) -> Result<Response, ApiError> {
    let stream: Uuid = stream.parse().map_err(|_| ApiError::NotFound)?;
    let (live, _) = ferrotape_store::live::viewing_state(&state.db, tenant, stream)
        .await?
        .ok_or(ApiError::NotFound)?;
    let viewers = if matches!(live, LiveState::Live | LiveState::Reconnecting) {
        let user = claims.map(|c| c.0.sub);
        let key = viewer_key(tenant, context.client.ip, &headers, user);
        state.live_viewers.watching(stream, key, Instant::now())
    } else {
        0
    };
    let mut response = axum::Json(serde_json::json!({ "viewers": viewers })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_counts_once_within_the_window_and_leaves_after_it() {
        let viewers = LiveViewers::default();
        let stream = Uuid::from_u128(1);
        let start = Instant::now();
        assert_eq!(viewers.watching(stream, [1; 16], start), 1);
        // The same viewer again (a reload, a second tab): still one.
        assert_eq!(viewers.watching(stream, [1; 16], start + PING_EVERY), 1);
        assert_eq!(viewers.watching(stream, [2; 16], start + PING_EVERY), 2);
        // Another stream is counted apart.
        assert_eq!(viewers.watching(Uuid::from_u128(2), [1; 16], start), 1);
        // Both were last seen at +10 s: at +41 s neither counts.
        let later = start + PING_EVERY + SEEN_WITHIN + Duration::from_secs(1);
        let counts: HashMap<Uuid, usize> = viewers.counts(later).into_iter().collect();
        assert_eq!(counts.get(&stream), Some(&0), "reported once at 0");
        let counts: HashMap<Uuid, usize> = viewers.counts(later).into_iter().collect();
        assert!(counts.is_empty(), "then forgotten: {counts:?}");
    }

    #[test]
    fn counts_drop_viewers_as_their_30_seconds_pass() {
        let viewers = LiveViewers::default();
        let stream = Uuid::from_u128(1);
        let start = Instant::now();
        viewers.watching(stream, [1; 16], start);
        viewers.watching(stream, [2; 16], start + Duration::from_secs(20));
        let at = start + Duration::from_secs(35);
        assert_eq!(viewers.counts(at), vec![(stream, 1)]);
    }

    #[test]
    fn past_the_cap_new_viewers_are_not_recorded() {
        let viewers = LiveViewers::default();
        let stream = Uuid::from_u128(1);
        let now = Instant::now();
        for i in 0..MAX_VIEWERS_PER_STREAM as u32 {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&i.to_le_bytes());
            viewers.watching(stream, key, now);
        }
        assert_eq!(
            viewers.watching(stream, [0xff; 16], now),
            MAX_VIEWERS_PER_STREAM
        );
    }

    #[test]
    fn the_key_tells_signed_in_users_apart_behind_one_address() {
        let tenant = TenantId(Uuid::from_u128(9));
        let context: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let headers = HeaderMap::new();
        let anonymous = viewer_key(tenant, context, &headers, None);
        assert_eq!(anonymous, viewer_key(tenant, context, &headers, None));
        let ada = viewer_key(tenant, context, &headers, Some(Uuid::from_u128(1)));
        let bob = viewer_key(tenant, context, &headers, Some(Uuid::from_u128(2)));
        assert_ne!(ada, bob);
        assert_ne!(ada, anonymous);
    }
}
