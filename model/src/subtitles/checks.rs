//! The subtitle editor's warnings and edits. The timeline editor runs these in the browser
//! (wasm) on every change, so each is one pass over the cues, allocating only for what it
//! returns.

use serde::{Deserialize, Serialize};

use super::{Cue, Word};

/// The thresholds of [`check_cues`]. The defaults follow the broadcasters' subtitle style
/// guides for speech in Latin scripts:
///
/// - `max_chars_per_second` 17: Netflix's Timed Text Style Guide allows up to 17 characters
///   per second for children's programmes (20 for adults'); the BBC Subtitle Guidelines ask
///   for 160–180 words per minute, about the same. Speech captions of talks are read while
///   looking at slides, so the stricter figure.
/// - `max_line_chars` 42 and `max_lines` 2: Netflix's limits for Latin scripts (the BBC
///   allows two lines too, at about 37 characters, a legacy of Teletext).
/// - `min_duration_ms` 833: Netflix's minimum of 5/6 s (20 frames at 24 fps).
/// - `min_gap_ms` 83: Netflix's two frames (at 24 fps) between consecutive subtitles, so
///   the eye sees a change; set to 0 to allow cues that touch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckLimits {
    pub max_chars_per_second: f32,
    pub max_line_chars: usize,
    pub max_lines: usize,
    pub min_duration_ms: u64,
    pub min_gap_ms: u64,
}

impl Default for CheckLimits {
    fn default() -> CheckLimits {
        CheckLimits {
            max_chars_per_second: 17.0,
            max_line_chars: 42,
            max_lines: 2,
            min_duration_ms: 833,
            min_gap_ms: 83,
        }
    }
}

/// What a warning is about; the editor colours and filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    ReadingSpeed,
    LineTooLong,
    TooManyLines,
    TooShort,
    Overlap,
    GapTooSmall,
}

/// One thing the editor points out about a cue; none of them stops a track being saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CueWarning {
    /// Index in the checked slice (0-based).
    pub cue_index: usize,
    pub kind: WarningKind,
    pub message: String,
}

/// The warnings of a cue list, in cue order (and per cue in the order of [`WarningKind`]).
///
/// Characters are counted as Unicode scalar values including spaces and punctuation, line
/// breaks excluded, as Netflix counts them. Overlap and gap compare each cue with the next
/// one in the slice, so pass the cues in display order ([`super::sort_cues`]); a cue that
/// does not end after it starts is the validator's business and only gets a duration
/// warning here.
pub fn check_cues(cues: &[Cue], limits: &CheckLimits) -> Vec<CueWarning> {
    let mut warnings = Vec::new();
    for (i, cue) in cues.iter().enumerate() {
        let mut warn = |kind, message: String| {
            warnings.push(CueWarning {
                cue_index: i,
                kind,
                message,
            })
        };
        let duration = cue.duration_ms();
        let (mut chars, mut lines, mut longest) = (0usize, 0usize, 0usize);
        for line in cue.text.split('\n') {
            let n = line.chars().count();
            chars += n;
            lines += 1;
            longest = longest.max(n);
        }
        if duration > 0 {
            let cps = chars as f32 * 1000.0 / duration as f32;
            if cps > limits.max_chars_per_second {
                warn(
                    WarningKind::ReadingSpeed,
                    format!(
                        "reads at {cps:.1} characters per second (limit {}): lengthen it or \
                         shorten the text",
                        limits.max_chars_per_second
                    ),
                );
            }
        }
        if longest > limits.max_line_chars {
            warn(
                WarningKind::LineTooLong,
                format!(
                    "a line has {longest} characters (limit {})",
                    limits.max_line_chars
                ),
            );
        }
        if lines > limits.max_lines {
            warn(
                WarningKind::TooManyLines,
                format!("{lines} lines (limit {})", limits.max_lines),
            );
        }
        if duration < limits.min_duration_ms {
            warn(
                WarningKind::TooShort,
                format!(
                    "shown for {duration} ms (at least {} ms)",
                    limits.min_duration_ms
                ),
            );
        }
        if let Some(next) = cues.get(i + 1) {
            if next.start_ms < cue.end_ms {
                warn(
                    WarningKind::Overlap,
                    format!(
                        "overlaps the next cue by {} ms",
                        cue.end_ms.min(next.end_ms.max(next.start_ms)) - next.start_ms
                    ),
                );
            } else if next.start_ms - cue.end_ms < limits.min_gap_ms {
                warn(
                    WarningKind::GapTooSmall,
                    format!(
                        "{} ms before the next cue (at least {} ms, or the change goes unseen)",
                        next.start_ms - cue.end_ms,
                        limits.min_gap_ms
                    ),
                );
            }
        }
    }
    warnings
}

