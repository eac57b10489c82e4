//! Durations for people and machines: clocks for cards and players, spoken forms for screen
//! readers, the `?t=1m23s` of share links, and ISO 8601 `PT…` for JSON-LD.

/// Formats a duration as a clock: `0:07`, `4:05`, `1:02:03`.
pub fn clock(total_seconds: u64) -> String {
    let hours = total_seconds / 3600;
    let minutes = (total_seconds % 3600) / 60;
    let seconds = total_seconds % 60;
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// Spoken form for screen readers: "1 hour 2 minutes", "4 minutes 5 seconds", "7 seconds".
pub fn spoken(total_seconds: u64) -> String {
    let parts = [
        (total_seconds / 3600, "hour"),
        ((total_seconds % 3600) / 60, "minute"),
        (total_seconds % 60, "second"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() {
        "0 seconds".to_owned()
    } else {
        words.join(" ")
    }
}

/// A calendar date as "21 Nov 2026".
pub fn date(date: time::Date) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:short] [year]");
    date.format(&format).unwrap_or_else(|_| date.to_string())
}

/// The longest start time a share link may ask for (100 hours); anything longer is a typo.
pub const MAX_START_SECS: u64 = 100 * 3600;

/// Parses a share link's start time, as written by people and other sites: `83`, `83s`,
/// `1m23s`, `1h2m3s`, `2m`, `1:23`, `1:02:03`, a media fragment's `83.5` or `npt:83` (seconds,
/// fractions dropped). `None` for anything else, including empty strings, negative or absurd
/// values: the page then simply starts at the beginning.
pub fn parse_start_time(raw: &str) -> Option<u64> {
    let text = raw.trim().to_ascii_lowercase();
    let text = text.strip_prefix("npt:").unwrap_or(&text);
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let seconds = if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let mut total: u64 = 0;
        for (i, part) in parts.iter().enumerate() {
            let value: u64 = digits(part)?;
            // Minutes and seconds after the first field are below 60, as on a clock.
            if i > 0 && value >= 60 {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(value)?;
        }
        total
    } else if text.ends_with(['h', 'm', 's']) {
        let mut total: u64 = 0;
        let mut rest = text;
        let mut last_unit = u64::MAX;
        while !rest.is_empty() {
            let end = rest.find(|c: char| !c.is_ascii_digit())?;
            let value = digits(&rest[..end])?;
            let unit = match rest.as_bytes()[end] {
                b'h' => 3600,
                b'm' => 60,
                b's' => 1,
                _ => return None,
            };
            // Units in order, each once: `1h2m`, not `2m1h` or `1m1m`.
            if unit >= last_unit {
                return None;
            }
            last_unit = unit;
            total = total.checked_add(value.checked_mul(unit)?)?;
            rest = &rest[end + 1..];
        }
        total
    } else {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
        digits(fraction)?;
        digits(whole)?
    };
    (seconds <= MAX_START_SECS).then_some(seconds)
}

/// ASCII digits only (no sign, no spaces), at most 9 of them.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A share link's start time: `45s`, `1m23s`, `1h2m3s` (zero parts left out; `0s` for 0).
pub fn share_time(total_seconds: u64) -> String {
    let parts = [
        (total_seconds / 3600, 'h'),
        ((total_seconds % 3600) / 60, 'm'),
        (total_seconds % 60, 's'),
    ];
    let text: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if text.is_empty() {
        "0s".to_owned()
    } else {
        text
    }
}

/// An ISO 8601 duration as schema.org's `VideoObject.duration` wants it: `PT45S`, `PT1M23S`,
/// `PT1H2M3S`, `PT2H`, `PT0S`.
pub fn iso8601_duration(total_seconds: u64) -> String {
    let hours = total_seconds / 3600;
    let minutes = (total_seconds % 3600) / 60;
    let seconds = total_seconds % 60;
    let mut text = String::from("PT");
    if hours > 0 {
        text.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}M"));
    }
    if seconds > 0 || total_seconds == 0 {
        text.push_str(&format!("{seconds}S"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clock_examples() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(7), "0:07");
        assert_eq!(clock(245), "4:05");
        assert_eq!(clock(3723), "1:02:03");
        assert_eq!(clock(36_000), "10:00:00");
    }

    #[test]
    fn dates_read_naturally() {
        assert_eq!(date(time::macros::date!(2026 - 11 - 02)), "2 Nov 2026");
    }

    #[test]
    fn spoken_examples() {
        assert_eq!(spoken(0), "0 seconds");
        assert_eq!(spoken(1), "1 second");
        assert_eq!(spoken(245), "4 minutes 5 seconds");
        assert_eq!(spoken(3660), "1 hour 1 minute");
    }

    #[test]
    fn start_times_people_write_are_understood() {
        for (raw, secs) in [
            ("30", 30),
            ("83s", 83),
            ("1m23s", 83),
            ("1M23S", 83),
            ("2m", 120),
            ("1h", 3600),
            ("1h2m3s", 3723),
            ("1h3s", 3603),
            ("1:23", 83),
            ("1:02:03", 3723),
            ("0:00", 0),
            ("83.75", 83),
            ("npt:83", 83),
            (" 90 ", 90),
            ("0", 0),
        ] {
            assert_eq!(parse_start_time(raw), Some(secs), "{raw}");
        }
    }

    #[test]
    fn hostile_or_broken_start_times_are_ignored() {
        for raw in [
            "",
            "s",
            "-5",
            "+5",
            "1m-3s",
            "2m1h",
            "1m1m",
            "1:60",
            "1:2:3:4",
            ":30",
            "1::2",
            "12abc",
            "1e3",
            "0x10",
            "NaN",
            "inf",
            "1.2.3",
            "٣",
            "1h 2m",
            "999999999999",
            "360001",
            "101h",
            "<script>",
            "1m23",
            "m",
            "1.",
            ".5",
        ] {
            assert_eq!(parse_start_time(raw), None, "{raw:?}");
        }
        assert_eq!(parse_start_time("100h"), Some(MAX_START_SECS));
    }

    #[test]
    fn share_times_and_iso_durations() {
        assert_eq!(share_time(0), "0s");
        assert_eq!(share_time(45), "45s");
        assert_eq!(share_time(83), "1m23s");
        assert_eq!(share_time(3600), "1h");
        assert_eq!(share_time(3723), "1h2m3s");
        assert_eq!(iso8601_duration(0), "PT0S");
        assert_eq!(iso8601_duration(45), "PT45S");
        assert_eq!(iso8601_duration(83), "PT1M23S");
        assert_eq!(iso8601_duration(7200), "PT2H");
        assert_eq!(iso8601_duration(3723), "PT1H2M3S");
        assert_eq!(iso8601_duration(3605), "PT1H5S");
    }

    proptest! {
        #[test]
        fn share_and_clock_forms_parse_back(secs in 0u64..=MAX_START_SECS) {
            prop_assert_eq!(parse_start_time(&share_time(secs)), Some(secs));
            prop_assert_eq!(parse_start_time(&clock(secs)), Some(secs));
            prop_assert_eq!(parse_start_time(&secs.to_string()), Some(secs));
        }

        #[test]
        fn iso_durations_add_up(secs in 0u64..10_000_000) {
            let text = iso8601_duration(secs);
            let body = text.strip_prefix("PT").unwrap();
            let mut total = 0;
            let mut number = String::new();
            for c in body.chars() {
                match c {
                    '0'..='9' => number.push(c),
                    'H' | 'M' | 'S' => {
                        let value: u64 = std::mem::take(&mut number).parse().unwrap();
                        total += value * match c { 'H' => 3600, 'M' => 60, _ => 1 };
                    }
                    other => prop_assert!(false, "unexpected {other} in {text}"),
                }
            }
            prop_assert!(number.is_empty());
            prop_assert_eq!(total, secs);
        }

        #[test]
        fn any_text_parses_without_panicking(raw in ".{0,30}") {
            if let Some(secs) = parse_start_time(&raw) {
                prop_assert!(secs <= MAX_START_SECS);
            }
        }

        #[test]
        fn clock_parses_back_to_the_same_seconds(secs in 0u64..1_000_000) {
            let total = clock(secs)
                .split(':')
                .map(|p| p.parse::<u64>().unwrap())
                .fold(0, |acc, p| acc * 60 + p);
            prop_assert_eq!(total, secs);
        }
    }
}
