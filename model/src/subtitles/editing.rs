//! What the subtitle editor and the REST API exchange about a talk's tracks: a track's
//! summary (the list, the answer to every change), the track with its cues (what the editor
//! edits), and the editor page's data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Cue, TrackKind};

/// One track of a talk's video, without its cues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackSummary {
    pub id: Uuid,
    /// BCP 47.
    pub language: String,
    /// "English (auto)".
    pub label: String,
    pub origin: TrackKind,
    /// `draft` (never published), `transcribing`, `ready` (published) or `failed`.
    pub state: String,
    /// The optimistic-concurrency token: every change of the cues, and every publication,
    /// raises it (the ETag of the track).
    pub revision: i32,
    /// The revision whose files players get; `None` before the first publication. A
    /// revision above it holds changes not published yet.
    pub published_revision: Option<i32>,
    /// Whether a person changed the cues (a publication then labels the track `human`, and
    /// a new transcription leaves it alone).
    pub edited: bool,
    /// How many cues it has (`cue_count`, so a track with its cues can carry both).
    #[serde(default)]
    pub cue_count: u32,
}

impl TrackSummary {
    /// Whether the cues changed since the last publication (or were never published).
    pub fn unpublished_changes(&self) -> bool {
        self.published_revision != Some(self.revision)
    }
}

/// A track with its cues (and their words), as the editor loads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditableTrack {
    #[serde(flatten)]
    pub summary: TrackSummary,
    pub cues: Vec<Cue>,
}

/// The tracks of a talk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackList {
    pub tracks: Vec<TrackSummary>,
}

/// A save of the editor: every cue of the track, in display order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CueSave {
    pub cues: Vec<Cue>,
}

/// What the subtitle editor page needs besides the tracks themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleEditorData {
    pub talk_id: Uuid,
    pub title: String,
    pub duration_ms: u64,
    /// The video's master playlist, signed for preview (the talk need not be public).
    pub master_url: Option<String>,
    pub poster_url: Option<String>,
    /// `{"rate":100,"peaks":[…]}`, signed; `None` until a transcription stored it.
    pub waveform_url: Option<String>,
    pub tracks: Vec<TrackSummary>,
}
