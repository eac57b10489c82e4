//! The server's integration tests, one module per area, all linked into one test binary: one
//! link instead of thirty keeps the build fast and target/ small (each binary was ~750 MB).

mod common;

mod accounts;
mod analytics_durability;
mod analytics_ingest;
mod analytics_reports;
mod assets;
mod bundles;
mod catalog_search;
mod compute_ledger;
mod demo_videos;
mod embedded_mode;
mod held_mail_log;
mod host_header;
mod hostile_inputs;
mod hostile_media;
mod images;
mod imports;
mod jobs;
mod library;
mod live;
mod media;
mod metrics;
mod page_cache;
mod pages;
mod platform_events;
mod playable_while_transcoding;
mod rest_api;
mod s3_uploads;
mod schema;
mod security_headers;
mod seo;
mod studio_editor;
mod studio_events;
mod studio_talks;
mod subtitle_editor;
mod subtitles;
mod tenancy;
mod transcode_attempts;
mod uploads;
