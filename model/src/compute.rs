//! The compute ledger as the admin page and its CSV show it: seconds of transcode and
//! transcription work per day, job kind and resource class, for a range of UTC days.

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

/// One day's work of one kind on one resource class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeRow {
    #[serde(with = "iso_date")]
    pub day: Date,
    pub kind: String,
    pub resource_class: String,
    /// Jobs that had an attempt end that day.
    pub jobs: i64,
    /// Attempts that ended that day (failed ones consumed compute too).
    pub attempts: i64,
    pub seconds: f64,
}

/// The range's total of one kind on one resource class (`jobs` counts each job once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeTotal {
    pub kind: String,
    pub resource_class: String,
    pub jobs: i64,
    pub attempts: i64,
    pub seconds: f64,
}

/// What `/admin/compute` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeLedger {
    pub range: DateRange,
    /// By day, then kind and class.
    pub rows: Vec<ComputeRow>,
    pub totals: Vec<ComputeTotal>,
}

/// Inclusive UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    #[serde(with = "iso_date")]
    pub from: Date,
    #[serde(with = "iso_date")]
    pub to: Date,
}

/// The longest range one page or CSV covers.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when the request names none: the last 30 days, today included.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

impl DateRange {
    /// `from`/`to` as a GET form sends them (`2026-12-01`; empty or absent: the default
    /// range ending `today`). An error says what is wrong, for the page and the CSV's 400.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> Result<DateRange, String> {
        let day = |name: &str, text: Option<&str>| -> Result<Option<Date>, String> {
            match text.map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(text) => parse_date(text)
                    .map(Some)
                    .ok_or_else(|| format!("`{name}` is not a date like 2026-12-01")),
            }
        };
        let (from, to) = (day("from", from)?, day("to", to)?);
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - time::Duration::days(DEFAULT_RANGE_DAYS - 1));
        if from > to {
            return Err("`from` is after `to`".to_owned());
        }
        if (to - from).whole_days() >= MAX_RANGE_DAYS {
            return Err(format!("a range covers at most {MAX_RANGE_DAYS} days"));
        }
        Ok(DateRange { from, to })
    }
}

pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

pub fn format_date(day: Date) -> String {
    day.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Seconds as the page shows them: `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration_text(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    if seconds < 60.0 {
        format!("{:.1} s", seconds.max(0.0))
    } else if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, (whole % 3600) / 60)
    }
}

/// The ledger as CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break
/// quoted and quotes doubled), one line per row after the header. Text fields that a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) get a leading `'`.
pub fn csv(tenant: &str, rows: &[ComputeRow]) -> String {
    let mut out = String::from("tenant,day,kind,resource_class,jobs,attempts,seconds\r\n");
    for row in rows {
        let fields = [
            csv_text(tenant),
            format_date(row.day),
            csv_text(&row.kind),
            csv_text(&row.resource_class),
            row.jobs.to_string(),
            row.attempts.to_string(),
            format!("{:.3}", row.seconds),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One text field of a CSV line, escaped.
pub fn csv_text(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(day: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_date(*day))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_date(&text).ok_or_else(|| serde::de::Error::custom("not a YYYY-MM-DD date"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_range_defaults_to_the_last_30_days_and_refuses_nonsense() {
        let today = date!(2026 - 12 - 04);
        let range = DateRange::parse(None, Some(""), today).unwrap();
        assert_eq!((range.from, range.to), (date!(2026 - 11 - 05), today));
        let range = DateRange::parse(Some("2026-12-01"), Some("2026-12-02"), today).unwrap();
        assert_eq!(
            (range.from, range.to),
            (date!(2026 - 12 - 01), date!(2026 - 12 - 02))
        );
        assert!(DateRange::parse(Some("2026-12-03"), Some("2026-12-02"), today).is_err());
        assert!(DateRange::parse(Some("yesterday"), None, today).is_err());
        assert!(DateRange::parse(Some("2026-02-30"), None, today).is_err());
        assert!(DateRange::parse(Some("2020-01-01"), Some("2026-01-01"), today).is_err());
        // 366 days, both ends included, is the most.
        assert!(DateRange::parse(Some("2026-01-01"), Some("2027-01-01"), today).is_ok());
        assert!(DateRange::parse(Some("2026-01-01"), Some("2027-01-02"), today).is_err());
    }

    #[test]
    fn csv_fields_are_escaped() {
        assert_eq!(csv_text("plain"), "plain");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_text("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_text("-1,2"), "\"'-1,2\"");
    }

    #[test]
    fn the_csv_has_a_header_and_a_line_per_row() {
        let rows = vec![ComputeRow {
            day: date!(2026 - 12 - 01),
            kind: "transcode".into(),
            resource_class: "gpu".into(),
            jobs: 2,
            attempts: 3,
            seconds: 12.34567,
        }];
        assert_eq!(
            csv("Acme, \"Video\"", &rows),
            "tenant,day,kind,resource_class,jobs,attempts,seconds\r\n\
             \"Acme, \"\"Video\"\"\",2026-12-01,transcode,gpu,2,3,12.346\r\n"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(12.34), "12.3 s");
        assert_eq!(duration_text(245.0), "4 min 05 s");
        assert_eq!(duration_text(7380.0), "2 h 03 min");
    }
}
