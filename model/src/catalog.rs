//! What the catalog and talk pages show. Plain data that crosses the server-function boundary.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::VideoState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// `/media/…` path of the poster frame, once a video is ready.
    pub poster_url: Option<String>,
}

/// Everything the talk page needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkDetail {
    pub summary: TalkSummary,
    /// The editor's Markdown as stored; the watch page's server function replaces it with its
    /// plain text (for the meta description and JSON-LD) and renders `description_html`.
    pub description: String,
    /// The state of the talk's video, if it has one: `ready` when any of its videos is.
    pub video_state: Option<VideoState>,
    /// What the player needs, once a video is playable (ready, or far enough transcoded).
    pub video: Option<PlayableVideo>,
    pub updated_at: OffsetDateTime,
    /// Chapters in order of time (seek-bar marks, the list under the player, JSON-LD clips).
    #[serde(default)]
    pub chapters: Vec<crate::talk::Chapter>,
    /// Shown in listings; an unlisted talk is reachable by its link only (and not indexed).
    #[serde(default = "listed_by_default")]
    pub listed: bool,
    /// The description's Markdown rendered to sanitised HTML (on the server).
    #[serde(default)]
    pub description_html: String,
    /// The event or series, if any.
    #[serde(default)]
    pub event: String,
    /// BCP 47 tag of the spoken language, if known.
    #[serde(default)]
    pub language: Option<String>,
    /// What is said, line by line, from the talk's best caption track (a person's before the
    /// machine's, the talk's language first); empty without captions.
    #[serde(default)]
    pub transcript: Vec<TranscriptLine>,
}

/// One line of a transcript: a caption cue's text (one line) and when it is said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

fn listed_by_default() -> bool {
    true
}

/// A playable video as the player sees it: a ready one, or one still transcoding whose first
/// segments are out. Paths are site-relative (`/media/…`), served by this server whatever the
/// storage backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayableVideo {
    pub id: Uuid,
    /// The HLS master playlist.
    pub master_url: String,
    pub poster_url: Option<String>,
    /// WebVTT track of seek-preview thumbnails (`sprite_N.jpg#xywh=…` cues).
    pub thumbnails_url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Still transcoding: the playlists grow, and only the first `available_seconds` exist.
    #[serde(default)]
    pub processing: bool,
    /// While processing, the seconds every rendition lists so far (when known).
    #[serde(default)]
    pub available_seconds: Option<u64>,
    /// Caption tracks with at least one cue, a person's before the machine's per language.
    #[serde(default)]
    pub captions: Vec<CaptionTrackRef>,
}

/// A caption track the player offers as a `<track kind="subtitles">`: the whole track as one
/// WebVTT file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptionTrackRef {
    /// BCP 47 (`srclang`).
    pub language: String,
    /// What the captions menu shows: "English (auto)", "Deutsch (human)".
    pub label: String,
    pub url: String,
}

impl PlayableVideo {
    /// The width/height ratio for sizing the player before the video loads (16:9 if unknown).
    pub fn aspect_ratio(&self) -> (u32, u32) {
        match (self.width, self.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
            _ => (16, 9),
        }
    }
}

/// The watch and embed pages: a talk plus the origin its absolute links (canonical URL,
/// OpenGraph, JSON-LD, oEmbed) are built on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchData {
    pub talk: TalkDetail,
    /// `https://talks.example.org`, the request's trusted origin.
    pub origin: String,
}

/// The `/media/{key}` path of a stored output.
pub fn media_path(key: &str) -> String {
    format!("/media/{key}")
}

/// A speaker's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerProfile {
    pub slug: String,
    pub name: String,
    pub bio: String,
    /// `/media/…` of their photo (square, resized by the server), if they have one.
    pub photo_url: Option<String>,
}

/// A tag as filters and links show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagRef {
    pub slug: String,
    pub name: String,
}

/// The longest search text accepted; longer input is cut (no query needs more).
pub const MAX_QUERY_CHARS: usize = 200;

/// What the catalog shows: `/?q=…&tag=…&speaker=…&page=N`. Every field is optional; the same
/// query always yields the same URL ([`CatalogQuery::href`]), so pages are linkable and cacheable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CatalogQuery {
    /// Search text, in web-search syntax (`"exact phrase"`, `-without`, `or`).
    pub q: Option<String>,
    /// A tag slug.
    pub tag: Option<String>,
    /// A speaker slug.
    pub speaker: Option<String>,
    /// 1-based.
    pub page: u32,
}

