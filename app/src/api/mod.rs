//! Server functions: the UI's typed calls into the server, one module per area.

pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod compute;
pub mod jobs;
pub mod library;
pub mod live;
pub mod platform_events;
pub mod studio;
pub mod subtitle_editor;
pub mod talks;
pub mod talks_editor;

pub use talks::{CATALOG_PAGE_SIZE, get_talk, load_catalog, speaker_page};
