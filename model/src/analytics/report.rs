//! What the analytics dashboards show: `Totals` are sums that add up over hours, days and talks
//! (as the rollups store them); every rate, average and percentile is derived from them here,
//! so the overview, a drill-down and the CSV export can never disagree.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::qoe::{self, STARTUP_BUCKETS};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub views: u64,
    /// Daily unique viewers, summed over the days (a viewer's hash changes every day).
    pub viewers: u64,
    pub started_views: u64,
    pub watch_ms: u64,
    pub playing_ms: u64,
    pub rebuffer_count: u64,
    pub rebuffer_ms: u64,
    pub bitrate_ms: u64,
    pub bitrate_time_ms: u64,
    pub completed: u64,
    pub failed: u64,
    pub exits_before_start: u64,
    pub startup_score_sum: f64,
    pub smoothness_sum: f64,
    pub startup_histogram: Vec<u64>,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.views += other.views;
        self.viewers += other.viewers;
        self.started_views += other.started_views;
        self.watch_ms += other.watch_ms;
        self.playing_ms += other.playing_ms;
        self.rebuffer_count += other.rebuffer_count;
        self.rebuffer_ms += other.rebuffer_ms;
        self.bitrate_ms += other.bitrate_ms;
        self.bitrate_time_ms += other.bitrate_time_ms;
        self.completed += other.completed;
        self.failed += other.failed;
        self.exits_before_start += other.exits_before_start;
        self.startup_score_sum += other.startup_score_sum;
        self.smoothness_sum += other.smoothness_sum;
        if self.startup_histogram.len() < STARTUP_BUCKETS {
            self.startup_histogram.resize(STARTUP_BUCKETS, 0);
        }
        for (mine, theirs) in self
            .startup_histogram
            .iter_mut()
            .zip(&other.startup_histogram)
        {
            *mine += theirs;
        }
    }

    /// Watch time per view, seconds.
    pub fn average_view_secs(&self) -> f64 {
        qoe::ratio(self.watch_ms as f64, self.views as f64) / 1000.0
    }

    pub fn watch_hours(&self) -> f64 {
        self.watch_ms as f64 / 3_600_000.0
    }

    pub fn completion_rate(&self) -> f64 {
        qoe::ratio(self.completed as f64, self.views as f64)
    }

    pub fn failure_rate(&self) -> f64 {
        qoe::ratio(self.failed as f64, self.views as f64)
    }

    pub fn exits_before_start_rate(&self) -> f64 {
        qoe::ratio(self.exits_before_start as f64, self.views as f64)
    }

    pub fn rebuffer_percentage(&self) -> f64 {
        qoe::ratio(self.rebuffer_ms as f64, self.watch_ms as f64) * 100.0
    }

    /// Rebuffers per minute of watch time.
    pub fn rebuffer_frequency(&self) -> f64 {
        qoe::rebuffer_frequency(self.rebuffer_count, self.watch_ms)
    }

    /// Time-weighted average bitrate, bits/s.
    pub fn average_bitrate(&self) -> f64 {
        qoe::ratio(self.bitrate_ms as f64, self.bitrate_time_ms as f64)
    }

    /// Startup time percentile (0–1), ms, estimated from the histogram.
    pub fn startup_percentile_ms(&self, p: f64) -> Option<f64> {
        qoe::histogram_percentile(&self.startup_histogram, p)
    }

    /// The views' average Startup Time Score (Mux: 8/(8+s)×100 per view).
    pub fn startup_time_score(&self) -> Option<f64> {
        (self.started_views > 0).then(|| self.startup_score_sum / self.started_views as f64)
    }

    /// The views' average Smoothness Score.
    pub fn smoothness_score(&self) -> Option<f64> {
        (self.started_views > 0).then(|| self.smoothness_sum / self.started_views as f64)
    }
}

/// One point of a time series: `at` is an hour or a day (RFC 3339 / ISO date), as labelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub at: String,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkFigures {
    pub talk: Uuid,
    pub title: String,
    pub slug: String,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionRow {
    pub dimension: String,
    pub value: String,
    pub views: u64,
    pub watch_ms: u64,
}

/// The dashboard's period: `[from, to)` days, and whether the series is hourly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// ISO dates.
    pub from: String,
    pub to: String,
    pub hourly: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub period: Period,
    pub totals: Totals,
    /// The same length of time just before.
    pub previous: Totals,
    pub series: Vec<SeriesPoint>,
    pub talks: Vec<TalkFigures>,
    /// Views with an event in the last 30 s.
    pub watching_now: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkReport {
    pub period: Period,
    pub talk: TalkFigures,
    pub previous: Totals,
    pub series: Vec<SeriesPoint>,
    /// Share of viewers at each second of the talk, over the period's views.
    pub retention: Vec<f64>,
    pub dimensions: Vec<DimensionRow>,
    pub watching_now: u64,
}

