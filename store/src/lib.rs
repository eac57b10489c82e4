//! Postgres and object storage for Ferrotape: configuration shared by both binaries, the embedded
//! PostgreSQL cluster, the connection pool and migrations, repositories, and local media storage.
//!
//! Nothing here knows about HTTP or the UI; `server` and `worker` build on it.

pub mod accounts;
pub mod analytics;
pub mod analytics_reports;
pub mod analytics_rollups;
pub mod api_keys;
pub mod compute_ledger;
pub mod config;
pub mod db;
pub mod embedded;
pub mod error;
pub mod import_policy;
pub mod imports;
pub mod jobs;
pub mod library;
pub mod live;
pub mod mail;
pub mod media;
pub mod platform_events;
pub mod probe_copy;
pub mod retention;
pub mod s3;
pub mod speakers;
pub mod startup;
pub mod studio_talks;
pub mod subtitle_editing;
pub mod subtitles;
pub mod tags;
pub mod talks;
pub mod telemetry;
pub mod tenants;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod uploads;
pub mod videos;

pub use error::StoreError;
pub use sqlx::PgPool;
