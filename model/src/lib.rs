//! Shared types and pure logic used by both the browser (wasm) and the server.
//!
//! No I/O and no Leptos here: everything in this crate is plain data and plain functions,
//! tested with `cargo test`.

pub mod account;
pub mod admin;
pub mod analytics;
pub mod api;
pub mod catalog;
pub mod compute;
pub mod hls;
pub mod hls_read;
pub mod jobs;
pub mod ladder;
pub mod language;
pub mod library;
pub mod live;
pub mod live_hls;
pub mod platform_events;
pub mod seo;
pub mod slug;
pub mod studio;
pub mod subtitles;
pub mod talk;
pub mod tenant;
pub mod time_format;
pub mod upload;
pub mod video;

pub use account::{AuthFailure, Role, SessionUser};
pub use catalog::{
    CatalogHit, CatalogQuery, CatalogResults, PlayableVideo, SpeakerRef, TagRef, TalkDetail,
    TalkSummary, WatchData,
};
pub use tenant::TenantId;
pub use video::{VideoState, VideoStateError};