/// Merges days' retention curves, each weighted by its views.
pub fn merge_retention(days: &[(u64, Vec<f64>)]) -> Vec<f64> {
    let length = days.iter().map(|(_, curve)| curve.len()).max().unwrap_or(0);
    let views: u64 = days.iter().map(|(views, _)| views).sum();
    if views == 0 {
        return vec![0.0; length];
    }
    let mut merged = vec![0.0; length];
    for (day_views, curve) in days {
        for (second, share) in curve.iter().enumerate() {
            merged[second] += share * *day_views as f64;
        }
    }
    merged.iter().map(|sum| sum / views as f64).collect()
}

/// The relative change from `before` to `now` (0.25 for +25 %), `None` when there was nothing
/// before to compare with.
pub fn change(now: f64, before: f64) -> Option<f64> {
    (before != 0.0).then(|| (now - before) / before)
}

/// Figures as CSV (RFC 4180, escaped as `compute::csv_text` does): one line per `(label,
/// totals)` under a header whose first column is `first_column`.
pub fn csv(first_column: &str, rows: &[(String, &Totals)]) -> String {
    use crate::compute::csv_text;
    let mut out = format!(
        "{},views,daily_unique_viewers,watch_seconds,average_view_seconds,completion_rate,\
         startup_p50_ms,startup_p95_ms,startup_time_score,rebuffer_percentage,\
         rebuffers_per_minute,smoothness_score,average_bitrate,playback_failure_rate,\
         exits_before_video_start_rate\r\n",
        csv_text(first_column)
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    for (label, t) in rows {
        let fields = [
            csv_text(label),
            t.views.to_string(),
            t.viewers.to_string(),
            format!("{:.3}", t.watch_ms as f64 / 1000.0),
            format!("{:.3}", t.average_view_secs()),
            format!("{:.4}", t.completion_rate()),
            opt(t.startup_percentile_ms(0.5), 0),
            opt(t.startup_percentile_ms(0.95), 0),
            opt(t.startup_time_score(), 2),
            format!("{:.4}", t.rebuffer_percentage()),
            format!("{:.4}", t.rebuffer_frequency()),
            opt(t.smoothness_score(), 2),
            format!("{:.0}", t.average_bitrate()),
            format!("{:.4}", t.failure_rate()),
            format!("{:.4}", t.exits_before_start_rate()),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(views: u64, watch_ms: u64, rebuffer_ms: u64, startup_ms: &[u32]) -> Totals {
        let mut histogram = vec![0; STARTUP_BUCKETS];
        for ms in startup_ms {
            histogram[qoe::startup_bucket(*ms)] += 1;
        }
        Totals {
            views,
            viewers: views,
            started_views: startup_ms.len() as u64,
            watch_ms,
            rebuffer_ms,
            rebuffer_count: 1,
            startup_score_sum: startup_ms
                .iter()
                .map(|ms| qoe::startup_time_score(f64::from(*ms) / 1000.0))
                .sum(),
            startup_histogram: histogram,
            ..Totals::default()
        }
    }

    #[test]
    fn totals_add_up_and_derive_their_rates() {
        let mut all = totals(2, 120_000, 1200, &[1000, 2000]);
        all.add(&totals(2, 60_000, 600, &[4000]));
        all.completed = 3;
        assert_eq!(all.views, 4);
        assert_eq!(all.average_view_secs(), 45.0);
        assert_eq!(all.completion_rate(), 0.75);
        assert_eq!(all.rebuffer_percentage(), 1.0);
        assert!((all.rebuffer_frequency() - 2.0 / 3.0).abs() < 1e-12);
        // Scores 8/9·100, 8/10·100, 8/12·100 averaged.
        let expected = (800.0 / 9.0 + 80.0 + 800.0 / 12.0) / 3.0;
        assert!((all.startup_time_score().unwrap() - expected).abs() < 1e-9);
        assert_eq!(all.startup_histogram.iter().sum::<u64>(), 3);
        assert_eq!(Totals::default().startup_time_score(), None);
        assert_eq!(Totals::default().average_view_secs(), 0.0);
    }

    #[test]
    fn retention_curves_merge_weighted_by_views() {
        let merged = merge_retention(&[(1, vec![1.0, 1.0]), (3, vec![1.0, 0.0, 0.0])]);
        assert_eq!(merged, vec![1.0, 0.25, 0.0]);
        assert_eq!(merge_retention(&[]), Vec::<f64>::new());
    }

    #[test]
    fn csv_lines_are_escaped_and_complete() {
        let t = totals(2, 120_000, 1200, &[1000, 2000]);
        let text = csv("talk", &[("=HYPERLINK(\"x\"), a".to_owned(), &t)]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("talk,views,daily_unique_viewers,watch_seconds,"));
        assert_eq!(lines[0].split(',').count(), 15);
        assert!(lines[1].starts_with("\"'=HYPERLINK(\"\"x\"\"), a\",2,2,120.000,60.000,"));
        assert_eq!(lines[2], "");
    }

    #[test]
    fn changes_are_relative() {
        assert_eq!(change(125.0, 100.0), Some(0.25));
        assert_eq!(change(5.0, 0.0), None);
    }
}
