//! Platform events: what happened to a tenant's videos (uploaded, transcoding, ready, viewed,
//! failed), as the append-only `platform_events` table records them and the admin list, the
//! event stream and the dashboards show them. The names are the table's `kind` values.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlatformEventKind {
    /// An upload (or import) was accepted: its source is stored and probed.
    VidUpload,
    /// An upload (or import) was refused: not playable, or the import failed.
    VidUploadFailed,
    /// A worker started a transcode attempt.
    VidTranscode,
    /// A transcode ended without finishing (its last attempt failed, or it was cancelled).
    VidTranscodeFailed,
    /// The video's final renditions are published.
    VidReady,
    /// A view (one play attempt), written by the analytics ingestion.
    VidView,
    /// Defined for the coming live streaming; nothing records it yet.
    VidLive,
    /// Defined for the coming live streaming; nothing records it yet.
    VidLiveEnded,
}

impl PlatformEventKind {
    pub const ALL: [PlatformEventKind; 8] = [
        PlatformEventKind::VidUpload,
        PlatformEventKind::VidUploadFailed,
        PlatformEventKind::VidTranscode,
        PlatformEventKind::VidTranscodeFailed,
        PlatformEventKind::VidReady,
        PlatformEventKind::VidView,
        PlatformEventKind::VidLive,
        PlatformEventKind::VidLiveEnded,
    ];

    /// The stored name (`VID_UPLOAD`).
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformEventKind::VidUpload => "VID_UPLOAD",
            PlatformEventKind::VidUploadFailed => "VID_UPLOAD_FAILED",
            PlatformEventKind::VidTranscode => "VID_TRANSCODE",
            PlatformEventKind::VidTranscodeFailed => "VID_TRANSCODE_FAILED",
            PlatformEventKind::VidReady => "VID_READY",
            PlatformEventKind::VidView => "VID_VIEW",
            PlatformEventKind::VidLive => "VID_LIVE",
            PlatformEventKind::VidLiveEnded => "VID_LIVE_ENDED",
        }
    }

    pub fn parse(name: &str) -> Option<PlatformEventKind> {
        PlatformEventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            PlatformEventKind::VidUpload => "Upload",
            PlatformEventKind::VidUploadFailed => "Upload failed",
            PlatformEventKind::VidTranscode => "Transcode started",
            PlatformEventKind::VidTranscodeFailed => "Transcode failed",
            PlatformEventKind::VidReady => "Ready",
            PlatformEventKind::VidView => "View",
            PlatformEventKind::VidLive => "Live",
            PlatformEventKind::VidLiveEnded => "Live ended",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(
            self,
            PlatformEventKind::VidUploadFailed | PlatformEventKind::VidTranscodeFailed
        )
    }
}

/// One recorded event. `id` orders them (it is also the event stream's `id:`, so a
/// reconnecting `EventSource` resumes after it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformEvent {
    pub id: i64,
    pub kind: PlatformEventKind,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub video_id: Option<Uuid>,
    pub talk_id: Option<Uuid>,
    /// A few facts of the event: `name`, `size_bytes`, `duration_ms` (uploads), `job`,
    /// `attempt`, `resource_class` (transcodes), `encoder` (ready), `reason` (failures).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

impl PlatformEvent {
    /// The detail in words ("attempt 2 on gpu", the failure's reason, the file's name).
    pub fn summary(&self) -> String {
        let text = |key: &str| self.detail.get(key).and_then(|v| v.as_str());
        let number = |key: &str| self.detail.get(key).and_then(|v| v.as_i64());
        match self.kind {
            PlatformEventKind::VidUploadFailed | PlatformEventKind::VidTranscodeFailed => {
                text("reason").unwrap_or_default().to_owned()
            }
            PlatformEventKind::VidTranscode => match (number("attempt"), text("resource_class")) {
                (Some(attempt), Some(class)) => format!("attempt {attempt} on {class}"),
                (Some(attempt), None) => format!("attempt {attempt}"),
                _ => String::new(),
            },
            PlatformEventKind::VidUpload => text("name").unwrap_or_default().to_owned(),
            PlatformEventKind::VidReady => text("encoder")
                .map(|e| format!("encoded with {e}"))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// One page of events, newest first; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformEventPage {
    pub items: Vec<PlatformEvent>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_their_stored_names() {
        for kind in PlatformEventKind::ALL {
            assert_eq!(PlatformEventKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(PlatformEventKind::parse("vid_upload"), None);
        assert_eq!(PlatformEventKind::parse("VID_"), None);
    }

    #[test]
    fn the_summary_says_what_the_detail_holds() {
        let event = |kind, detail| PlatformEvent {
            id: 1,
            kind,
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            video_id: None,
            talk_id: None,
            detail,
        };
        let started = event(
            PlatformEventKind::VidTranscode,
            serde_json::json!({"attempt": 2, "resource_class": "gpu"}),
        );
        assert_eq!(started.summary(), "attempt 2 on gpu");
        let failed = event(
            PlatformEventKind::VidUploadFailed,
            serde_json::json!({"reason": "not a video"}),
        );
        assert_eq!(failed.summary(), "not a video");
        assert_eq!(
            event(PlatformEventKind::VidView, serde_json::json!({})).summary(),
            ""
        );
    }
}