/// Splits a cue at `at_ms` into the part before and the part after.
///
/// Words go to the side their midpoint falls on. The text is divided between two of its
/// white-space-separated words, keeping the line breaks on each side: after as many words as
/// went left when the text has as many words as the cue has word timings (the text was not
/// reworded since recognition), else at the word boundary nearest to the same fraction of
/// the text as `at_ms` is of the cue. Each side keeps at least one word of text (a word
/// timing then follows its word across `at_ms`); word times are clipped to their side, so
/// both halves pass [`super::validate_cues`] when the cue did. `None` when `at_ms` is not
/// strictly inside the cue or the text is a single word.
pub fn split_cue_at(cue: &Cue, at_ms: u64) -> Option<(Cue, Cue)> {
    if at_ms <= cue.start_ms || at_ms >= cue.end_ms {
        return None;
    }
    let left_words = cue
        .words
        .iter()
        .take_while(|w| (w.start_ms + w.end_ms) / 2 < at_ms)
        .count();
    split(cue, at_ms, left_words)
}

/// Splits a cue before its word `word_index` (1 ≤ index < number of words), at that word's
/// start (kept strictly inside the cue). `None` for an index out of range.
pub fn split_cue_at_word(cue: &Cue, word_index: usize) -> Option<(Cue, Cue)> {
    if word_index == 0 || word_index >= cue.words.len() || cue.duration_ms() < 2 {
        return None;
    }
    let at_ms = cue.words[word_index]
        .start_ms
        .clamp(cue.start_ms + 1, cue.end_ms.saturating_sub(1));
    if at_ms <= cue.start_ms || at_ms >= cue.end_ms {
        return None;
    }
    split(cue, at_ms, word_index)
}

fn split(cue: &Cue, at_ms: u64, left_words: usize) -> Option<(Cue, Cue)> {
    // Byte offsets where each white-space-separated token of the text starts.
    let starts: Vec<usize> = cue
        .text
        .char_indices()
        .filter(|&(i, c)| {
            !c.is_whitespace()
                && cue.text[..i]
                    .chars()
                    .next_back()
                    .is_none_or(char::is_whitespace)
        })
        .map(|(i, _)| i)
        .collect();
    if starts.len() < 2 {
        return None;
    }
    let tokens_left = if !cue.words.is_empty() && starts.len() == cue.words.len() {
        left_words
    } else {
        let fraction = (at_ms - cue.start_ms) as f64 / cue.duration_ms() as f64;
        let target = fraction * cue.text.len() as f64;
        // The token start nearest to the target byte offset.
        starts
            .iter()
            .enumerate()
            .min_by(|a, b| {
                let da = (*a.1 as f64 - target).abs();
                let db = (*b.1 as f64 - target).abs();
                da.total_cmp(&db)
            })
            .map_or(1, |(i, _)| i)
    }
    .clamp(1, starts.len() - 1);
    let cut = starts[tokens_left];
    let (before, after) = cue.text.split_at(cut);
    // Words stay with their tokens when both match; a word across `at_ms` is clipped to its
    // side, so both halves keep their words inside them.
    let words_at = if !cue.words.is_empty() && starts.len() == cue.words.len() {
        tokens_left
    } else {
        left_words.min(cue.words.len())
    };
    let clipped = |words: &[Word], from: u64, to: u64| -> Vec<Word> {
        words
            .iter()
            .map(|w| Word {
                start_ms: w.start_ms.clamp(from, to),
                end_ms: w.end_ms.clamp(from, to),
                ..w.clone()
            })
            .collect()
    };
    let left = Cue {
        start_ms: cue.start_ms,
        end_ms: at_ms,
        text: before.trim_end().to_owned(),
        words: clipped(&cue.words[..words_at], cue.start_ms, at_ms),
    };
    let right = Cue {
        start_ms: at_ms,
        end_ms: cue.end_ms,
        text: after.trim_start().to_owned(),
        words: clipped(&cue.words[words_at..], at_ms, cue.end_ms),
    };
    Some((left, right))
}

/// Joins two cues into one covering both: the earlier one's text first, joined by a space,
/// words of both in time order.
pub fn merge_cues(a: &Cue, b: &Cue) -> Cue {
    let (first, second) = if (b.start_ms, b.end_ms) < (a.start_ms, a.end_ms) {
        (b, a)
    } else {
        (a, b)
    };
    let (x, y) = (first.text.trim_end(), second.text.trim_start());
    let text = match (x.is_empty(), y.is_empty()) {
        (true, _) => y.to_owned(),
        (_, true) => x.to_owned(),
        _ => format!("{x} {y}"),
    };
    let mut words: Vec<Word> = first.words.iter().chain(&second.words).cloned().collect();
    words.sort_by_key(|w| w.start_ms);
    Cue {
        start_ms: first.start_ms.min(second.start_ms),
        end_ms: first.end_ms.max(second.end_ms),
        text,
        words,
    }
}

