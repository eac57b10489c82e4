//! SubRip (`.srt`) read and written: what most desktop subtitle tools export.

use super::text::{self, count, quote};
use super::vtt::{cue_of_lines, parse_timing_with};
use super::{Cue, MAX_CUES, Problems, SubtitleError, normalize_text};

/// Reads a SubRip file into cues in file order, with the same rules and refusals as
/// [`super::parse_vtt`] where they apply: blocks separated by blank lines, each an optional
/// index line (any line: numbers are not checked, many files number badly), a timing line
/// `hh:mm:ss,mmm --> hh:mm:ss,mmm` (`.` accepted too, as is text after the end time such as
/// `X1:…` coordinates, ignored) and text lines. Tags (`<i>`, `<font color=…>`, any other)
/// and `{\an8}`-style override blocks are removed, character references decoded, the text
/// normalised; cues with empty text are left out.
pub fn parse_srt(bytes: &[u8]) -> Result<Vec<Cue>, SubtitleError> {
    let text = super::decode(bytes)?;
    let mut problems = Problems::default();
    let mut lines = text::lines(text);
    let mut cues = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let mut payload = String::new();
    loop {
        block.clear();
        for (number, line) in lines.by_ref() {
            if !line.trim().is_empty() {
                block.push((number, line));
            } else if !block.is_empty() {
                break;
            }
        }
        let Some(&(first_number, first)) = block.first() else {
            break;
        };
        let timing_at = if first.contains("-->") { 0 } else { 1 };
        let Some(&(timing_number, timing)) =
            block.get(timing_at).filter(|(_, l)| l.contains("-->"))
        else {
            let (number, line) = block.get(1).copied().unwrap_or((first_number, first));
            problems.push(
                number,
                format!(
                    "missing `-->`: a cue is an optional number line, a timing line such as \
                     `00:00:01,000 --> 00:00:04,000` and its text, found {}",
                    quote(line)
                ),
            );
            continue;
        };
        if cues.len() == MAX_CUES {
            problems.push(
                timing_number,
                format!("the file holds more than {}", count(MAX_CUES, "cue")),
            );
            break;
        }
        let Some((start_ms, end_ms)) =
            parse_timing_with(timing, timing_number, &[',', '.'], &mut problems)
        else {
            continue;
        };
        if let Some(cue) = cue_of_lines(
            (start_ms, end_ms),
            timing_number,
            &block[timing_at + 1..],
            true,
            &mut payload,
            &mut problems,
        ) {
            cues.push(cue);
        }
    }
    problems.into_result(cues)
}

