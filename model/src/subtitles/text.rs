//! The text rules both formats share: lines, markup to plain text, and the escaping that
//! makes the writers' output read back as the same text.

use std::fmt::Write as _;

pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The lines of a text with their 1-based numbers. CR LF, a lone CR and LF each end a line;
/// a final line break does not start another (empty) line.
pub(crate) fn lines(text: &str) -> Lines<'_> {
    Lines {
        rest: text,
        number: 0,
    }
}

pub(crate) struct Lines<'a> {
    rest: &'a str,
    number: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.rest.is_empty() {
            return None;
        }
        self.number += 1;
        let bytes = self.rest.as_bytes();
        let (line, rest) = match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) => {
                let skip = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                (&self.rest[..i], &self.rest[i + skip..])
            }
            None => (self.rest, ""),
        };
        self.rest = rest;
        Some((self.number, line))
    }
}

/// How many line breaks a text holds, counted as [`lines`] counts them.
pub(crate) fn line_breaks(text: &str) -> usize {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// File content quoted in a message: at most 40 characters, debug-escaped (so a line break
/// or a control character in it cannot break the message).
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Appends the plain text of one payload line: tags removed (their inner text kept, except
/// ruby annotations `<rt>…</rt>`, which would otherwise run into their base text), character
/// references decoded and, for SubRip, `{\an8}`-style ASS override blocks removed.
/// `in_ruby_text` carries an open `<rt>` over to the next line.
pub(crate) fn plain_line(
    line: &str,
    ass_overrides: bool,
    in_ruby_text: &mut bool,
    out: &mut String,
) {
    let (mut gt, mut brace) = (NextByte::new(b'>'), NextByte::new(b'}'));
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let c = rest.chars().next().unwrap_or_default();
        if c == '<'
            && let Some(len) = tag_len(line, i, &mut gt)
        {
            let name = rest[1..len - 1]
                .split(|c: char| c.is_whitespace() || c == '.')
                .next()
                .unwrap_or_default();
            if name.eq_ignore_ascii_case("rt") {
                *in_ruby_text = true;
            } else if name.eq_ignore_ascii_case("/rt") || name.eq_ignore_ascii_case("/ruby") {
                *in_ruby_text = false;
            }
            i += len;
            continue;
        }
        if ass_overrides
            && c == '{'
            && let Some(len) = ass_override_len(line, i, &mut brace)
        {
            i += len;
            continue;
        }
        if *in_ruby_text {
            i += c.len_utf8();
            continue;
        }
        if c == '&'
            && let Some((decoded, len)) = entity(rest)
        {
            out.push(decoded);
            i += len;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
}

/// Where the next `>` or `}` of a line is, searched for once per occurrence, so a line of
/// a million `<` without a `>` is read in linear time. Positions asked for never decrease.
pub(crate) struct NextByte {
    byte: u8,
    /// `Some(None)`: none left on the line.
    found: Option<Option<usize>>,
}

impl NextByte {
    pub(crate) fn new(byte: u8) -> NextByte {
        NextByte { byte, found: None }
    }

    fn at_or_after(&mut self, line: &str, from: usize) -> Option<usize> {
        match self.found {
            Some(None) => return None,
            Some(Some(at)) if at >= from => return Some(at),
            _ => {}
        }
        let at = line
            .as_bytes()
            .get(from..)?
            .iter()
            .position(|&b| b == self.byte);
        let at = at.map(|p| p + from);
        self.found = Some(at);
        at
    }
}

/// The length of the tag at byte `i` of `line`: `<` then a letter, `/` or digit (a
/// timestamp tag) and a `>` later on the line. A `<` that starts no tag ("a < b") is text;
/// WebVTT readers in browsers would swallow the rest of such a cue, we keep what the author
/// meant.
pub(crate) fn tag_len(line: &str, i: usize, gt: &mut NextByte) -> Option<usize> {
    let next = line[i..].strip_prefix('<')?.chars().next()?;
    if !(next.is_ascii_alphanumeric() || next == '/') {
        return None;
    }
    gt.at_or_after(line, i + 1).map(|end| end - i + 1)
}

/// The length of the `{\…}` override block at byte `i` of `line`, if there is one.
pub(crate) fn ass_override_len(line: &str, i: usize, brace: &mut NextByte) -> Option<usize> {
    if !line[i..].starts_with("{\\") {
        return None;
    }
    brace.at_or_after(line, i + 2).map(|end| end - i + 1)
}

/// The character reference `rest` starts with and its length: `&amp;`, `&lt;`, `&gt;`,
/// `&nbsp;`, `&lrm;`, `&rlm;`, `&quot;`, `&apos;`, `&#NNN;` and `&#xHHH;`. A number that
/// names no character (zero, a surrogate, past U+10FFFF) gives U+FFFD, as in HTML. Anything
/// else (`&copy;`, `AT&T`) is text.
pub(crate) fn entity(rest: &str) -> Option<(char, usize)> {
    let body = rest.strip_prefix('&')?;
    let end = body
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')
        .map(|(i, _)| i)?;
    let name = &body[..end];
    let decoded = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "nbsp" => '\u{a0}',
        "lrm" => '\u{200e}',
        "rlm" => '\u{200f}',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let number = name.strip_prefix('#')?;
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                    number.parse().ok()?
                }
                _ => return None,
            };
            char::from_u32(value)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}')
        }
    };
    Some((decoded, end + 2))
}

