//! Talks as editors write them: publication states, the editable fields and their rules,
//! chapters, speakers' profiles. The studio's forms and the REST API validate with the same
//! functions, so both refuse the same input with the same message.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::catalog::{SpeakerRef, TagRef};
use crate::slug;
use crate::studio::StudioVideo;

/// Where a talk stands, as editors and the API see it.
///
/// Stored as four states: `scheduled` and `published` are both a public talk, told apart by
/// whether its publication time has come (so a scheduled talk goes public at its time with no
/// job and no restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TalkState {
    /// Only editors see it.
    Draft,
    /// Anyone with the link can watch it; no listing, search, sitemap or speaker page shows it.
    Unlisted,
    /// Public from its publication time on, not yet.
    Scheduled,
    /// Listed and watchable.
    Published,
    /// Was public or unlisted, taken down.
    Unpublished,
}

impl TalkState {
    pub const ALL: [TalkState; 5] = [
        TalkState::Draft,
        TalkState::Unlisted,
        TalkState::Scheduled,
        TalkState::Published,
        TalkState::Unpublished,
    ];

    /// From the stored state (`draft`, `unlisted`, `public`, `unpublished`) and publication time.
    pub fn from_stored(
        state: &str,
        published_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<TalkState> {
        Some(match state {
            "draft" => TalkState::Draft,
            "unlisted" => TalkState::Unlisted,
            "unpublished" => TalkState::Unpublished,
            "public" => match published_at {
                Some(at) if at > now => TalkState::Scheduled,
                _ => TalkState::Published,
            },
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TalkState::Draft => "draft",
            TalkState::Unlisted => "unlisted",
            TalkState::Scheduled => "scheduled",
            TalkState::Published => "published",
            TalkState::Unpublished => "unpublished",
        }
    }

    pub fn parse(text: &str) -> Option<TalkState> {
        TalkState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            TalkState::Draft => "Draft",
            TalkState::Unlisted => "Unlisted",
            TalkState::Scheduled => "Scheduled",
            TalkState::Published => "Published",
            TalkState::Unpublished => "Unpublished",
        }
    }

    /// Whether anyone with the link may watch it (now).
    pub fn reachable(self) -> bool {
        matches!(self, TalkState::Unlisted | TalkState::Published)
    }
}

/// A change of publication an editor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Publication {
    pub state: TalkState,
    /// Required for `scheduled` (a time ahead); for `published`, when given, a time not ahead
    /// (back-dating an import); otherwise ignored.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub publish_at: Option<OffsetDateTime>,
}

/// What the store writes for a [`Publication`]: the stored state and publication time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPublication {
    pub state: &'static str,
    pub published_at: Option<OffsetDateTime>,
}

impl Publication {
    /// Checks the request against `now` and says what to store. `current` is the stored
    /// publication time, kept when a published talk is published again.
    pub fn resolve(
        self,
        now: OffsetDateTime,
        current: Option<OffsetDateTime>,
    ) -> Result<StoredPublication, FieldError> {
        let stored = |state, published_at| StoredPublication {
            state,
            published_at,
        };
        Ok(match self.state {
            TalkState::Draft => stored("draft", None),
            TalkState::Unlisted => stored("unlisted", None),
            TalkState::Unpublished => stored("unpublished", None),
            TalkState::Scheduled => match self.publish_at {
                Some(at) if at > now => stored("public", Some(at)),
                Some(_) => {
                    return Err(FieldError::new(
                        "publish_at",
                        "a scheduled time must lie in the future",
                    ));
                }
                None => {
                    return Err(FieldError::new(
                        "publish_at",
                        "scheduling needs a date and time",
                    ));
                }
            },
            TalkState::Published => match self.publish_at {
                Some(at) if at > now => {
                    return Err(FieldError::new(
                        "publish_at",
                        "a time ahead schedules the talk: choose \"scheduled\"",
                    ));
                }
                Some(at) => stored("public", Some(at)),
                None => stored(
                    "public",
                    Some(current.filter(|at| *at <= now).unwrap_or(now)),
                ),
            },
        })
    }
}

/// One refused field: which one and why, in words for the editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub const MAX_TITLE_CHARS: usize = 300;
/// Long enough for any abstract with links; a 10 MB paste is refused, not stored.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_EVENT_CHARS: usize = 200;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_SPEAKERS: usize = 20;
pub const MAX_CHAPTERS: usize = 200;
pub const MAX_CHAPTER_TITLE_CHARS: usize = 200;
pub const MAX_SPEAKER_NAME_CHARS: usize = 200;
pub const MAX_BIO_CHARS: usize = 10_000;
pub const MAX_LINKS: usize = 10;
pub const MAX_LINK_CHARS: usize = 500;

