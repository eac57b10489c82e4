//! The video state machine. The database enforces the same transitions with a trigger
//! (migrations/…_schema_v1.sql); both must change together.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VideoState {
    /// Chunks are still arriving.
    Uploading,
    /// The source is complete and a transcode job owns it.
    Processing,
    /// Every rendition is written; the video can be watched.
    Ready,
    /// Upload or transcode failed; a reason is recorded and a retry moves it back to processing.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a video cannot go from {from} to {to}")]
pub struct VideoStateError {
    pub from: VideoState,
    pub to: VideoState,
}

impl VideoState {
    pub const ALL: [VideoState; 4] = [
        VideoState::Uploading,
        VideoState::Processing,
        VideoState::Ready,
        VideoState::Failed,
    ];

    /// The name used in Postgres (`video_state` enum) and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoState::Uploading => "uploading",
            VideoState::Processing => "processing",
            VideoState::Ready => "ready",
            VideoState::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<VideoState> {
        VideoState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether `self → to` is a legal transition.
    ///
    /// Ready videos may be re-processed (a new ladder) and failed ones retried; nothing ever
    /// goes back to uploading, because the source is immutable once complete.
    pub fn can_become(self, to: VideoState) -> bool {
        use VideoState::*;
        matches!(
            (self, to),
            (Uploading, Processing)
                | (Uploading, Failed)
                | (Processing, Ready)
                | (Processing, Failed)
                | (Failed, Processing)
                | (Ready, Processing)
        )
    }

    pub fn transition(self, to: VideoState) -> Result<VideoState, VideoStateError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(VideoStateError { from: self, to })
        }
    }
}

impl std::fmt::Display for VideoState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in VideoState::ALL {
            assert_eq!(VideoState::parse(state.as_str()), Some(state));
        }
        assert_eq!(VideoState::parse("READY"), None);
    }

    #[test]
    fn the_happy_path_is_legal() {
        let s = VideoState::Uploading;
        let s = s.transition(VideoState::Processing).unwrap();
        let s = s.transition(VideoState::Ready).unwrap();
        assert_eq!(s, VideoState::Ready);
    }

    #[test]
    fn nothing_returns_to_uploading_and_no_state_loops_on_itself() {
        for from in VideoState::ALL {
            assert!(
                !from.can_become(VideoState::Uploading),
                "{from} -> uploading"
            );
            assert!(!from.can_become(from), "{from} -> {from}");
        }
    }

    #[test]
    fn failed_videos_can_be_retried_but_not_marked_ready_directly() {
        assert!(VideoState::Failed.can_become(VideoState::Processing));
        let err = VideoState::Failed
            .transition(VideoState::Ready)
            .unwrap_err();
        assert_eq!(err.to_string(), "a video cannot go from failed to ready");
    }
}
