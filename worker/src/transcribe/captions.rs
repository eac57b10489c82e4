//! Whisper's words grouped into caption cues as subtitle style guides want them (BBC, Netflix):
//! at most two lines of 42 characters, at most 7 seconds on screen, a new cue after a sentence
//! ends or the speaker pauses, and the line broken nearest the middle.

use ferrotape_model::subtitles::{Cue, Word};

pub const MAX_LINE_CHARS: usize = 42;
const MAX_CUE_CHARS: usize = 2 * MAX_LINE_CHARS;
const MAX_CUE_MS: u64 = 7_000;
/// A silence this long between two words starts a new cue.
const PAUSE_MS: u64 = 900;
/// A sentence end starts a new cue once the cue holds this much text.
const SENTENCE_MIN_CHARS: usize = 16;
/// Short cues stay up this long when the next cue leaves room (reading time).
const MIN_CUE_MS: u64 = 1_000;

pub fn cues_from_words(words: &[Word]) -> Vec<Cue> {
    let mut cues: Vec<Cue> = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    let mut chars = 0;
    for word in words {
        let len = word.text.chars().count();
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            let too_long = chars + 1 + len > MAX_CUE_CHARS;
            let too_slow = word.end_ms.saturating_sub(first.start_ms) > MAX_CUE_MS;
            let paused = word.start_ms.saturating_sub(last.end_ms) >= PAUSE_MS;
            let sentence_ended =
                last.text.ends_with(['.', '?', '!']) && chars >= SENTENCE_MIN_CHARS;
            if too_long || too_slow || paused || sentence_ended {
                cues.push(cue_of(std::mem::take(&mut current)));
                chars = 0;
            }
        }
        chars += if current.is_empty() { len } else { len + 1 };
        current.push(word.clone());
    }
    if !current.is_empty() {
        cues.push(cue_of(current));
    }
    // Give short cues their reading time where the next one allows it.
    for i in 0..cues.len() {
        let room = cues.get(i + 1).map_or(u64::MAX, |next| next.start_ms);
        let cue = &mut cues[i];
        if cue.end_ms - cue.start_ms < MIN_CUE_MS {
            cue.end_ms = (cue.start_ms + MIN_CUE_MS).min(room).max(cue.end_ms);
        }
    }
    cues
}

fn cue_of(words: Vec<Word>) -> Cue {
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Cue {
        start_ms: words[0].start_ms,
        end_ms: words[words.len() - 1].end_ms.max(words[0].start_ms + 1),
        text: break_lines(&text),
        words,
    }
}

/// Breaks a cue longer than one line at the space nearest its middle.
fn break_lines(text: &str) -> String {
    let len = text.chars().count();
    if len <= MAX_LINE_CHARS {
        return text.to_owned();
    }
    let middle = len / 2;
    let best = text
        .char_indices()
        .filter(|(_, c)| *c == ' ')
        .map(|(i, _)| i)
        .min_by_key(|&i| text[..i].chars().count().abs_diff(middle));
    match best {
        Some(i) => format!("{}\n{}", &text[..i], &text[i + 1..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(spec: &[(&str, u64, u64)]) -> Vec<Word> {
        spec.iter()
            .map(|&(text, start_ms, end_ms)| Word {
                start_ms,
                end_ms,
                text: text.to_owned(),
                probability: 0.8,
            })
            .collect()
    }

    #[test]
    fn sentences_and_pauses_start_new_cues() {
        let cues = cues_from_words(&words(&[
            ("Welcome", 0, 400),
            ("to", 400, 500),
            ("the", 500, 600),
            ("conference.", 600, 1_200),
            ("Today", 1_300, 1_600),
            ("we", 1_600, 1_700),
            ("talk.", 1_700, 2_000),
            ("Later", 4_000, 4_400),
        ]));
        let texts: Vec<_> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Welcome to the conference.", "Today we talk.", "Later"]
        );
        assert_eq!((cues[0].start_ms, cues[0].end_ms), (0, 1_200));
        // Short cues get a second on screen, as far as the next one allows.
        assert_eq!((cues[1].start_ms, cues[1].end_ms), (1_300, 2_300));
        assert_eq!(cues[1].words.len(), 3);
        assert_eq!((cues[2].start_ms, cues[2].end_ms), (4_000, 5_000));
    }

    #[test]
    fn long_speech_is_cut_into_two_line_cues_within_seven_seconds() {
        let spec: Vec<(String, u64, u64)> = (0..60)
            .map(|i| (format!("word{i}"), i * 300, i * 300 + 250))
            .collect();
        let spec: Vec<(&str, u64, u64)> =
            spec.iter().map(|(t, s, e)| (t.as_str(), *s, *e)).collect();
        let cues = cues_from_words(&words(&spec));
        assert!(cues.len() > 2);
        for cue in &cues {
            assert!(cue.end_ms - cue.start_ms <= MAX_CUE_MS, "{cue:?}");
            let lines: Vec<_> = cue.text.lines().collect();
            assert!(lines.len() <= 2, "{:?}", cue.text);
            assert!(
                lines.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS),
                "{:?}",
                cue.text
            );
        }
        let total: usize = cues.iter().map(|c| c.words.len()).sum();
        assert_eq!(total, 60, "no word lost or repeated");
    }

    #[test]
    fn no_words_no_cues() {
        assert!(cues_from_words(&[]).is_empty());
    }
}