/// Slugs no talk, speaker or tag may take: they name the site's own sections, or read as
/// actions, and would confuse people and crawlers.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin", "api", "account", "assets", "edit", "embed", "healthz", "login", "logout", "media",
    "metrics", "new", "oembed", "pkg", "readyz", "robots", "search", "settings", "signup",
    "sitemap", "speakers", "static", "studio", "tags", "talks", "trash", "vendor",
];

/// A slug an editor typed (or derived from a title): well formed and not reserved.
pub fn validate_slug(field: &str, text: &str) -> Result<(), FieldError> {
    slug::validate(text).map_err(|e| FieldError::new(field, e.to_string()))?;
    if RESERVED_SLUGS.contains(&text) {
        return Err(FieldError::new(
            field,
            format!("`{text}` is reserved: choose another slug"),
        ));
    }
    Ok(())
}

/// A chapter: a title from a time on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chapter {
    pub start_ms: u64,
    pub title: String,
}

/// The fields of a talk an editor writes (the studio's form and the API's body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TalkFields {
    pub title: String,
    /// `None` when creating: made from the title. When updating: kept.
    #[serde(default)]
    pub slug: Option<String>,
    /// Markdown; rendered to sanitised HTML for the watch page.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub recorded_on: Option<Date>,
    #[serde(default)]
    pub event: String,
    /// Tag names; unknown ones are created.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Speaker ids in the order they appear.
    #[serde(default)]
    pub speakers: Vec<Uuid>,
    #[serde(default)]
    pub chapters: Vec<Chapter>,
}

