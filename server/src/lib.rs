//! The `ferrotape` server: configuration, the axum router (SSR pages, server functions, health),
//! and the embedded mode (a private PostgreSQL and an in-process worker).

// The watch page's view types are deep; laying them out in release builds needs more than
// the default 128.
#![recursion_limit = "512"]

pub mod accounts_setup;
pub mod admin;
pub mod analytics;
pub mod api;
pub mod assets;
pub mod auth;
pub mod authority;
pub mod cli;
pub mod connections;
pub mod csrf;
pub mod database;
pub mod demo;
pub mod embed;
pub mod error;
pub mod health;
pub mod host_tenants;
pub mod images;
pub mod import;
pub mod job_events;
pub mod live;
pub mod media;
pub mod media_files;
pub mod media_visibility;
pub mod metrics;
pub mod metrics_access;
pub mod page_cache;
pub mod periodic;
pub mod pg_listen;
pub mod platform_events;
pub mod request_context;
pub mod router;
pub mod security_headers;
pub mod seo;
pub mod serve;
pub mod session;
pub mod settings;
pub mod state;
pub mod video_events;
