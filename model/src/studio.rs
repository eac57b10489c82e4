//! What the studio shows of an editor's videos.

use serde::{Deserialize, Serialize};

use crate::VideoState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudioVideo {
    pub id: uuid::Uuid,
    /// The uploaded file's name.
    pub name: String,
    pub state: VideoState,
    /// 0 to 1 while processing.
    pub progress: f32,
    /// Seconds left while processing, when known.
    pub eta_secs: Option<u32>,
    pub failure_reason: Option<String>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    /// The upload session still taking chunks, while uploading.
    pub upload_id: Option<uuid::Uuid>,
    /// The source is stored, so a failed transcode can be run again.
    #[serde(default)]
    pub can_retry: bool,
    /// Watchable already while processing (every rung has its first segments).
    #[serde(default)]
    pub playable: bool,
    /// `/media/…` URL of the poster, once ready.
    pub poster_url: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The video's caption tracks (filled where the studio shows them: the talk editor).
    #[serde(default)]
    pub captions: Vec<CaptionStatus>,
}

/// One caption track of a video as the studio shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptionStatus {
    /// "English (auto)".
    pub label: String,
    /// `draft` (imported, never published), `transcribing`, `ready` or `failed`.
    pub state: String,
    /// 0 to 1 while transcribing.
    pub progress: f32,
    pub eta_secs: Option<u32>,
    pub failure_reason: Option<String>,
    pub cues: u32,
}

impl CaptionStatus {
    /// "English (auto): transcribing 40 % (about 2 min left)", "English (auto): 12 cues".
    pub fn status_text(&self) -> String {
        let what = match self.state.as_str() {
            "transcribing" => {
                let percent = (self.progress.clamp(0.0, 1.0) * 100.0).floor() as u32;
                match self.eta_secs {
                    Some(secs) => format!("transcribing {percent} % ({} left)", human_secs(secs)),
                    None => format!("transcribing {percent} %"),
                }
            }
            "failed" => format!(
                "failed: {}",
                self.failure_reason
                    .as_deref()
                    .unwrap_or("no reason was recorded")
            ),
            "draft" if self.cues == 1 => "draft of 1 cue, not published".to_owned(),
            "draft" => format!("draft of {} cues, not published", self.cues),
            _ if self.cues == 0 => "no speech heard".to_owned(),
            _ if self.cues == 1 => "1 cue".to_owned(),
            _ => format!("{} cues", self.cues),
        };
        format!("{}: {what}", self.label)
    }
}

impl StudioVideo {
    /// What the state column says, e.g. "Processing 42 % (about 1 min left)".
    pub fn status_text(&self) -> String {
        match self.state {
            // Only an import's download reports progress while uploading.
            VideoState::Uploading if self.progress > 0.0 => {
                let percent = (self.progress.clamp(0.0, 1.0) * 100.0).floor() as u32;
                match self.eta_secs {
                    Some(secs) => format!("Downloading {percent} % ({} left)", human_secs(secs)),
                    None => format!("Downloading {percent} %"),
                }
            }
            VideoState::Uploading => "Uploading".to_owned(),
            VideoState::Processing => {
                let percent = (self.progress.clamp(0.0, 1.0) * 100.0).floor() as u32;
                let playable = if self.playable { ", playable" } else { "" };
                match self.eta_secs {
                    Some(secs) => {
                        format!(
                            "Processing {percent} %{playable} ({} left)",
                            human_secs(secs)
                        )
                    }
                    None => format!("Processing {percent} %{playable}"),
                }
            }
            VideoState::Ready => "Ready".to_owned(),
            VideoState::Failed => "Failed".to_owned(),
        }
    }
}

/// "about 3 min", "12 s".
pub fn human_secs(secs: u32) -> String {
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("about {} min", secs.div_ceil(60))
    } else {
        format!("about {} h {} min", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(state: VideoState, progress: f32, eta: Option<u32>) -> StudioVideo {
        StudioVideo {
            id: uuid::Uuid::nil(),
            name: "a.mp4".into(),
            state,
            progress,
            eta_secs: eta,
            failure_reason: None,
            duration_ms: None,
            size_bytes: None,
            upload_id: None,
            can_retry: false,
            playable: false,
            poster_url: None,
            created_at: String::new(),
            captions: Vec::new(),
        }
    }

    #[test]
    fn status_reads_naturally() {
        assert_eq!(
            video(VideoState::Processing, 0.426, Some(75)).status_text(),
            "Processing 42 % (about 2 min left)"
        );
        assert_eq!(
            video(VideoState::Processing, 1.5, None).status_text(),
            "Processing 100 %"
        );
        assert_eq!(video(VideoState::Ready, 1.0, None).status_text(), "Ready");
        assert_eq!(
            video(VideoState::Uploading, 0.0, None).status_text(),
            "Uploading"
        );
        assert_eq!(
            video(VideoState::Uploading, 0.5, Some(12)).status_text(),
            "Downloading 50 % (12 s left)"
        );
        let playable = StudioVideo {
            playable: true,
            ..video(VideoState::Processing, 0.1, Some(300))
        };
        assert_eq!(
            playable.status_text(),
            "Processing 10 %, playable (about 5 min left)"
        );
        assert_eq!(human_secs(12), "12 s");
        assert_eq!(human_secs(3720), "about 1 h 2 min");
    }
}