impl TalkFields {
    /// Trims what editors type and checks every rule that does not need the database;
    /// `duration_ms` (the talk's video, when known) bounds the chapters.
    pub fn normalized(mut self, duration_ms: Option<u64>) -> Result<TalkFields, FieldError> {
        self.title = self.title.trim().to_owned();
        if self.title.is_empty() {
            return Err(FieldError::new("title", "a talk needs a title"));
        }
        if self.title.chars().count() > MAX_TITLE_CHARS {
            return Err(FieldError::new(
                "title",
                format!("a title is at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        if let Some(slug) = &mut self.slug {
            *slug = slug.trim().to_owned();
            validate_slug("slug", slug)?;
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(FieldError::new(
                "description",
                format!("a description is at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        self.description = self.description.replace("\r\n", "\n").trim().to_owned();
        self.language = match self.language.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(tag) if is_language_tag(tag) => Some(tag.to_owned()),
            Some(_) => {
                return Err(FieldError::new(
                    "language",
                    "a language is a BCP 47 tag such as `en` or `pt-BR`",
                ));
            }
        };
        self.event = self.event.trim().to_owned();
        if self.event.chars().count() > MAX_EVENT_CHARS {
            return Err(FieldError::new(
                "event",
                format!("an event name is at most {MAX_EVENT_CHARS} characters"),
            ));
        }
        self.tags = normalized_tags(self.tags)?;
        if self.speakers.len() > MAX_SPEAKERS {
            return Err(FieldError::new(
                "speakers",
                format!("a talk has at most {MAX_SPEAKERS} speakers"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if !self.speakers.iter().all(|id| seen.insert(*id)) {
            return Err(FieldError::new("speakers", "a speaker is listed twice"));
        }
        self.chapters = normalized_chapters(self.chapters, duration_ms)?;
        Ok(self)
    }

    /// The slug to create the talk with: the given one, else one made from the title.
    pub fn slug_or_from_title(&self) -> Result<String, FieldError> {
        match &self.slug {
            Some(slug) => Ok(slug.clone()),
            None => {
                let made = slug::slugify(&self.title).unwrap_or_else(|_| "talk".to_owned());
                Ok(if RESERVED_SLUGS.contains(&made.as_str()) {
                    format!("{made}-talk")
                } else {
                    made
                })
            }
        }
    }
}

/// `en`, `pt-BR`, `zh-Hant-TW`: a primary language of 2–3 letters and short subtags.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
    primary_ok
        && tag.len() <= 35
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Tag names trimmed, inner whitespace collapsed, duplicates (by slug) dropped, each with a slug.
fn normalized_tags(tags: Vec<String>) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    let mut slugs = std::collections::HashSet::new();
    for tag in tags {
        let name = tag.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > MAX_TAG_CHARS {
            return Err(FieldError::new(
                "tags",
                format!("a tag is at most {MAX_TAG_CHARS} characters"),
            ));
        }
        let slug = tag_slug(&name)?;
        if slugs.insert(slug) {
            out.push(name);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::new(
            "tags",
            format!("a talk has at most {MAX_TAGS} tags"),
        ));
    }
    Ok(out)
}

/// The slug of a tag name ("Machine learning" → `machine-learning`).
pub fn tag_slug(name: &str) -> Result<String, FieldError> {
    let slug = slug::slugify(name).map_err(|_| {
        FieldError::new(
            "tags",
            format!("the tag `{name}` needs at least one letter or digit"),
        )
    })?;
    let slug: String = slug.chars().take(MAX_TAG_CHARS).collect();
    Ok(slug.trim_end_matches('-').to_owned())
}

/// Chapters in strictly increasing time, inside the video, with titles.
fn normalized_chapters(
    chapters: Vec<Chapter>,
    duration_ms: Option<u64>,
) -> Result<Vec<Chapter>, FieldError> {
    if chapters.len() > MAX_CHAPTERS {
        return Err(FieldError::new(
            "chapters",
            format!("a talk has at most {MAX_CHAPTERS} chapters"),
        ));
    }
    let mut out = Vec::with_capacity(chapters.len());
    let mut previous: Option<u64> = None;
    for chapter in chapters {
        let title = chapter.title.trim().to_owned();
        let at = crate::time_format::clock(chapter.start_ms / 1000);
        if title.is_empty() {
            return Err(FieldError::new(
                "chapters",
                format!("the chapter at {at} needs a title"),
            ));
        }
        if title.chars().count() > MAX_CHAPTER_TITLE_CHARS {
            return Err(FieldError::new(
                "chapters",
                format!("a chapter title is at most {MAX_CHAPTER_TITLE_CHARS} characters"),
            ));
        }
        if let Some(duration) = duration_ms
            && chapter.start_ms >= duration
        {
            return Err(FieldError::new(
                "chapters",
                format!(
                    "the chapter “{title}” starts at {at}, after the video ends ({})",
                    crate::time_format::clock(duration / 1000)
                ),
            ));
        }
        if previous.is_some_and(|p| chapter.start_ms <= p) {
            return Err(FieldError::new(
                "chapters",
                format!("chapters must be in order of time: “{title}” at {at} comes too early"),
            ));
        }
        previous = Some(chapter.start_ms);
        out.push(Chapter {
            start_ms: chapter.start_ms,
            title,
        });
    }
    Ok(out)
}

/// Chapters as editors type them, one per line: `0:00 Introduction`, `12:30 Questions`.
pub fn parse_chapter_lines(text: &str) -> Result<Vec<Chapter>, FieldError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (time, title) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let Some(secs) = crate::time_format::parse_start_time(time) else {
            return Err(FieldError::new(
                "chapters",
                format!(
                    "line {}: start with a time such as 0:00 or 1:02:03, then the title",
                    index + 1
                ),
            ));
        };
        out.push(Chapter {
            start_ms: secs.saturating_mul(1000),
            title: title.trim().to_owned(),
        });
    }
    Ok(out)
}

/// The chapter lines of [`parse_chapter_lines`] back from chapters.
pub fn chapter_lines(chapters: &[Chapter]) -> String {
    chapters
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                crate::time_format::clock(c.start_ms / 1000),
                c.title
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A speaker's profile as editors write it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpeakerFields {
    pub name: String,
    /// `None` when creating: made from the name. When updating: kept.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub bio: String,
    /// http(s) links (a homepage, a profile).
    #[serde(default)]
    pub links: Vec<String>,
}

impl SpeakerFields {
    pub fn normalized(mut self) -> Result<SpeakerFields, FieldError> {
        self.name = self.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if self.name.is_empty() {
            return Err(FieldError::new("name", "a speaker needs a name"));
        }
        if self.name.chars().count() > MAX_SPEAKER_NAME_CHARS {
            return Err(FieldError::new(
                "name",
                format!("a name is at most {MAX_SPEAKER_NAME_CHARS} characters"),
            ));
        }
        if let Some(slug) = &mut self.slug {
            *slug = slug.trim().to_owned();
            validate_slug("slug", slug)?;
        }
        if self.bio.chars().count() > MAX_BIO_CHARS {
            return Err(FieldError::new(
                "bio",
                format!("a bio is at most {MAX_BIO_CHARS} characters"),
            ));
        }
        self.bio = self.bio.replace("\r\n", "\n").trim().to_owned();
        let links: Vec<String> = self
            .links
            .iter()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        if links.len() > MAX_LINKS {
            return Err(FieldError::new(
                "links",
                format!("a speaker has at most {MAX_LINKS} links"),
            ));
        }
        for link in &links {
            if !is_web_link(link) {
                return Err(FieldError::new(
                    "links",
                    format!("`{}` is not an http(s) address", truncate(link, 80)),
                ));
            }
        }
        self.links = links;
        Ok(self)
    }

    pub fn slug_or_from_name(&self) -> String {
        self.slug.clone().unwrap_or_else(|| {
            let made = slug::slugify(&self.name).unwrap_or_else(|_| "speaker".to_owned());
            if RESERVED_SLUGS.contains(&made.as_str()) {
                format!("{made}-speaker")
            } else {
                made
            }
        })
    }
}

/// An absolute http(s) URL with a host, no whitespace or control characters, no credentials.
pub fn is_web_link(link: &str) -> bool {
    let rest = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    link.len() <= MAX_LINK_CHARS
        && !authority.is_empty()
        && !authority.contains('@')
        && !link.chars().any(|c| c.is_whitespace() || c.is_control())
        && !link.contains(['<', '>', '"', '\'', '`', '\\'])
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A speaker as the studio and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Speaker {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub bio: String,
    pub links: Vec<String>,
    /// `/media/…` URL of the resized photo.
    pub photo_url: Option<String>,
    pub revision: i64,
}

/// A tag with its id, as the studio and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tag {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// Talks carrying it (any state).
    pub talks: i64,
    pub revision: i64,
}

/// A talk as the studio's list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudioTalk {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub state: TalkState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// In the trash since (listed only when the trash is asked for).
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// The editor who created it.
    pub owner: Option<String>,
    pub speakers: Vec<SpeakerRef>,
    pub tags: Vec<TagRef>,
    /// Its newest video (the one being processed, or the one served).
    pub video: Option<StudioVideo>,
    pub revision: i64,
}

/// Everything the talk editor needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditableTalk {
    pub talk: StudioTalk,
    pub description: String,
    pub language: Option<String>,
    pub recorded_on: Option<Date>,
    pub event: String,
    /// The speakers, in order, with their ids.
    pub speakers: Vec<Speaker>,
    pub chapters: Vec<Chapter>,
    /// Duration of the served video, bounding chapters and poster frames.
    pub duration_ms: Option<u64>,
    /// The poster shown (the editor's, else the video's), signed for preview.
    pub poster_url: Option<String>,
    /// Whether an editor-chosen poster replaces the video's own.
    pub custom_poster: bool,
    /// Seek-preview cues of the served video (signed), to pick a poster frame from.
    pub thumbnails_url: Option<String>,
    /// The served video's master playlist (signed), for the preview player.
    pub master_url: Option<String>,
}

/// Which talks the studio lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioTalkFilter {
    /// Words in the title.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub state: Option<TalkState>,
    /// The trash instead of the live talks.
    #[serde(default)]
    pub trash: bool,
}

/// How long a deleted talk can be restored before a job purges it with its media.
pub const TRASH_DAYS: i64 = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    #[test]
    fn scheduled_becomes_published_when_its_time_passes() {
        let at = datetime!(2026-12-01 12:01 UTC);
        assert_eq!(
            TalkState::from_stored("public", Some(at), NOW),
            Some(TalkState::Scheduled)
        );
        assert_eq!(
            TalkState::from_stored("public", Some(at), at),
            Some(TalkState::Published)
        );
        assert_eq!(TalkState::from_stored("bogus", None, NOW), None);
    }

    #[test]
    fn publication_requests_resolve_or_are_refused() {
        let ahead = datetime!(2026-12-02 09:00 UTC);
        let scheduled = Publication {
            state: TalkState::Scheduled,
            publish_at: Some(ahead),
        };
        assert_eq!(
            scheduled.resolve(NOW, None).unwrap(),
            StoredPublication {
                state: "public",
                published_at: Some(ahead)
            }
        );
        let past = Publication {
            state: TalkState::Scheduled,
            publish_at: Some(datetime!(2026-11-30 09:00 UTC)),
        };
        assert_eq!(past.resolve(NOW, None).unwrap_err().field, "publish_at");
        let publish = Publication {
            state: TalkState::Published,
            publish_at: None,
        };
        assert_eq!(publish.resolve(NOW, None).unwrap().published_at, Some(NOW));
        // Publishing again keeps the original date; a schedule is brought forward to now.
        let earlier = datetime!(2026-10-01 12:00 UTC);
        assert_eq!(
            publish.resolve(NOW, Some(earlier)).unwrap().published_at,
            Some(earlier)
        );
        assert_eq!(
            publish.resolve(NOW, Some(ahead)).unwrap().published_at,
            Some(NOW)
        );
    }

    fn fields(title: &str) -> TalkFields {
        TalkFields {
            title: title.into(),
            ..TalkFields::default()
        }
    }

    #[test]
    fn reserved_and_malformed_slugs_are_refused() {
        for slug in ["admin", "api", "studio", "A B", "../x", ""] {
            let f = TalkFields {
                slug: Some(slug.into()),
                ..fields("T")
            };
            assert_eq!(f.normalized(None).unwrap_err().field, "slug", "{slug}");
        }
        assert_eq!(fields("Admin").slug_or_from_title().unwrap(), "admin-talk");
        assert_eq!(fields("🎥").slug_or_from_title().unwrap(), "talk");
    }

    #[test]
    fn oversized_fields_are_refused() {
        let huge = TalkFields {
            description: "x".repeat(10 * 1024 * 1024),
            ..fields("T")
        };
        assert_eq!(huge.normalized(None).unwrap_err().field, "description");
        assert_eq!(fields("  ").normalized(None).unwrap_err().field, "title");
        let tags = TalkFields {
            tags: (0..21).map(|i| format!("t{i}")).collect(),
            ..fields("T")
        };
        assert_eq!(tags.normalized(None).unwrap_err().field, "tags");
        let lang = TalkFields {
            language: Some("english please".into()),
            ..fields("T")
        };
        assert_eq!(lang.normalized(None).unwrap_err().field, "language");
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated_by_slug() {
        let f = TalkFields {
            tags: vec![
                " Rust ".into(),
                "rust".into(),
                "Machine   learning".into(),
                "".into(),
            ],
            ..fields("T")
        }
        .normalized(None)
        .unwrap();
        assert_eq!(f.tags, vec!["Rust", "Machine learning"]);
        assert!(
            TalkFields {
                tags: vec!["🎥".into()],
                ..fields("T")
            }
            .normalized(None)
            .is_err()
        );
    }

    #[test]
    fn chapters_must_be_ordered_and_inside_the_video() {
        let ch = |s: u64, t: &str| Chapter {
            start_ms: s * 1000,
            title: t.into(),
        };
        let ok = TalkFields {
            chapters: vec![ch(0, "Intro"), ch(60, " Demo ")],
            ..fields("T")
        }
        .normalized(Some(120_000))
        .unwrap();
        assert_eq!(ok.chapters[1].title, "Demo");
        let outside = TalkFields {
            chapters: vec![ch(0, "Intro"), ch(130, "Late")],
            ..fields("T")
        };
        let err = outside.normalized(Some(120_000)).unwrap_err();
        assert!(err.message.contains("after the video ends"), "{err}");
        let unordered = TalkFields {
            chapters: vec![ch(60, "B"), ch(30, "A")],
            ..fields("T")
        };
        assert!(
            unordered
                .normalized(None)
                .unwrap_err()
                .message
                .contains("in order")
        );
        let same = TalkFields {
            chapters: vec![ch(30, "A"), ch(30, "B")],
            ..fields("T")
        };
        assert!(same.normalized(None).is_err());
    }

    #[test]
    fn chapter_lines_round_trip() {
        let parsed = parse_chapter_lines("0:00 Intro\n\n1:02:03  Questions and answers\n").unwrap();
        assert_eq!(parsed[1].start_ms, 3_723_000);
        assert_eq!(parsed[1].title, "Questions and answers");
        assert_eq!(
            chapter_lines(&parsed),
            "0:00 Intro\n1:02:03 Questions and answers"
        );
        assert!(parse_chapter_lines("soon Intro").is_err());
    }

    #[test]
    fn speaker_links_must_be_web_addresses() {
        let speaker = |link: &str| SpeakerFields {
            name: "Ada".into(),
            links: vec![link.into()],
            ..SpeakerFields::default()
        };
        assert!(speaker("https://ada.example/about").normalized().is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "https://user@evil.example",
            "https://",
            "https://a.example/\"onmouseover=x",
            "ftp://a.example",
        ] {
            assert!(speaker(bad).normalized().is_err(), "{bad}");
        }
    }
}
