//! Human-readable durations for cards and players.

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

    proptest! {
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