/// Writes cues as SubRip in the given order: a number from 1, `hh:mm:ss,mmm -->
/// hh:mm:ss,mmm`, the normalised text, a blank line; LF line ends. SubRip has no escapes,
/// so the text is written as is except what the reader would take for markup (a `<` that
/// starts a tag, a `&` that starts a character reference, `{\`, the `>` of `-->`), which is
/// written as a character reference. Empty texts and zero-length cues as in
/// [`super::write_vtt`].
pub fn write_srt(cues: &[Cue]) -> String {
    let mut out = String::with_capacity(cues.len() * 64);
    let mut index = 0usize;
    for cue in cues {
        let text = normalize_text(&cue.text);
        if text.is_empty() {
            continue;
        }
        index += 1;
        out.push_str(&index.to_string());
        out.push('\n');
        text::write_timing(
            cue.start_ms,
            cue.end_ms.max(cue.start_ms + 1),
            ',',
            &mut out,
        );
        text::write_payload(&text, text::escape_srt, &mut out);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subtitles::vtt::tests::cue_list;
    use proptest::prelude::*;

    fn problems(input: &str) -> Vec<(usize, String)> {
        parse_srt(input.as_bytes())
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect()
    }

    #[test]
    fn a_typical_file_reads() {
        let input = "\u{feff}1\r\n00:00:01,000 --> 00:00:04,000\r\n<i>Hello</i> there,\r\n{\\an8}<font color=\"#fff\">friend</font>\r\n\r\n\
                     2\r\n00:00:04.500 --> 00:00:06,000 X1:100 X2:600 Y1:10 Y2:50\r\nTom & Jerry &amp; a < b\r\n\r\n\r\n\
                     00:01:00,000 --> 00:01:01,000\r\nno number\r\n";
        assert_eq!(
            parse_srt(input.as_bytes()),
            Ok(vec![
                Cue::new(1000, 4000, "Hello there,\nfriend"),
                Cue::new(4500, 6000, "Tom & Jerry & a < b"),
                Cue::new(60_000, 61_000, "no number"),
            ])
        );
        // Bad numbering is tolerated, lone CRs too.
        let input =
            "7\r00:00:01,000 --> 00:00:02,000\rx\r\rseven\r00:00:02,000 --> 00:00:03,000\ry\r";
        assert_eq!(parse_srt(input.as_bytes()).unwrap().len(), 2);
        assert_eq!(parse_srt(b""), Ok(vec![]));
        assert_eq!(parse_srt(b"\n\n  \n"), Ok(vec![]));
    }

    #[test]
    fn scripts_become_text_and_the_writer_escapes_what_must_be() {
        let cues =
            parse_srt(b"1\n00:00:01,000 --> 00:00:02,000\n<script>alert(1)</script>\n").unwrap();
        assert_eq!(cues[0].text, "alert(1)");
        let written = write_srt(&[
            Cue::new(1000, 2000, "<script>alert(1)</script>"),
            Cue::new(2000, 3000, "Tom & Jerry: a < b, &amp; -->\n{\\an8} {plain}"),
        ]);
        assert_eq!(
            written,
            "1\n00:00:01,000 --> 00:00:02,000\n&lt;script>alert(1)&lt;/script>\n\n\
             2\n00:00:02,000 --> 00:00:03,000\nTom & Jerry: a < b, &amp;amp; --&gt;\n&#123;\\an8} {plain}\n\n"
        );
        let back = parse_srt(written.as_bytes()).unwrap();
        assert_eq!(back[0].text, "<script>alert(1)</script>");
        assert_eq!(
            back[1].text,
            "Tom & Jerry: a < b, &amp; -->\n{\\an8} {plain}"
        );
    }

    #[test]
    fn every_error_names_its_line() {
        let input = "1\n00:00:01,000 00:00:02,000\nx\n\n\
                     2\n00:00:01,000 --> 00:61:00,000\ny\n\n\
                     3\n00:00:03,000 --> 00:00:02,000\nz\n\n\
                     4\n00:00:03,000 --> 00:00:04,000\nfirst\n5\n00:00:04,000 --> 00:00:05,000\nsecond\n\n\
                     just a line\n\n\
                     6\n00:00:09;000 --> 00:00:10,000\nw\n";
        let all = problems(input);
        let lines: Vec<usize> = all.iter().map(|p| p.0).collect();
        assert_eq!(lines, [2, 6, 10, 17, 20, 23], "{all:?}");
        assert!(all[0].1.starts_with("missing `-->`"), "{}", all[0].1);
        assert!(
            all[1]
                .1
                .contains("\"00:61:00,000\": minutes must be 00 to 59"),
            "{}",
            all[1].1
        );
        assert_eq!(
            all[2].1,
            "the cue ends (00:00:02,000) before it starts (00:00:03,000)"
        );
        assert!(all[3].1.contains("blank line missing"), "{}", all[3].1);
        assert!(all[4].1.contains("\"just a line\""), "{}", all[4].1);
        assert!(all[5].1.contains("\"00:00:09;000\""), "{}", all[5].1);
    }

    #[test]
    fn too_many_cues_and_long_texts_are_refused() {
        let mut input = String::new();
        for i in 0..=MAX_CUES as u64 {
            input.push_str("00:00:00,000 --> ");
            crate::subtitles::format_timestamp(&mut input, i + 1, ',');
            input.push_str("\nx\n\n");
        }
        let all = problems(&input);
        assert_eq!(
            all,
            [(
                1 + 3 * MAX_CUES,
                "the file holds more than 20000 cues".to_owned()
            )]
        );
        let input = format!("1\n00:00:01,000 --> 00:00:02,000\n{}\n", "y".repeat(1001));
        assert_eq!(problems(&input)[0].0, 2);
    }

    proptest! {
        #[test]
        fn write_then_parse_is_identity(cues in cue_list()) {
            let written = write_srt(&cues);
            prop_assert_eq!(parse_srt(written.as_bytes()), Ok(cues));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_srt(&bytes);
            let _ = super::super::parse_subtitles(&bytes, Some("x.srt"));
        }

        #[test]
        fn arbitrary_cue_like_text_never_panics(
            body in "([0-9:,.]{0,14}|-->| |\n|\r|<[a-z/0-9.]{0,4}>?|\\{\\\\?[a-z0-9]{0,3}\\}?|&[#a-z0-9]{0,5};?|.){0,60}"
        ) {
            if let Ok(cues) = parse_srt(body.as_bytes()) {
                prop_assert!(super::super::validate_cues(&cues).is_ok());
            }
        }
    }
}
