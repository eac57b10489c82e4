//! Subtitles: cues (with Whisper's word timings), WebVTT and SubRip read and written, the
//! segmented WebVTT of an HLS subtitle rendition, and the subtitle editor's checks and edits.
//!
//! Subtitle files come from editors' uploads and from other tools, so the readers are strict
//! in one way and lenient in another: a file with any structural error is refused as a whole
//! (every problem listed with its line, nothing half-read kept), while markup is never an
//! error: cue text always comes out as plain text (tags removed, entities decoded, see
//! [`normalize_text`]), so nothing a file carries can reach a page as markup. The writers
//! escape what the readers would take as markup, so write → read gives the same cues back.

mod checks;
mod cue;
mod editing;
mod hls;
mod srt;
mod text;
mod vtt;

use serde::{Deserialize, Serialize};

pub use checks::{
    CheckLimits, CueWarning, WarningKind, check_cues, merge_cues, snap_time, split_cue_at,
    split_cue_at_word,
};
pub use cue::{
    Cue, CueError, MAX_CUE_TEXT_CHARS, SubtitleTrack, TrackError, TrackKind, Word, normalize_text,
    sort_cues, validate_cues,
};
pub use editing::{CueSave, EditableTrack, SubtitleEditorData, TrackList, TrackSummary};
pub use hls::{
    DEFAULT_SEGMENT_MS, MPEGTS_FOR_ZERO_START, SUBTITLE_GROUP_ID, SegmentedVtt, SubtitleHlsError,
    SubtitleRendition, VttSegment, master_with_subtitles, segment_vtt,
};
pub use srt::{parse_srt, write_srt};
pub use vtt::{parse_vtt, write_vtt};

/// The largest subtitle file read: 8 MiB holds some 100,000 cues of ordinary speech, far
/// beyond any talk, and is refused before a single line is parsed.
pub const MAX_SUBTITLE_BYTES: usize = 8 * 1024 * 1024;
/// The most cues one file may hold: a cue every 1.5 s for more than eight hours.
pub const MAX_CUES: usize = 20_000;
/// How many problems a refusal lists; the rest are only counted, so a binary file renamed
/// `.srt` gives a readable answer, not a million lines.
pub const MAX_PROBLEMS: usize = 20;

/// One problem of a refused file, at a line (1-based; a CR LF pair ends one line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

/// Why a subtitle file was refused. Messages never hold a raw line break (quoted file
/// content is shortened and debug-escaped), so they can go in a log line or a toast as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubtitleError {
    #[error(
        "the subtitle file is {size} bytes, more than the limit of {limit} bytes ({} MiB)",
        limit / (1024 * 1024)
    )]
    TooLarge { size: usize, limit: usize },
    /// The first [`MAX_PROBLEMS`] problems in file order; `omitted` counts the others.
    #[error("{}", describe(problems, *omitted))]
    Invalid {
        problems: Vec<Problem>,
        omitted: usize,
    },
}

impl SubtitleError {
    /// The listed problems (none for a file refused for its size).
    pub fn problems(&self) -> &[Problem] {
        match self {
            SubtitleError::TooLarge { .. } => &[],
            SubtitleError::Invalid { problems, .. } => problems,
        }
    }
}

fn describe(problems: &[Problem], omitted: usize) -> String {
    let mut out = String::from("the subtitle file cannot be read: ");
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&format!("line {}: {}", p.line, p.message));
    }
    if omitted > 0 {
        out.push_str(&format!(" (and {omitted} more problems)"));
    }
    out
}

/// The two formats read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubtitleFormat {
    WebVtt,
    SubRip,
}

impl SubtitleFormat {
    /// WebVTT when the text starts with `WEBVTT` (after a byte order mark), whatever the
    /// name says; otherwise WebVTT only for a name ending in `.vtt` (so a `.vtt` without its
    /// header is refused with "missing header", not with SubRip's complaints), else SubRip.
    pub fn sniff(bytes: &[u8], filename_hint: Option<&str>) -> SubtitleFormat {
        let body = bytes.strip_prefix(text::BOM).unwrap_or(bytes);
        let named_vtt = filename_hint.is_some_and(|name| {
            name.rsplit_once('.')
                .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("vtt"))
        });
        if body.starts_with(b"WEBVTT") || named_vtt {
            SubtitleFormat::WebVtt
        } else {
            SubtitleFormat::SubRip
        }
    }
}

