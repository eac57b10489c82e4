//! What the catalog and talk pages show. Plain data that crosses the server-function boundary.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::VideoState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerRef {
    pub slug: String,
    pub name: String,
}

/// One card in the catalog grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkSummary {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    /// In the order the editor listed them.
    pub speakers: Vec<SpeakerRef>,
    /// Known once a video has been probed.
    pub duration_seconds: Option<u64>,
    pub recorded_on: Option<Date>,
    pub published_at: OffsetDateTime,
}

/// Everything the talk page needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkDetail {
    pub summary: TalkSummary,
    pub description: String,
    /// The state of the talk's newest video, if it has one.
    pub video_state: Option<VideoState>,
}

impl TalkSummary {
    /// "Ada Lovelace, Grace Hopper and Alan Turing".
    pub fn speaker_names(&self) -> String {
        let names: Vec<&str> = self.speakers.iter().map(|s| s.name.as_str()).collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_with(names: &[&str]) -> TalkSummary {
        TalkSummary {
            id: Uuid::nil(),
            slug: "t".into(),
            title: "T".into(),
            speakers: names
                .iter()
                .map(|n| SpeakerRef {
                    slug: n.to_lowercase(),
                    name: (*n).into(),
                })
                .collect(),
            duration_seconds: None,
            recorded_on: None,
            published_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn speaker_names_read_naturally() {
        assert_eq!(summary_with(&[]).speaker_names(), "");
        assert_eq!(summary_with(&["Ada"]).speaker_names(), "Ada");
        assert_eq!(
            summary_with(&["Ada", "Grace"]).speaker_names(),
            "Ada and Grace"
        );
        assert_eq!(
            summary_with(&["Ada", "Grace", "Alan"]).speaker_names(),
            "Ada, Grace and Alan"
        );
    }
}
