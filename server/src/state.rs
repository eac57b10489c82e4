//! The state every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use ferrotape_accounts::Accounts;
use ferrotape_store::PgPool;
use ferrotape_store::media::{MediaStore, OpenedMedia};
use ferrotape_worker::MediaTools;

use leptos::prelude::LeptosOptions;

use crate::analytics::Analytics;
use crate::job_events::JobEvents;
use crate::media_visibility::MediaVisibility;
use crate::metrics_access::MetricsAccess;
use crate::page_cache::PageCache;
use crate::platform_events::PlatformEvents;
use crate::settings::{HttpSettings, UploadSettings};
use crate::video_events::VideoEvents;

/// What every handler and middleware shares. Cloned for each of them on every request, so it is
/// one `Arc` (a clone is one counter increment, not one per field, and futures holding it stay
/// small); the fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
    pub leptos_options: LeptosOptions,
    pub db: PgPool,
    /// Where uploads and transcode outputs are stored.
    pub media: Arc<dyn MediaStore>,
    /// The same storage, for `/media/…`: local files are served directly, S3 objects streamed.
    pub served_media: OpenedMedia,
    pub tools: MediaTools,
    pub uploads: UploadSettings,
    /// Where URL imports may connect and how large and long they may be (the API's check;
    /// workers apply the same policy to every connection).
    pub imports: Arc<ferrotape_store::import_policy::ImportPolicy>,
    pub accounts: Accounts,
    pub http: Arc<HttpSettings>,
    pub job_events: Arc<JobEvents>,
    pub video_events: Arc<VideoEvents>,
    /// New platform events, for the admins' event streams.
    pub platform_events: Arc<PlatformEvents>,
    /// Recent renders of public pages for anonymous viewers.
    pub page_cache: Arc<PageCache>,
    /// Local media files `/media` keeps in memory.
    pub media_files: Arc<crate::media_files::MediaFiles>,
    /// Which videos `/media` serves to anyone (cached answers).
    pub media_visibility: Arc<MediaVisibility>,
    /// Which tenant a host name belongs to (cached answers, used while the database is away).
    pub host_tenants: Arc<crate::host_tenants::HostTenants>,
    /// Who may read /metrics.
    pub metrics_access: Arc<MetricsAccess>,
    /// The player's beacons on their way to the database.
    pub analytics: Arc<Analytics>,
    /// Who may call the ingest's webhooks, and their rate limit.
    pub live_hooks: Arc<crate::api::live_hooks::LiveHooks>,
    /// The live transcoder, when pushes can be read back (`FERROTAPE_LIVE_PULL` or the
    /// supervised ingest).
    pub live_transcoders: Option<Arc<crate::live::transcoder::LiveTranscoders>>,
    /// Who watches which live stream now (counted here, stored every 10 s).
    pub live_viewers: Arc<crate::live::viewers::LiveViewers>,
    /// Where publishers push, for the stream studio (`None`: an ingest this server does not
    /// know the address of).
    pub live_ingest: Option<ferrotape_model::live::IngestAddress>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}
