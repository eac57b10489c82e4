//! The state every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use ferrotape_accounts::Accounts;
use ferrotape_store::PgPool;
use ferrotape_store::media::LocalMedia;
use leptos::prelude::LeptosOptions;

use crate::job_events::JobEvents;
use crate::request_context::HttpSettings;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: PgPool,
    pub media: LocalMedia,
    pub accounts: Accounts,
    pub http: Arc<HttpSettings>,
    pub job_events: Arc<JobEvents>,
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
