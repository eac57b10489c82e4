//! Long talks are transcribed in overlapping windows: each window is decoded on its own (a
//! bounded amount of audio in memory, progress after each one, a cancelled job stops within a
//! window), and the windows' words are stitched back into one sequence.
//!
//! Every window but the first starts `overlap` before the previous one ends, so the speech
//! there is heard twice. Whisper is least reliable at a window's edges (a word cut in half is
//! dropped or guessed), so the seam is put where both windows agree: a word both heard, with
//! nearly the same timing, as close to the middle of the overlap as there is one. The earlier
//! window's words up to that word and the later window's words after it are kept. Without such
//! a word the seam is the middle of the overlap, and a word there that both windows give is
//! kept once.

use ferrotape_model::subtitles::Word;

/// One window of audio to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The windows covering `duration_ms` of audio. `overlap_ms` is clamped below half a window so
/// every window moves forward.
pub fn plan(duration_ms: u64, window_ms: u64, overlap_ms: u64) -> Vec<Window> {
    let window_ms = window_ms.max(2);
    let overlap_ms = overlap_ms.min((window_ms - 1) / 2);
    let mut windows = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + window_ms).min(duration_ms);
        windows.push(Window {
            start_ms: start,
            end_ms: end,
        });
        if end >= duration_ms {
            return windows;
        }
        start += window_ms - overlap_ms;
    }
}

/// Two timings of one word by two windows differ by less than this.
const SAME_WORD_MS: u64 = 400;

/// The words of the windows so far, on the talk's clock.
#[derive(Debug, Default)]
pub struct Stitcher {
    words: Vec<Word>,
    /// Where the last window given ended.
    last_end_ms: u64,
}

impl Stitcher {
    /// Adds the next window's words (times already on the talk's clock). A window skipped as
    /// silent is added with no words.
    pub fn add(&mut self, window: &Window, words: Vec<Word>) {
        let overlap =
            (window.start_ms < self.last_end_ms).then_some((window.start_ms, self.last_end_ms));
        self.last_end_ms = window.end_ms;
        let Some((from, until)) = overlap else {
            self.words.extend(words);
            return;
        };
        let middle = (from + until) / 2;
        let tail = self.words.partition_point(|w| w.start_ms < from);
        let anchor = (tail..self.words.len())
            .flat_map(|i| words.iter().enumerate().map(move |(j, _)| (i, j)))
            .filter(|&(i, j)| {
                let (a, b) = (&self.words[i], &words[j]);
                b.start_ms < until
                    && a.start_ms.abs_diff(b.start_ms) < SAME_WORD_MS
                    && same_text(a, b)
            })
            .min_by_key(|&(i, _)| midpoint(&self.words[i]).abs_diff(middle));
        match anchor {
            Some((i, j)) => {
                self.words.truncate(i + 1);
                self.words.extend(words.into_iter().skip(j + 1));
            }
            None => {
                self.words
                    .retain(|w| w.start_ms < from || midpoint(w) < middle);
                let mut later = words
                    .into_iter()
                    .filter(|w| midpoint(w) >= middle)
                    .peekable();
                if let (Some(last), Some(first)) = (self.words.last(), later.peek())
                    && same_text(last, first)
                    && last.start_ms.abs_diff(first.start_ms) < SAME_WORD_MS
                {
                    later.next();
                }
                self.words.extend(later);
            }
        }
    }

    pub fn finish(self) -> Vec<Word> {
        self.words
    }
}

fn midpoint(word: &Word) -> u64 {
    (word.start_ms + word.end_ms) / 2
}

/// Equal text, ignoring case and punctuation ("Cut," and "cut").
fn same_text(a: &Word, b: &Word) -> bool {
    let norm = |w: &Word| -> String {
        w.text
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: u64, end_ms: u64) -> Word {
        Word {
            start_ms,
            end_ms,
            text: text.to_owned(),
            probability: 0.9,
        }
    }

    fn texts(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn windows_cover_the_audio_and_overlap() {
        let spans: Vec<_> = plan(25_000, 10_000, 2_000)
            .iter()
            .map(|w| (w.start_ms, w.end_ms))
            .collect();
        assert_eq!(spans, [(0, 10_000), (8_000, 18_000), (16_000, 25_000)]);
        assert_eq!(plan(4_000, 10_000, 2_000).len(), 1);
        assert_eq!(
            plan(0, 10_000, 2_000),
            [Window {
                start_ms: 0,
                end_ms: 0
            }]
        );
        // An overlap of half a window or more would never advance; it is clamped.
        let windows = plan(100_000, 10_000, 9_000);
        assert!(windows.windows(2).all(|w| w[1].start_ms > w[0].start_ms));
        assert!(windows.len() < 25);
    }

    #[test]
    fn the_seam_is_a_word_both_windows_heard() {
        let windows = plan(20_000, 10_000, 4_000);
        let mut stitcher = Stitcher::default();
        // The first window heard "seven eight" but lost "nine" at its very edge; the second
        // heard "eight nine" but mangled "seven" at its start.
        stitcher.add(
            &windows[0],
            vec![
                word("six", 5_000, 5_400),
                word("seven", 6_800, 7_200),
                word("eight", 7_900, 8_300),
            ],
        );
        stitcher.add(
            &windows[1],
            vec![
                word("heaven", 6_100, 6_500),
                word("eight", 7_950, 8_350),
                word("nine", 9_600, 9_900),
                word("ten", 10_500, 10_900),
            ],
        );
        assert_eq!(
            texts(&stitcher.finish()),
            ["six", "seven", "eight", "nine", "ten"]
        );
    }

    #[test]
    fn without_a_shared_word_the_middle_of_the_overlap_is_the_seam() {
        let windows = plan(20_000, 10_000, 2_000);
        let mut stitcher = Stitcher::default();
        // Overlap 8–10 s, middle 9 s.
        stitcher.add(
            &windows[0],
            vec![word("left", 8_200, 8_600), word("edge", 9_500, 9_900)],
        );
        stitcher.add(
            &windows[1],
            vec![word("lefty", 8_300, 8_700), word("right", 9_200, 9_600)],
        );
        assert_eq!(texts(&stitcher.finish()), ["left", "right"]);
    }

    #[test]
    fn a_word_said_twice_stays_twice() {
        let windows = plan(20_000, 10_000, 2_000);
        let mut stitcher = Stitcher::default();
        stitcher.add(
            &windows[0],
            vec![word("no", 8_000, 8_400), word("no", 9_100, 9_400)],
        );
        stitcher.add(
            &windows[1],
            vec![
                word("no", 8_050, 8_450),
                word("no", 9_150, 9_450),
                word("way", 9_600, 9_900),
            ],
        );
        assert_eq!(texts(&stitcher.finish()), ["no", "no", "way"]);
    }

    #[test]
    fn a_silent_window_leaves_no_seam_to_mend() {
        let windows = plan(30_000, 10_000, 2_000);
        let mut stitcher = Stitcher::default();
        stitcher.add(&windows[0], vec![word("before", 1_000, 1_500)]);
        stitcher.add(&windows[1], Vec::new());
        stitcher.add(
            &windows[2],
            vec![word("after", 17_000, 17_500), word("later", 20_000, 20_400)],
        );
        assert_eq!(texts(&stitcher.finish()), ["before", "after", "later"]);
    }
}
