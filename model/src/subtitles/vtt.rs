//! WebVTT (<https://www.w3.org/TR/webvtt1/>) read and written: the track the player's
//! `<track>` element loads, Whisper's output format, and what editors upload most.

use super::text::{self, count, quote};
use super::{Cue, MAX_CUE_TEXT_CHARS, MAX_CUES, Problems, SubtitleError, normalize_text};

/// Reads a WebVTT file into cues in file order.
///
/// Accepted: a byte order mark; CR LF, CR or LF line ends; `WEBVTT` alone or followed by a
/// space or tab and any text, then header lines (`X-TIMESTAMP-MAP`, `Kind:`, …, ignored) up
/// to a blank line; `NOTE`, `STYLE` and `REGION` blocks (skipped); cue identifiers (dropped);
/// `hh:mm:ss.mmm` and `mm:ss.mmm` times; cue settings (`align:start line:0`, ignored: the
/// player places cues itself); lines of only white space count as blank. Cue text becomes
/// plain text: every tag is removed with its inner text kept (`<b>`, `<v Speaker>`, `<c.x>`,
/// `<lang>`, timestamp tags, and unknown ones: `<script>alert(1)</script>` reads as
/// `alert(1)`), ruby annotations are dropped, character references are decoded and the text
/// is normalised ([`normalize_text`]). Cues whose text is empty after that are left out
/// (they show nothing). Overlapping cues are allowed, as in WebVTT.
///
/// Refused as a whole, with every problem and its line: a missing header, a cue without a
/// `-->` timing line, a bad time (`00:61:00.000`, `-00:00:01.000`), a cue that does not end
/// after it starts, a `-->` line inside cue text (a missing blank line), a text over
/// [`MAX_CUE_TEXT_CHARS`], more than [`MAX_CUES`] cues, non-UTF-8 bytes and files over
/// [`super::MAX_SUBTITLE_BYTES`].
pub fn parse_vtt(bytes: &[u8]) -> Result<Vec<Cue>, SubtitleError> {
    let text = super::decode(bytes)?;
    let mut problems = Problems::default();
    let mut lines = text::lines(text);

    let signature = lines.next().map_or("", |(_, line)| line);
    let header_ok = signature
        .strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    if !header_ok {
        problems.push(
            1,
            format!(
                "missing header: a WebVTT file starts with a line `WEBVTT`, this one with {}",
                quote(signature)
            ),
        );
        return problems.into_result(Vec::new());
    }
    for (number, line) in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if line.contains("-->") {
            problems.push(
                number,
                "a blank line must separate the `WEBVTT` header from the first cue",
            );
        }
    }

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
        if ["NOTE", "STYLE", "REGION"].iter().any(|keyword| {
            first
                .strip_prefix(keyword)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        }) {
            continue;
        }
        // An optional identifier line, then the timing line.
        let timing_at = if first.contains("-->") { 0 } else { 1 };
        let Some(&(timing_number, timing)) =
            block.get(timing_at).filter(|(_, l)| l.contains("-->"))
        else {
            let (number, line) = block.get(1).copied().unwrap_or((first_number, first));
            problems.push(
                number,
                format!(
                    "missing `-->`: a cue starts with a timing line such as \
                     `00:00:01.000 --> 00:00:04.000` (after an optional identifier line), \
                     found {}",
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
        let Some((start_ms, end_ms)) = parse_timing(timing, timing_number, &mut problems) else {
            continue;
        };

        if let Some(cue) = cue_of_lines(
            (start_ms, end_ms),
            timing_number,
            &block[timing_at + 1..],
            false,
            &mut payload,
            &mut problems,
        ) {
            cues.push(cue);
        }
    }
    problems.into_result(cues)
}

/// The start and end of a timing line (`start --> end [settings]`), problems reported at
/// `number`. Shared with SubRip, which also writes `,` before the milliseconds.
pub(crate) fn parse_timing_with(
    line: &str,
    number: usize,
    separators: &[char],
    problems: &mut Problems,
) -> Option<(u64, u64)> {
    let (start, rest) = line.split_once("-->")?;
    let end = rest.split_whitespace().next().unwrap_or("");
    let start = super::parse_timestamp(start.trim(), separators);
    let end = super::parse_timestamp(end, separators);
    match (start, end) {
        (Ok(start), Ok(end)) if end > start => Some((start, end)),
        (Ok(start), Ok(end)) => {
            let (mut a, mut b) = (String::new(), String::new());
            super::format_timestamp(&mut a, start, separators[0]);
            super::format_timestamp(&mut b, end, separators[0]);
            let how = if end == start { "when" } else { "before" };
            problems.push(number, format!("the cue ends ({b}) {how} it starts ({a})"));
            None
        }
        (start, end) => {
            for err in [start.err(), end.err()].into_iter().flatten() {
                problems.push(number, err);
            }
            None
        }
    }
}

fn parse_timing(line: &str, number: usize, problems: &mut Problems) -> Option<(u64, u64)> {
    parse_timing_with(line, number, &['.'], problems)
}

/// A cue from its text lines (`(line number, line)` after the timing line), shared by both
/// readers: markup made plain (`strip_overrides`: SubRip's `{\\an8}` blocks too), a `-->` inside
/// the text refused at its line. `payload` is a buffer kept between cues.
pub(crate) fn cue_of_lines(
    (start_ms, end_ms): (u64, u64),
    timing_number: usize,
    lines: &[(usize, &str)],
    strip_overrides: bool,
    payload: &mut String,
    problems: &mut Problems,
) -> Option<Cue> {
    payload.clear();
    let mut in_ruby_text = false;
    let mut well_formed = true;
    for &(number, line) in lines {
        if line.contains("-->") {
            problems.push(
                number,
                "a `-->` line inside a cue's text: is a blank line missing before it?",
            );
            well_formed = false;
        }
        text::plain_line(line, strip_overrides, &mut in_ruby_text, payload);
        payload.push('\n');
    }
    let text = normalize_text(payload);
    finish_cue(start_ms, end_ms, text, timing_number, problems).filter(|_| well_formed)
}

/// The cue, unless its text is too long (a problem) or empty (left out).
pub(crate) fn finish_cue(
    start_ms: u64,
    end_ms: u64,
    text: String,
    number: usize,
    problems: &mut Problems,
) -> Option<Cue> {
    if text.is_empty() {
        return None;
    }
    let chars = text.chars().count();
    if chars > MAX_CUE_TEXT_CHARS {
        problems.push(
            number,
            format!("the cue's text is {chars} characters long, more than {MAX_CUE_TEXT_CHARS}"),
        );
        return None;
    }
    Some(Cue::new(start_ms, end_ms, text))
}

/// Writes cues as WebVTT, in the given order (sort first for display order): `WEBVTT`, a
/// blank line, then per cue `hh:mm:ss.mmm --> hh:mm:ss.mmm`, its normalised text with `&`,
/// `<` and `>` escaped (so no text reads as markup or as a timing line, and a blank line in
/// the text cannot end the cue early), and a blank line. No identifiers, settings or
/// styles; the same cues always give the same bytes.
///
/// Cues with empty text are left out; a cue that does not end after it starts is written
/// lasting 1 ms (WebVTT readers drop it otherwise). What [`super::validate_cues`] accepts
/// reads back unchanged (words aside: WebVTT does not carry them).
pub fn write_vtt(cues: &[Cue]) -> String {
    let mut out = String::with_capacity(8 + cues.len() * 64);
    out.push_str("WEBVTT\n\n");
    write_cues(cues.iter(), &mut out);
    out
}

/// The cue blocks of a WebVTT file (shared with the HLS segments).
pub(crate) fn write_cues<'a>(cues: impl Iterator<Item = &'a Cue>, out: &mut String) {
    for cue in cues {
        let text = normalize_text(&cue.text);
        if text.is_empty() {
            continue;
        }
        text::write_timing(cue.start_ms, cue.end_ms.max(cue.start_ms + 1), '.', out);
        text::write_payload(&text, text::escape_vtt, out);
        out.push('\n');
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn problems(input: &str) -> Vec<(usize, String)> {
        parse_vtt(input.as_bytes())
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect()
    }

    fn one_problem(input: &str) -> (usize, String) {
        let all = problems(input);
        assert_eq!(all.len(), 1, "{all:?}");
        all.into_iter().next().unwrap()
    }

    #[test]
    fn a_whisper_file_reads() {
        let input = "WEBVTT\n\n00:00.000 --> 00:03.240\nHello and welcome.\n\n\
                     00:03.240 --> 00:07.000\nToday: subtitles.\n";
        assert_eq!(
            parse_vtt(input.as_bytes()),
            Ok(vec![
                Cue::new(0, 3240, "Hello and welcome."),
                Cue::new(3240, 7000, "Today: subtitles."),
            ])
        );
    }

    #[test]
    fn bom_crlf_header_text_notes_styles_identifiers_and_settings() {
        let input = "\u{feff}WEBVTT - captions\r\nKind: captions\r\nLanguage: en\r\n\r\n\
            NOTE written by hand\r\nover two lines\r\n\r\n\
            STYLE\r\n::cue { color: red }\r\n\r\n\
            REGION\r\nid:fred width:40%\r\n\r\n\
            intro\r\n00:00:01.000 --> 00:00:02.500 align:start line:0 position:10% foo:bar\r\n\
            <v Roger>Hi</v> &amp; <i>bye</i>\r\n  second line  \r\n\r\n\
            NOTE\r\n\r\n\
            2\r\n01:00:00.000 --> 01:00:01.000\r\n<c.yellow>x</c>\r\n";
        assert_eq!(
            parse_vtt(input.as_bytes()),
            Ok(vec![
                Cue::new(1000, 2500, "Hi & bye\nsecond line"),
                Cue::new(3_600_000, 3_601_000, "x"),
            ])
        );
        // Lone CRs, and a tab after the signature.
        let input = "WEBVTT\tx\r\r00:01.000 --> 00:02.000\rone\rtwo\r";
        assert_eq!(
            parse_vtt(input.as_bytes()),
            Ok(vec![Cue::new(1000, 2000, "one\ntwo")])
        );
    }

    #[test]
    fn markup_and_scripts_become_text() {
        let input = "WEBVTT\n\n00:01.000 --> 00:02.000\n<script>alert(1)</script>\n\n\
                     00:02.000 --> 00:03.000\n<b onclick=x>b</b> <00:02.500>t &lt;3 &#x1F600;\n";
        let cues = parse_vtt(input.as_bytes()).unwrap();
        assert_eq!(cues[0].text, "alert(1)");
        assert_eq!(cues[1].text, "b t <3 😀");
        // Written back, the text cannot be markup.
        let written = write_vtt(&[Cue::new(0, 1000, "<script>alert(1)</script> & -->")]);
        assert_eq!(
            written,
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n\
             &lt;script&gt;alert(1)&lt;/script&gt; &amp; --&gt;\n\n"
        );
        assert_eq!(
            parse_vtt(written.as_bytes()).unwrap()[0].text,
            "<script>alert(1)</script> & -->"
        );
    }

    #[test]
    fn empty_cues_and_empty_files() {
        assert_eq!(parse_vtt(b"WEBVTT"), Ok(vec![]));
        assert_eq!(parse_vtt(b"WEBVTT\n\n\n"), Ok(vec![]));
        assert_eq!(
            parse_vtt(b"WEBVTT\n\n00:01.000 --> 00:02.000\n\n"),
            Ok(vec![])
        );
        assert_eq!(
            parse_vtt(b"WEBVTT\n\n00:01.000 --> 00:02.000\n<i> </i>\n"),
            Ok(vec![])
        );
    }

    #[test]
    fn a_missing_header_is_refused() {
        for input in [
            "",
            "1\n00:00:01,000 --> 00:00:02,000\nx",
            "WEBVTTX\n",
            " WEBVTT\n",
            "webvtt\n",
        ] {
            let (line, message) = one_problem(input);
            assert_eq!(line, 1, "{input:?}");
            assert!(message.starts_with("missing header"), "{message}");
        }
        let (line, message) = one_problem("WEBVTT\n00:01.000 --> 00:02.000\nx\n");
        assert_eq!(line, 2);
        assert!(message.contains("blank line must separate"), "{message}");
    }

    #[test]
    fn a_cue_without_arrow_is_refused_at_its_line() {
        let (line, message) = one_problem("WEBVTT\n\nid\n00:00:01.000 00:00:02.000\nx\n");
        assert_eq!(line, 4);
        assert!(message.starts_with("missing `-->`"), "{message}");
        assert!(
            message.contains("\"00:00:01.000 00:00:02.000\""),
            "{message}"
        );
        let (line, _) = one_problem("WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\njust text\n");
        assert_eq!(line, 6);
    }

    #[test]
    fn bad_times_are_refused_at_their_line() {
        let input = "WEBVTT\n\n00:61:00.000 --> 01:00:00.000\nx\n\n\
                     00:00:05.000 --> 00:00:04.000\ny\n\n\
                     00:00:05.000 --> 00:00:05.000\nz\n\n\
                     -00:00:01.000 --> 00:00:01.000\nn\n\n\
                     00:00:01.000 --> 00:00:02.000align:start\nw\n";
        let all = problems(input);
        let lines: Vec<usize> = all.iter().map(|p| p.0).collect();
        assert_eq!(lines, [3, 6, 9, 12, 15], "{all:?}");
        assert!(
            all[0]
                .1
                .contains("\"00:61:00.000\": minutes must be 00 to 59"),
            "{}",
            all[0].1
        );
        assert_eq!(
            all[1].1,
            "the cue ends (00:00:04.000) before it starts (00:00:05.000)"
        );
        assert_eq!(
            all[2].1,
            "the cue ends (00:00:05.000) when it starts (00:00:05.000)"
        );
        assert!(all[3].1.contains("cannot be negative"), "{}", all[3].1);
        assert!(all[4].1.contains("00:00:02.000align:start"), "{}", all[4].1);
    }

    #[test]
    fn a_missing_blank_line_between_cues_is_refused() {
        let (line, message) = one_problem(
            "WEBVTT\n\n00:01.000 --> 00:02.000\nfirst\n00:02.000 --> 00:03.000\nsecond\n",
        );
        assert_eq!(line, 5);
        assert!(message.contains("blank line missing"), "{message}");
    }

    #[test]
    fn nothing_half_read_is_returned() {
        // One bad cue among good ones refuses the file, listing only the bad one.
        let mut input = String::from("WEBVTT\n\n");
        for i in 0..50 {
            input.push_str(&format!(
                "00:00:{:02}.000 --> 00:00:{:02}.500\ncue {i}\n\n",
                i % 60,
                i % 60
            ));
        }
        input.push_str("00:00:01.000 --> nonsense\nbad\n");
        let err = parse_vtt(input.as_bytes()).unwrap_err();
        assert_eq!(err.problems().len(), 1);
        assert_eq!(err.problems()[0].line, 3 + 50 * 3);
    }

    #[test]
    fn long_texts_and_too_many_cues_are_refused() {
        let input = format!("WEBVTT\n\n00:01.000 --> 00:02.000\n{}\n", "x".repeat(1001));
        let (line, message) = one_problem(&input);
        assert_eq!(line, 3);
        assert!(message.contains("1001 characters"), "{message}");

        let mut input = String::from("WEBVTT\n");
        for i in 0..=MAX_CUES as u64 {
            input.push_str("\n00:00.000 --> ");
            super::super::format_timestamp(&mut input, i + 1, '.');
            input.push_str("\nx\n");
        }
        let (line, message) = one_problem(&input);
        assert_eq!(line, 2 + MAX_CUES * 3 + 1);
        assert_eq!(message, "the file holds more than 20000 cues");
    }

    #[test]
    fn the_writer_collapses_blank_lines_and_is_deterministic() {
        let cues = [
            Cue::new(3_723_004, 3_724_000, "  one \n\n\n two\r\nthree "),
            Cue::new(5, 5, "zero length"),
            Cue::new(6, 7, " \n "),
        ];
        let written = write_vtt(&cues);
        assert_eq!(
            written,
            "WEBVTT\n\n01:02:03.004 --> 01:02:04.000\none\ntwo\nthree\n\n\
             00:00:00.005 --> 00:00:00.006\nzero length\n\n"
        );
        assert_eq!(write_vtt(&cues), written);
        assert_eq!(write_vtt(&[]), "WEBVTT\n\n");
    }

    /// Text as the editor might hold it: any characters, with markup-like ones and line
    /// breaks more likely than chance.
    pub(crate) fn cue_text() -> impl Strategy<Value = String> {
        let fragments = vec![
            "<",
            ">",
            "&",
            ";",
            "#",
            "-",
            "\n",
            "\r",
            " ",
            "\t",
            "{",
            "\\",
            "}",
            "&amp;",
            "<i>",
            "</b>",
            "-->",
            "{\\an8}",
            "&#65;",
            "&lt;",
            "<rt>",
            "</rt>",
            "NOTE",
            "\r\n\r\n",
            "1",
            "00:00:01.000 --> 00:00:02.000",
            "\u{feff}",
            "\u{a0}",
        ];
        prop::collection::vec(
            prop_oneof![
                3 => any::<char>().prop_map(String::from),
                2 => prop::sample::select(fragments).prop_map(String::from),
            ],
            1..30,
        )
        .prop_map(|parts| normalize_text(&parts.concat()))
        .prop_filter("non-empty", |s| !s.is_empty())
    }

    pub(crate) fn cue_list() -> impl Strategy<Value = Vec<Cue>> {
        prop::collection::vec((0u64..400_000_000, 1u64..100_000, cue_text()), 0..12).prop_map(
            |cues| {
                cues.into_iter()
                    .map(|(start, length, text)| Cue::new(start, start + length, text))
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn write_then_parse_is_identity(cues in cue_list()) {
            let written = write_vtt(&cues);
            prop_assert_eq!(parse_vtt(written.as_bytes()), Ok(cues));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_vtt(&bytes);
            let mut with_header = b"WEBVTT\n\n".to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = parse_vtt(&with_header);
        }

        #[test]
        fn arbitrary_cue_like_text_never_panics(
            body in "(WEBVTT|NOTE|[0-9:.]{0,14}|-->| |\n|\r|<[a-z/0-9.]{0,4}>?|&[#a-z0-9]{0,5};?|.){0,60}"
        ) {
            let input = format!("WEBVTT\n\n{body}");
            if let Ok(cues) = parse_vtt(input.as_bytes()) {
                prop_assert!(validate_cues_ok(&cues));
            }
        }
    }

    fn validate_cues_ok(cues: &[Cue]) -> bool {
        super::super::validate_cues(cues).is_ok()
    }
}