/// WebVTT escaping: `&`, `<` and `>` always (the last also keeps `-->` out of a payload).
pub(crate) fn escape_vtt(line: &str, out: &mut String) {
    for c in line.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// SubRip has no escape syntax of its own and other tools show its text as written, so only
/// what our reader would not take as text is escaped: a `&` that starts a character
/// reference, a `<` that starts a tag, a `{\` override block and the `>` of `-->`.
/// "Tom & Jerry" and "a < b" stay as they are.
pub(crate) fn escape_srt(line: &str, out: &mut String) {
    let (mut gt, mut brace) = (NextByte::new(b'>'), NextByte::new(b'}'));
    for (i, c) in line.char_indices() {
        match c {
            '&' if entity(&line[i..]).is_some() => out.push_str("&amp;"),
            '<' if tag_len(line, i, &mut gt).is_some() => out.push_str("&lt;"),
            '{' if ass_override_len(line, i, &mut brace).is_some() => out.push_str("&#123;"),
            '>' if line[..i].ends_with("--") => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Writes normalised cue text line by line through `escape`.
pub(crate) fn write_payload(text: &str, escape: fn(&str, &mut String), out: &mut String) {
    for line in text.split('\n') {
        escape(line, out);
        out.push('\n');
    }
}

/// Appends a cue's timing line.
pub(crate) fn write_timing(start_ms: u64, end_ms: u64, separator: char, out: &mut String) {
    super::format_timestamp(out, start_ms, separator);
    out.push_str(" --> ");
    super::format_timestamp(out, end_ms, separator);
    out.push('\n');
}

/// `n` cues as a number with its noun, for messages.
pub(crate) fn count(n: usize, noun: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "{n} {noun}{}", if n == 1 { "" } else { "s" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(line: &str, ass: bool) -> String {
        let mut out = String::new();
        plain_line(line, ass, &mut false, &mut out);
        out
    }

    #[test]
    fn lines_and_their_numbers() {
        let all: Vec<_> = lines("a\r\nb\rc\n\nd").collect();
        assert_eq!(all, [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]);
        assert_eq!(lines("a\n").count(), 1);
        assert_eq!(lines("").count(), 0);
        assert_eq!(line_breaks("a\r\nb\rc\n\nd"), 4);
    }

    #[test]
    fn markup_becomes_plain_text() {
        assert_eq!(plain("<b>bold</b> <i>it</i> <u>u</u>", false), "bold it u");
        assert_eq!(
            plain("<c.yellow.big>x</c> <v Roger Bingham>Hi</v>", false),
            "x Hi"
        );
        assert_eq!(plain("<lang en-GB>colour</lang>", false), "colour");
        assert_eq!(
            plain("one <00:00:01.000>two <00:02.500>three", false),
            "one two three"
        );
        assert_eq!(plain("<script>alert(1)</script>", false), "alert(1)");
        assert_eq!(
            plain("<ruby>漢<rt>kan</rt>字<rt>ji</rt></ruby>!", false),
            "漢字!"
        );
        assert_eq!(plain("<img src=x onerror=alert(1)>", false), "");
        assert_eq!(plain("a < b and c > d", false), "a < b and c > d");
        assert_eq!(plain("1<2", false), "1<2");
        assert_eq!(plain("x <", false), "x <");
        assert_eq!(plain("{\\an8}top", true), "top");
        assert_eq!(plain("{\\an8}top", false), "{\\an8}top");
        assert_eq!(plain("{not an override}", true), "{not an override}");
    }

    /// Four million characters of brackets that never close. A reader that rescans from every
    /// `<` or `{` would take hours on this and be stopped by nextest's 3-minute limit; no clock
    /// is read here, so a busy machine cannot fail it.
    #[test]
    fn unclosed_brackets_at_scale_are_read_whole() {
        let line = "<a{\\".repeat(1_000_000);
        assert_eq!(plain(&line, true), line);
        let mut escaped = String::new();
        escape_srt(&line, &mut escaped);
        assert_eq!(escaped, line);
    }

    #[test]
    fn character_references_are_decoded() {
        assert_eq!(
            plain("&amp; &lt;b&gt; &nbsp;&lrm;&rlm;&quot;&apos;", false),
            "& <b> \u{a0}\u{200e}\u{200f}\"'"
        );
        assert_eq!(plain("&#65;&#x42;&#X1F600;", false), "AB😀");
        assert_eq!(
            plain("&#0; &#xD800; &#1114112;", false),
            "\u{fffd} \u{fffd} \u{fffd}"
        );
        assert_eq!(
            plain("AT&T &copy; &amp &#; &#x; &#12a;", false),
            "AT&T &copy; &amp &#; &#x; &#12a;"
        );
        // Decoded markup is text, not read again as markup.
        assert_eq!(plain("&lt;i&gt;x&lt;/i&gt;", false), "<i>x</i>");
        assert_eq!(plain("&é;", false), "&é;");
    }

    #[test]
    fn escaping_reads_back_as_the_same_text() {
        for line in [
            "Tom & Jerry",
            "a < b",
            "<i>not markup</i>",
            "&amp; &lt;",
            "x --> y",
            "{\\an8}",
            "<<>>&&;;",
            "-->-->",
        ] {
            for (escape, ass) in [
                (escape_vtt as fn(&str, &mut String), false),
                (escape_srt, true),
            ] {
                let mut written = String::new();
                escape(line, &mut written);
                assert!(!written.contains("-->"), "{written}");
                assert_eq!(plain(&written, ass), line, "{written}");
            }
        }
        let mut srt = String::new();
        escape_srt("Tom & Jerry, a < b", &mut srt);
        assert_eq!(srt, "Tom & Jerry, a < b");
    }
}