/// The time a dragged edge at `t` snaps to: the nearest word start or end (of `words`, and
/// of the cues' own words) or cue start or end within `tolerance_ms`, else `t` itself. On a
/// tie the earlier time wins. Pass the cues without the one being dragged, or its edge
/// snaps to where it was.
pub fn snap_time(t: u64, cues: &[Cue], words: &[Word], tolerance_ms: u64) -> u64 {
    let mut best: Option<(u64, u64)> = None;
    let mut consider = |candidate: u64| {
        let distance = candidate.abs_diff(t);
        if distance <= tolerance_ms && best.is_none_or(|(d, c)| (distance, candidate) < (d, c)) {
            best = Some((distance, candidate));
        }
    };
    for cue in cues {
        consider(cue.start_ms);
        consider(cue.end_ms);
        for w in &cue.words {
            consider(w.start_ms);
            consider(w.end_ms);
        }
    }
    for w in words {
        consider(w.start_ms);
        consider(w.end_ms);
    }
    best.map_or(t, |(_, candidate)| candidate)
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
            probability: 0.8,
        }
    }

    fn kinds(cues: &[Cue]) -> Vec<(usize, WarningKind)> {
        check_cues(cues, &CheckLimits::default())
            .into_iter()
            .map(|w| (w.cue_index, w.kind))
            .collect()
    }

    #[test]
    fn good_subtitles_get_no_warnings() {
        let cues = [
            Cue::new(0, 2000, "Hello and welcome"),
            Cue::new(2083, 5000, "to a talk about\nsubtitles."),
        ];
        assert_eq!(kinds(&cues), []);
    }

    #[test]
    fn each_rule_warns() {
        use WarningKind::*;
        let fast = Cue::new(0, 1000, "eighteen characters");
        let long = Cue::new(
            10_000,
            20_000,
            "a line that is much longer than forty-two chars",
        );
        let lines = Cue::new(30_000, 40_000, "one\ntwo\nthree");
        let short = Cue::new(50_000, 50_500, "ok");
        let a = Cue::new(60_000, 62_000, "overlapping");
        let b = Cue::new(61_500, 64_000, "the next");
        let c = Cue::new(64_050, 66_000, "too close");
        let cues = [fast, long, lines, short, a, b, c];
        assert_eq!(
            kinds(&cues),
            [
                (0, ReadingSpeed),
                (1, LineTooLong),
                (2, TooManyLines),
                (3, TooShort),
                (4, Overlap),
                (5, GapTooSmall)
            ]
        );
        let warnings = check_cues(&cues, &CheckLimits::default());
        assert_eq!(
            warnings[0].message,
            "reads at 19.0 characters per second (limit 17): lengthen it or shorten the text"
        );
        assert_eq!(warnings[1].message, "a line has 47 characters (limit 42)");
        assert_eq!(warnings[4].message, "overlaps the next cue by 500 ms");
        assert!(warnings[5].message.starts_with("50 ms before the next cue"));
        // Limits are the caller's.
        let lax = CheckLimits {
            max_chars_per_second: 25.0,
            max_line_chars: 60,
            max_lines: 3,
            min_duration_ms: 0,
            min_gap_ms: 0,
        };
        assert_eq!(
            check_cues(&cues, &lax)
                .into_iter()
                .map(|w| w.kind)
                .collect::<Vec<_>>(),
            [Overlap]
        );
        // Touching cues get the gap warning by default, zero-length ones a duration warning.
        assert_eq!(
            kinds(&[Cue::new(0, 1000, "a"), Cue::new(1000, 2000, "b")]),
            [(0, GapTooSmall)]
        );
        assert_eq!(kinds(&[Cue::new(5, 5, "a")]), [(0, TooShort)]);
    }

    #[test]
    fn splitting_by_time_follows_the_words() {
        let cue = Cue {
            words: vec![
                word(1000, 1400, " Hello"),
                word(1400, 1900, " big"),
                word(2000, 2600, " world."),
            ],
            ..Cue::new(1000, 3000, "Hello big\nworld.")
        };
        // Midpoint of " big" is 1650: 1600 puts it right, 1700 left.
        let (l, r) = split_cue_at(&cue, 1600).unwrap();
        assert_eq!(
            (l.start_ms, l.end_ms, l.text.as_str(), l.words.len()),
            (1000, 1600, "Hello", 1)
        );
        assert_eq!(
            (r.start_ms, r.end_ms, r.text.as_str(), r.words.len()),
            (1600, 3000, "big\nworld.", 2)
        );
        let (l, r) = split_cue_at(&cue, 1700).unwrap();
        assert_eq!((l.text.as_str(), r.text.as_str()), ("Hello big", "world."));
        // Everything on one side still leaves a word on the other.
        let (l, r) = split_cue_at(&cue, 1100).unwrap();
        assert_eq!(
            (l.text.as_str(), r.text.as_str(), l.words.len()),
            ("Hello", "big\nworld.", 1)
        );
        assert_eq!((l.words[0].start_ms, l.words[0].end_ms), (1000, 1100));
        assert_eq!(split_cue_at(&cue, 1000), None);
        assert_eq!(split_cue_at(&cue, 3000), None);
        assert_eq!(split_cue_at(&Cue::new(0, 1000, "single"), 500), None);

        let (l, r) = split_cue_at_word(&cue, 2).unwrap();
        assert_eq!(
            (l.end_ms, l.text.as_str(), r.text.as_str()),
            (2000, "Hello big", "world.")
        );
        assert_eq!(split_cue_at_word(&cue, 0), None);
        assert_eq!(split_cue_at_word(&cue, 3), None);
    }

    #[test]
    fn splitting_reworded_or_wordless_text_goes_by_proportion() {
        let cue = Cue::new(0, 4000, "one two three four");
        let (l, r) = split_cue_at(&cue, 2000).unwrap();
        assert_eq!(
            (l.text.as_str(), r.text.as_str()),
            ("one two", "three four")
        );
        let (l, r) = split_cue_at(&cue, 100).unwrap();
        assert_eq!(
            (l.text.as_str(), r.text.as_str()),
            ("one", "two three four")
        );
        // Two word timings, four words of text: the text was edited, so by proportion.
        let edited = Cue {
            words: vec![word(0, 1000, " one"), word(1000, 4000, " four")],
            ..cue
        };
        let (l, r) = split_cue_at(&edited, 3900).unwrap();
        assert_eq!(
            (l.text.as_str(), r.text.as_str()),
            ("one two three", "four")
        );
        assert_eq!((l.words.len(), r.words.len()), (2, 0));
    }

    #[test]
    fn merging_orders_by_time() {
        let a = Cue {
            words: vec![word(3000, 3500, " later")],
            ..Cue::new(3000, 4000, "later")
        };
        let b = Cue {
            words: vec![word(1000, 1500, " first")],
            ..Cue::new(1000, 2000, "first")
        };
        let merged = merge_cues(&a, &b);
        assert_eq!(
            (merged.start_ms, merged.end_ms, merged.text.as_str()),
            (1000, 4000, "first later")
        );
        assert_eq!(
            merged.words.iter().map(|w| w.start_ms).collect::<Vec<_>>(),
            [1000, 3000]
        );
        assert_eq!(merge_cues(&b, &a), merged);
    }

    #[test]
    fn snapping_takes_the_nearest_edge_within_tolerance() {
        let cues = [Cue::new(1000, 2000, "a"), Cue::new(5000, 6000, "b")];
        let words = [word(2100, 2400, "x")];
        assert_eq!(snap_time(2040, &cues, &words, 100), 2000);
        assert_eq!(snap_time(2060, &cues, &words, 100), 2100);
        assert_eq!(snap_time(2050, &cues, &words, 100), 2000);
        assert_eq!(snap_time(3000, &cues, &words, 100), 3000);
        assert_eq!(snap_time(4950, &cues, &[], 50), 5000);
        assert_eq!(snap_time(7, &[], &[], 1000), 7);
    }

    proptest! {
        #[test]
        fn splits_cover_the_cue_and_keep_its_words(
            start in 0u64..10_000,
            length in 2u64..10_000,
            at in 0u64..20_000,
            n in 1usize..8,
        ) {
            let text: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
            let step = length / n as u64;
            let words: Vec<Word> = (0..n as u64)
                .map(|i| word(start + i * step, start + (i + 1) * step, &format!(" w{i}")))
                .collect();
            let cue = Cue { words, ..Cue::new(start, start + length, text.join(" ")) };
            match split_cue_at(&cue, at) {
                None => prop_assert!(at <= start || at >= start + length || n == 1),
                Some((l, r)) => {
                    prop_assert_eq!((l.start_ms, l.end_ms, r.start_ms, r.end_ms), (start, at, at, start + length));
                    prop_assert_eq!(format!("{} {}", l.text, r.text), cue.text.clone());
                    prop_assert!(!l.text.is_empty() && !r.text.is_empty());
                    prop_assert_eq!(l.words.len() + r.words.len(), n);
                    prop_assert!(super::super::validate_cues(&[l.clone(), r.clone()]).is_ok());
                    let merged = merge_cues(&l, &r);
                    prop_assert_eq!((merged.start_ms, merged.end_ms), (cue.start_ms, cue.end_ms));
                    prop_assert_eq!(&merged.text, &cue.text);
                    let texts = |c: &Cue| c.words.iter().map(|w| w.text.clone()).collect::<Vec<_>>();
                    prop_assert_eq!(texts(&merged), texts(&cue));
                }
            }
        }
    }
}
