//! Cues, words and tracks, and the rules a track must meet before it is stored.

use serde::{Deserialize, Serialize};

/// The longest cue text accepted, in characters: ten times what two subtitle lines hold, so
/// song lyrics or a long translation fit and a pasted book does not.
pub const MAX_CUE_TEXT_CHARS: usize = 1000;

/// One subtitle: plain text (lines separated by `\n`, see [`normalize_text`]) shown from
/// `start_ms` until just before `end_ms`, in milliseconds from the start of the video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// Word timings from speech recognition (Whisper), in order; empty for cues read from a
    /// file or typed by an editor. They let the editor split a cue between words and snap
    /// edges to speech.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
}

/// One recognised word and how sure the recogniser was of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Word {
    pub start_ms: u64,
    pub end_ms: u64,
    /// As the recogniser wrote it, usually with its leading space (" world,").
    pub text: String,
    /// 0 to 1.
    pub probability: f32,
}

impl Cue {
    /// A cue without word timings.
    pub fn new(start_ms: u64, end_ms: u64, text: impl Into<String>) -> Cue {
        Cue {
            start_ms,
            end_ms,
            text: text.into(),
            words: Vec::new(),
        }
    }

    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Who wrote a track: speech recognition or a person. A human track is never overwritten
/// by a new recognition run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Auto,
    Human,
}