/// Reads an uploaded subtitle file of either format (see [`SubtitleFormat::sniff`]).
///
/// An empty file (or one with only a header) gives no cues; the caller decides whether that
/// is acceptable.
pub fn parse_subtitles(
    bytes: &[u8],
    filename_hint: Option<&str>,
) -> Result<Vec<Cue>, SubtitleError> {
    match SubtitleFormat::sniff(bytes, filename_hint) {
        SubtitleFormat::WebVtt => parse_vtt(bytes),
        SubtitleFormat::SubRip => parse_srt(bytes),
    }
}

/// Problems gathered while reading a file: the first [`MAX_PROBLEMS`] kept, the rest counted.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    kept: Vec<Problem>,
    omitted: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, line: usize, message: impl Into<String>) {
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(Problem {
                line,
                message: message.into(),
            });
        } else {
            self.omitted += 1;
        }
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<T, SubtitleError> {
        if self.kept.is_empty() {
            Ok(value)
        } else {
            Err(SubtitleError::Invalid {
                problems: self.kept,
                omitted: self.omitted,
            })
        }
    }
}

/// The shared first steps of both readers: the size cap, then UTF-8 (with the line of the
/// first invalid byte), then the byte order mark removed.
pub(crate) fn decode(bytes: &[u8]) -> Result<&str, SubtitleError> {
    if bytes.len() > MAX_SUBTITLE_BYTES {
        return Err(SubtitleError::TooLarge {
            size: bytes.len(),
            limit: MAX_SUBTITLE_BYTES,
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let valid = &bytes[..err.valid_up_to()];
            let line = text::line_breaks(std::str::from_utf8(valid).unwrap_or_default()) + 1;
            let mut problems = Problems::default();
            problems.push(
                line,
                format!(
                    "the file is not UTF-8 text (byte 0x{:02X} at offset {}); save it as UTF-8 \
                     and upload it again",
                    bytes[err.valid_up_to()],
                    err.valid_up_to()
                ),
            );
            return problems.into_result("");
        }
    };
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// `hh:mm:ss.mmm` (hours grow past two digits if they must), with `.` for WebVTT and `,` for
/// SubRip.
pub(crate) fn format_timestamp(out: &mut String, millis: u64, separator: char) {
    use std::fmt::Write as _;
    let (secs, ms) = (millis / 1000, millis % 1000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}{separator}{ms:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
}

/// Reads `[h…h:]mm:ss<sep>mmm` where `<sep>` is one of `separators`. Minutes and seconds are
/// two digits below 60, milliseconds three digits; hours any number of digits (one is
/// tolerated, WebVTT asks for two). The message says what is wrong, quoting the text.
pub(crate) fn parse_timestamp(text: &str, separators: &[char]) -> Result<u64, String> {
    let bad = |why: &str| format!("bad timestamp {}: {why}", text::quote(text));
    let (clock, millis) = text
        .rsplit_once(|c| separators.contains(&c))
        .ok_or_else(|| bad("expected hh:mm:ss.mmm"))?;
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("milliseconds are three digits"));
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [m, s] => ("0", *m, *s),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(bad("expected hh:mm:ss.mmm or mm:ss.mmm")),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) || !digits(seconds) {
        return Err(bad("only digits are allowed (times cannot be negative)"));
    }
    if minutes.len() != 2 || seconds.len() != 2 {
        return Err(bad("minutes and seconds are two digits"));
    }
    let (m, s): (u64, u64) = (minutes.parse().unwrap_or(99), seconds.parse().unwrap_or(99));
    if m > 59 {
        return Err(bad("minutes must be 00 to 59"));
    }
    if s > 59 {
        return Err(bad("seconds must be 00 to 59"));
    }
    let h: u64 = hours.parse().map_err(|_| bad("too many hours"))?;
    let ms: u64 = millis.parse().unwrap_or(0);
    h.checked_mul(3_600_000)
        .and_then(|t| t.checked_add(m * 60_000 + s * 1000 + ms))
        .ok_or_else(|| bad("too many hours"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_strictly() {
        let vtt = |t| parse_timestamp(t, &['.']);
        assert_eq!(vtt("00:00:01.000"), Ok(1000));
        assert_eq!(vtt("01:02:03.004"), Ok(3_723_004));
        assert_eq!(vtt("02:03.004"), Ok(123_004));
        assert_eq!(vtt("100:00:00.000"), Ok(360_000_000));
        assert_eq!(vtt("0:00:01.500"), Ok(1500));
        for (bad, why) in [
            ("00:61:00.000", "minutes must be 00 to 59"),
            ("00:00:60.000", "seconds must be 00 to 59"),
            ("-00:00:01.000", "cannot be negative"),
            ("00:00:01,000", "expected hh:mm:ss.mmm"),
            ("00:00:01.5", "three digits"),
            ("00:0:01.500", "two digits"),
            ("1.000", "expected hh:mm:ss.mmm or mm:ss.mmm"),
            ("99999999999999999999:00:00.000", "too many hours"),
            ("", "expected"),
        ] {
            let err = vtt(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert_eq!(parse_timestamp("00:00:01,250", &[',', '.']), Ok(1250));
        let mut out = String::new();
        format_timestamp(&mut out, 360_000_000 + 3_723_004, ',');
        assert_eq!(out, "101:02:03,004");
    }

    #[test]
    fn the_format_follows_the_content_then_the_name() {
        let f = SubtitleFormat::sniff;
        assert_eq!(f(b"WEBVTT\n", Some("a.srt")), SubtitleFormat::WebVtt);
        assert_eq!(f(b"\xEF\xBB\xBFWEBVTT\n", None), SubtitleFormat::WebVtt);
        assert_eq!(
            f(b"1\n00:00:01,000 --> 00:00:02,000\nx\n", None),
            SubtitleFormat::SubRip
        );
        assert_eq!(f(b"1\n", Some("captions.VTT")), SubtitleFormat::WebVtt);
        assert_eq!(f(b"", Some("vtt")), SubtitleFormat::SubRip);
        let err =
            parse_subtitles(b"00:00:01.000 --> 00:00:02.000\nx\n", Some("a.vtt")).unwrap_err();
        assert_eq!(err.problems()[0].line, 1);
        assert!(err.problems()[0].message.contains("WEBVTT"), "{err}");
        let cues =
            parse_subtitles(b"1\n00:00:01,000 --> 00:00:02,000\nHi\n", Some("a.srt")).unwrap();
        assert_eq!(cues, [Cue::new(1000, 2000, "Hi")]);
        assert_eq!(parse_subtitles(b"", None), Ok(vec![]));
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        // 50 MB of cues: refused by its size alone, at once.
        let cue = b"00:00:01.000 --> 00:00:02.000\nHello\n\n";
        let mut big = b"WEBVTT\n\n".to_vec();
        while big.len() < 50_000_000 {
            big.extend_from_slice(cue);
        }
        let started = std::time::Instant::now();
        let err = parse_subtitles(&big, Some("big.vtt")).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert_eq!(
            err,
            SubtitleError::TooLarge {
                size: big.len(),
                limit: MAX_SUBTITLE_BYTES
            }
        );
        assert!(err.to_string().contains("8388608 bytes (8 MiB)"), "{err}");
        let err = parse_srt(&big).unwrap_err();
        assert!(matches!(err, SubtitleError::TooLarge { .. }));
        // Exactly the limit is read.
        let mut edge = b"WEBVTT\n\n".to_vec();
        edge.resize(MAX_SUBTITLE_BYTES, b'\n');
        assert_eq!(parse_vtt(&edge), Ok(vec![]));
    }

    #[test]
    fn non_utf8_is_refused_at_its_line() {
        let err = parse_vtt(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\ncaf\xE9\n").unwrap_err();
        assert_eq!(err.problems().len(), 1);
        assert_eq!(err.problems()[0].line, 4);
        assert!(err.problems()[0].message.contains("not UTF-8"), "{err}");
        assert!(err.problems()[0].message.contains("0xE9"), "{err}");
        let err = parse_srt(b"\xFF\xFE1\r\n").unwrap_err();
        assert_eq!(err.problems()[0].line, 1);
        // CR LF counts once, a lone CR counts too.
        let err = parse_srt(b"1\r\n2\r3\n\x80").unwrap_err();
        assert_eq!(err.problems()[0].line, 4);
    }

    #[test]
    fn refusals_read_as_one_line() {
        let mut problems = Problems::default();
        for line in 1..=25 {
            problems.push(line, format!("problem {line}"));
        }
        let err = problems.into_result(()).unwrap_err();
        assert_eq!(err.problems().len(), MAX_PROBLEMS);
        let text = err.to_string();
        assert!(text.starts_with("the subtitle file cannot be read: line 1: problem 1; line 2"));
        assert!(
            text.ends_with("line 20: problem 20 (and 5 more problems)"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["kind"], "invalid");
        assert_eq!(json["problems"][0]["line"], 1);
    }
}