impl CatalogQuery {
    /// Trims the text, drops empty values and control characters, caps the length, and makes
    /// the page at least 1.
    pub fn normalized(self) -> CatalogQuery {
        let clean = |value: Option<String>, max: usize| {
            value
                .map(|v| {
                    v.chars()
                        .filter(|c| !c.is_control())
                        .take(max)
                        .collect::<String>()
                })
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        CatalogQuery {
            q: clean(self.q, MAX_QUERY_CHARS),
            tag: clean(self.tag, 96),
            speaker: clean(self.speaker, 96),
            page: self.page.max(1),
        }
    }

    /// Parses the page parameter leniently: anything but a positive number is page 1.
    pub fn page_from(raw: Option<&str>) -> u32 {
        raw.and_then(|p| p.trim().parse::<u32>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }

    /// Whether anything narrows the catalog.
    pub fn is_filtered(&self) -> bool {
        self.q.is_some() || self.tag.is_some() || self.speaker.is_some()
    }

    /// The catalog URL of `page` of this query, parameters in a fixed order, page 1 implicit.
    pub fn href(&self, page: u32) -> String {
        let mut params = Vec::new();
        for (key, value) in [
            ("q", &self.q),
            ("tag", &self.tag),
            ("speaker", &self.speaker),
        ] {
            if let Some(value) = value {
                params.push(format!("{key}={}", crate::seo::encode_query_value(value)));
            }
        }
        if page > 1 {
            params.push(format!("page={page}"));
        }
        if params.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", params.join("&"))
        }
    }
}

/// Marks around matched words in highlighted text (never in titles or descriptions: control
/// characters are stripped from those on the way in).
pub const MARK_START: char = '\u{1}';
pub const MARK_END: char = '\u{2}';

/// One catalog entry; with a search, the title and an excerpt carry [`MARK_START`]/[`MARK_END`]
/// around the matches (see [`marked_segments`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogHit {
    pub talk: TalkSummary,
    pub marked_title: Option<String>,
    pub marked_excerpt: Option<String>,
    /// The transcript line that matches the search best, when what is said matches.
    #[serde(default)]
    pub spoken: Option<SpokenMatch>,
}

/// A line of a talk's transcript that matches a search, and when it is said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpokenMatch {
    /// The line with [`MARK_START`]/[`MARK_END`] around the matches.
    pub marked_line: String,
    pub start_seconds: u64,
}

/// One page of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogResults {
    pub query: CatalogQuery,
    pub hits: Vec<CatalogHit>,
    /// Matching talks across all pages.
    pub total: u64,
    pub page_size: u32,
    /// Tags and speakers with published talks, for the filters.
    pub tags: Vec<TagRef>,
    pub speakers: Vec<SpeakerRef>,
}

impl CatalogResults {
    pub fn pages(&self) -> u32 {
        (self.total.div_ceil(u64::from(self.page_size.max(1)))).max(1) as u32
    }
}

/// Splits highlighted text into (is a match, text) runs. Unbalanced marks are tolerated: the
/// text is never lost, only its highlighting.
pub fn marked_segments(text: &str) -> Vec<(bool, String)> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut marked = false;
    for c in text.chars() {
        match c {
            MARK_START | MARK_END => {
                if !current.is_empty() {
                    segments.push((marked, std::mem::take(&mut current)));
                }
                marked = c == MARK_START;
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        segments.push((marked, current));
    }
    segments
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
            poster_url: None,
        }
    }

    #[test]
    fn catalog_queries_normalize_and_link_stably() {
        let query = CatalogQuery {
            q: Some("  rust \u{0}streaming  ".into()),
            tag: Some("".into()),
            speaker: Some("ada-okafor".into()),
            page: 0,
        }
        .normalized();
        assert_eq!(query.q.as_deref(), Some("rust streaming"));
        assert_eq!(query.tag, None);
        assert_eq!(query.page, 1);
        assert_eq!(query.href(1), "/?q=rust%20streaming&speaker=ada-okafor");
        assert_eq!(
            query.href(3),
            "/?q=rust%20streaming&speaker=ada-okafor&page=3"
        );
        assert_eq!(CatalogQuery::default().href(1), "/");
        assert_eq!(CatalogQuery::default().href(2), "/?page=2");
        let long = CatalogQuery {
            q: Some("x".repeat(1000)),
            ..Default::default()
        }
        .normalized();
        assert_eq!(long.q.unwrap().len(), MAX_QUERY_CHARS);
        for (raw, page) in [
            (None, 1),
            (Some("2"), 2),
            (Some("0"), 1),
            (Some("-1"), 1),
            (Some("x"), 1),
            (Some("99999999999"), 1),
        ] {
            assert_eq!(CatalogQuery::page_from(raw), page, "{raw:?}");
        }
    }

    #[test]
    fn marked_text_splits_into_runs() {
        let text =
            format!("Adaptive {MARK_START}streaming{MARK_END} from {MARK_START}first{MARK_END}");
        assert_eq!(
            marked_segments(&text),
            vec![
                (false, "Adaptive ".to_owned()),
                (true, "streaming".to_owned()),
                (false, " from ".to_owned()),
                (true, "first".to_owned()),
            ]
        );
        assert_eq!(
            marked_segments("plain <b>"),
            vec![(false, "plain <b>".to_owned())]
        );
        let unbalanced = format!("a{MARK_START}b");
        assert_eq!(
            marked_segments(&unbalanced),
            vec![(false, "a".to_owned()), (true, "b".to_owned())]
        );
        assert!(marked_segments("").is_empty());
    }

    #[test]
    fn page_counts_round_up() {
        let page = |total| CatalogResults {
            query: CatalogQuery::default(),
            hits: vec![],
            total,
            page_size: 24,
            tags: vec![],
            speakers: vec![],
        };
        assert_eq!(page(0).pages(), 1);
        assert_eq!(page(24).pages(), 1);
        assert_eq!(page(25).pages(), 2);
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