impl TrackKind {
    pub const ALL: [TrackKind; 2] = [TrackKind::Auto, TrackKind::Human];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Auto => "auto",
            TrackKind::Human => "human",
        }
    }

    pub fn parse(text: &str) -> Option<TrackKind> {
        TrackKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The cues of one language of a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubtitleTrack {
    /// BCP 47 (`en`, `pt-BR`).
    pub language: String,
    pub kind: TrackKind,
    pub cues: Vec<Cue>,
}

impl SubtitleTrack {
    /// Puts the cues in display order ([`sort_cues`]).
    pub fn sort(&mut self) {
        sort_cues(&mut self.cues);
    }

    /// The language tag and every cue ([`validate_cues`]).
    pub fn validate(&self) -> Result<(), TrackError> {
        if !crate::talk::is_language_tag(&self.language) {
            return Err(TrackError::Language(self.language.clone()));
        }
        validate_cues(&self.cues)?;
        Ok(())
    }
}

/// Why a track cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TrackError {
    #[error("{0:?} is not a language tag; use a BCP 47 tag such as `en` or `pt-BR`")]
    Language(String),
    #[error(transparent)]
    Cue(#[from] CueError),
}

/// The first cue that breaks a rule: its index (0-based) and why, in words for the editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("cue {}: {message}", index + 1)]
pub struct CueError {
    pub index: usize,
    pub message: String,
}

/// Display order: by start, then by end; cues that start and end together keep their order
/// (a stable sort), so sorting twice changes nothing.
pub fn sort_cues(cues: &mut [Cue]) {
    cues.sort_by_key(|c| (c.start_ms, c.end_ms));
}

/// The rules every stored cue meets: it ends after it starts (times are unsigned, so never
/// negative), its text is normalised ([`normalize_text`]), not empty and at most
/// [`MAX_CUE_TEXT_CHARS`] characters, and its words are in order, inside the cue, with a
/// probability from 0 to 1. Order and overlaps between cues are the editor's warnings
/// ([`super::check_cues`]), not errors: WebVTT allows overlapping cues.
pub fn validate_cues(cues: &[Cue]) -> Result<(), CueError> {
    for (index, cue) in cues.iter().enumerate() {
        let fail = |message: String| Err(CueError { index, message });
        if cue.end_ms <= cue.start_ms {
            return fail("it must end after it starts".into());
        }
        if cue.text.trim().is_empty() {
            return fail("its text is empty".into());
        }
        let chars = cue.text.chars().count();
        if chars > MAX_CUE_TEXT_CHARS {
            return fail(format!(
                "its text is {chars} characters long, more than {MAX_CUE_TEXT_CHARS}"
            ));
        }
        if normalize_text(&cue.text) != cue.text {
            return fail(
                "its text has blank lines, control characters or spaces around its lines".into(),
            );
        }
        let mut previous_start = cue.start_ms;
        for (w, word) in cue.words.iter().enumerate() {
            let n = w + 1;
            if word.start_ms > word.end_ms {
                return fail(format!("word {n} ends before it starts"));
            }
            if word.start_ms < cue.start_ms || word.end_ms > cue.end_ms {
                return fail(format!("word {n} lies outside the cue"));
            }
            if word.start_ms < previous_start {
                return fail(format!("word {n} starts before the word before it"));
            }
            if !(0.0..=1.0).contains(&word.probability) {
                return fail(format!("word {n} has a probability outside 0 to 1"));
            }
            previous_start = word.start_ms;
        }
    }
    Ok(())
}

/// Cue text as stored and as both readers return it: line breaks (CR LF, CR, LF) become
/// `\n`; tabs become spaces; other control characters are removed; each line is trimmed of
/// white space; empty lines are dropped. Inner spaces are kept as typed.
///
/// Markup is not this function's business: the readers turn it into text first, and text
/// typed in the editor is text (a `<` is a `<`, escaped by the writers).
pub fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line = String::new();
    for raw in text.split(['\n', '\r']) {
        line.clear();
        for c in raw.chars() {
            if c == '\t' {
                line.push(' ');
            } else if !c.is_control() {
                line.push(c);
            }
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(trimmed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(start_ms: u64, end_ms: u64, text: &str) -> Word {
        Word {
            start_ms,
            end_ms,
            text: text.into(),
            probability: 0.9,
        }
    }

    #[test]
    fn track_kinds_have_stored_names() {
        for kind in TrackKind::ALL {
            assert_eq!(TrackKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.as_str().into())
            );
        }
        assert_eq!(TrackKind::parse("Auto"), None);
    }

    #[test]
    fn text_is_normalised() {
        assert_eq!(normalize_text("  Hello \r\n\r\n\tworld\r"), "Hello\nworld");
        assert_eq!(normalize_text("a\u{0}b\u{7}c\u{85}"), "abc");
        assert_eq!(normalize_text("a  b"), "a  b");
        assert_eq!(normalize_text(" \n \u{a0}\n"), "");
        assert_eq!(normalize_text("<i>x</i> &amp;"), "<i>x</i> &amp;");
        let once = normalize_text("x\r\ny\u{2028} z ");
        assert_eq!(normalize_text(&once), once);
    }

    #[test]
    fn cues_break_rules_with_a_reason() {
        let ok = Cue::new(0, 1000, "Hello\nworld");
        assert_eq!(validate_cues(std::slice::from_ref(&ok)), Ok(()));
        let check = |cue: Cue| validate_cues(&[ok.clone(), cue]).unwrap_err();
        let err = check(Cue::new(1000, 1000, "x"));
        assert_eq!(
            (err.index, err.message.as_str()),
            (1, "it must end after it starts")
        );
        assert_eq!(err.to_string(), "cue 2: it must end after it starts");
        assert_eq!(check(Cue::new(2000, 1000, "x")).index, 1);
        assert_eq!(check(Cue::new(0, 1, " \n ")).message, "its text is empty");
        assert!(
            check(Cue::new(0, 1, "x".repeat(1001)))
                .message
                .contains("1001 characters")
        );
        assert!(validate_cues(&[Cue::new(0, 1, "é".repeat(1000))]).is_ok());
        assert!(
            check(Cue::new(0, 1, "a\n\nb"))
                .message
                .contains("blank lines")
        );
        assert!(check(Cue::new(0, 1, " a")).message.contains("spaces"));

        let with_words = |words: Vec<Word>| Cue {
            words,
            ..Cue::new(1000, 3000, "a b")
        };
        assert!(
            validate_cues(&[with_words(vec![
                word(1000, 2000, " a"),
                word(2000, 3000, " b")
            ])])
            .is_ok()
        );
        for (words, why) in [
            (vec![word(1500, 1400, "a")], "word 1 ends before it starts"),
            (vec![word(900, 1400, "a")], "word 1 lies outside the cue"),
            (vec![word(2000, 3001, "a")], "word 1 lies outside the cue"),
            (
                vec![word(2000, 2500, "a"), word(1500, 1600, "b")],
                "word 2 starts before",
            ),
            (
                vec![Word {
                    probability: f32::NAN,
                    ..word(1000, 2000, "a")
                }],
                "probability",
            ),
        ] {
            let err = validate_cues(&[with_words(words)]).unwrap_err();
            assert!(err.message.contains(why), "{err}");
        }
    }

    #[test]
    fn tracks_check_their_language() {
        let mut track = SubtitleTrack {
            language: "pt-BR".into(),
            kind: TrackKind::Human,
            cues: vec![Cue::new(5000, 6000, "b"), Cue::new(1000, 2000, "a")],
        };
        track.sort();
        assert_eq!(track.cues[0].text, "a");
        assert_eq!(track.validate(), Ok(()));
        track.language = "English\n".into();
        assert!(matches!(track.validate(), Err(TrackError::Language(_))));
        track.language = "en".into();
        track.cues.push(Cue::new(1, 0, "x"));
        assert_eq!(
            track.validate().unwrap_err().to_string(),
            "cue 3: it must end after it starts"
        );
    }

    #[test]
    fn cues_serialise_without_empty_words() {
        let json = serde_json::to_value(Cue::new(1, 2, "x")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"start_ms": 1, "end_ms": 2, "text": "x"})
        );
        let back: Cue = serde_json::from_value(json).unwrap();
        assert_eq!(back, Cue::new(1, 2, "x"));
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(text in any::<String>()) {
            let once = normalize_text(&text);
            prop_assert_eq!(normalize_text(&once), once.clone());
            prop_assert!(!once.contains('\r') && !once.contains("\n\n"));
        }

        #[test]
        fn sorting_orders_by_start_then_end(times in prop::collection::vec((0u64..100, 1u64..100), 0..30)) {
            let mut cues: Vec<Cue> = times.iter().map(|&(s, d)| Cue::new(s, s + d, "x")).collect();
            sort_cues(&mut cues);
            for pair in cues.windows(2) {
                prop_assert!((pair[0].start_ms, pair[0].end_ms) <= (pair[1].start_ms, pair[1].end_ms));
            }
        }
    }
}
