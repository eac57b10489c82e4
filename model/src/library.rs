//! The viewer's library: continue watching, watch later and history, as the server functions
//! answer them and the pages show them.
//!
//! Progress comes from the player's heartbeats (see `store::library`); these types carry it
//! to the page, and the rules below decide what "watched" and "worth resuming" mean, once for
//! the server and the browser.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::TalkSummary;
use crate::time_format;

/// A talk counts as watched once a view reaches this share of it (YouTube's and Mux's mark,
/// and the analytics' "completed").
pub const WATCHED_FRACTION: f64 = 0.95;

/// Positions before this are not worth resuming: the viewer barely started.
pub const RESUME_MIN_SECONDS: f64 = 5.0;

/// How many talks each list of the library page shows.
pub const LIST_LIMIT: i64 = 100;

/// One talk in one of the viewer's lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryEntry {
    pub talk: TalkSummary,
    /// Where the viewer stopped (seconds); 0 if they never played it.
    pub position_seconds: f64,
    /// The latest view reached the end (95 % or more): nothing to resume.
    pub at_end: bool,
    /// Some view reached 95 % or the end.
    pub watched: bool,
    /// When the viewer was last there (history, continue watching) or saved it (watch later).
    pub at: OffsetDateTime,
}

impl LibraryEntry {
    /// Where to pick the talk up again, if anywhere.
    pub fn resume_seconds(&self) -> Option<u64> {
        resume_point(self.position_seconds, self.at_end)
    }

    /// The card's link: the watch page, at the resume point when there is one.
    pub fn href(&self) -> String {
        match self.resume_seconds() {
            Some(at) => format!(
                "/talks/{}?t={}",
                self.talk.slug,
                time_format::share_time(at)
            ),
            None => format!("/talks/{}", self.talk.slug),
        }
    }

    /// How far into the talk the viewer is, in whole percent (for the progress bar), when the
    /// talk's length is known.
    pub fn progress_percent(&self) -> Option<u8> {
        let duration = self.talk.duration_seconds.filter(|d| *d > 0)? as f64;
        let share = if self.at_end {
            1.0
        } else {
            self.position_seconds / duration
        };
        Some((share.clamp(0.0, 1.0) * 100.0).round() as u8)
    }
}

/// The resume point of a position: whole seconds, unless the viewer barely started or is at
/// the end.
pub fn resume_point(position_seconds: f64, at_end: bool) -> Option<u64> {
    (!at_end && position_seconds.is_finite() && position_seconds >= RESUME_MIN_SECONDS)
        .then(|| position_seconds.floor() as u64)
}

/// Everything the library page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Library {
    /// Whose library it is: a signed-in account, this browser's anonymous id, or nobody (no
    /// sign-in, and the browser keeps no id).
    pub owner: OwnerKind,
    /// Started and not finished, most recent first.
    pub continue_watching: Vec<LibraryEntry>,
    /// Saved for later, most recently saved first.
    pub watch_later: Vec<LibraryEntry>,
    /// Every talk watched, most recent first.
    pub history: Vec<LibraryEntry>,
}

/// Who a library belongs to, as the page needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OwnerKind {
    #[default]
    Nobody,
    /// This browser's anonymous id: the library lives on this device until the viewer signs in.
    Browser,
    Account,
}

/// What the watch page needs of the library for one talk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TalkProgress {
    pub owner: OwnerKind,
    /// Where to resume, when there is somewhere.
    pub resume_seconds: Option<u64>,
    pub watch_later: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(position_seconds: f64, at_end: bool, duration: Option<u64>) -> LibraryEntry {
        LibraryEntry {
            talk: TalkSummary {
                id: uuid::Uuid::nil(),
                slug: "a-talk".into(),
                title: "A talk".into(),
                speakers: Vec::new(),
                duration_seconds: duration,
                recorded_on: None,
                published_at: OffsetDateTime::UNIX_EPOCH,
                poster_url: None,
            },
            position_seconds,
            at_end,
            watched: at_end,
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_talk_in_progress_links_to_its_resume_point() {
        let started = entry(754.6, false, Some(1800));
        assert_eq!(started.resume_seconds(), Some(754));
        assert_eq!(started.href(), "/talks/a-talk?t=12m34s");
        assert_eq!(started.progress_percent(), Some(42));
    }

    #[test]
    fn barely_started_and_finished_talks_start_from_the_beginning() {
        assert_eq!(entry(4.9, false, Some(60)).href(), "/talks/a-talk");
        let finished = entry(59.0, true, Some(60));
        assert_eq!(finished.href(), "/talks/a-talk");
        assert_eq!(finished.progress_percent(), Some(100));
        assert_eq!(resume_point(f64::NAN, false), None);
    }

    #[test]
    fn a_talk_of_unknown_length_has_no_progress_bar() {
        assert_eq!(entry(30.0, false, None).progress_percent(), None);
        assert_eq!(entry(30.0, false, Some(0)).progress_percent(), None);
        assert_eq!(entry(90.0, false, Some(60)).progress_percent(), Some(100));
    }
}
