//! Live streaming in the server: the RTMP ingest it supervises, the live transcoder that
//! turns each allowed push into HLS, the playlists viewers load, the live viewer counts, the
//! recordings that become draft talks, and the reconnect window's expiry. The ingest's webhooks are in
//! `api::live_hooks`, the studio's resources in `api::live_streams`, the rows and the state
//! machine in `store::live`.

pub mod ingest;
pub mod playlists;
pub mod reconnects;
pub mod recordings;
pub mod transcoder;
pub mod viewers;
