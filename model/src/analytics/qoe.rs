//! Quality-of-experience figures, per view and over many views, by Mux Data's published
//! definitions: watch time is startup + rebuffering + playing (paused time excluded),
//! rebuffer percentage is rebuffering over watch time, rebuffer frequency is rebuffers per
//! minute of watch time; the Startup Time Score is 8/(8+s)×100 for a startup of s seconds, and
//! the Smoothness Score is the average of 100/√(1+(n/2)²) for n rebuffers and
//! 100·e^(−10·p) for a rebuffer fraction p.

/// What one view measured (the server keeps one row of this per view).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ViewFigures {
    /// From play request to first frame; `None` when no frame ever showed.
    pub startup_ms: Option<u32>,
    /// Time spent playing (the watched ranges' total).
    pub playing_ms: u64,
    pub rebuffer_count: u32,
    pub rebuffer_ms: u64,
    /// The view ended in a fatal playback error.
    pub failed: bool,
    /// Furthest point reached, seconds.
    pub furthest_secs: f64,
}

impl ViewFigures {
    /// Mux's watch time: startup, rebuffering and playing.
    pub fn watch_ms(&self) -> u64 {
        u64::from(self.startup_ms.unwrap_or(0)) + self.rebuffer_ms + self.playing_ms
    }

    /// Play was requested but no frame ever showed, and no error explains it: the viewer gave
    /// up waiting (or left).
    pub fn exited_before_start(&self) -> bool {
        self.startup_ms.is_none() && !self.failed
    }

    pub fn rebuffer_fraction(&self) -> f64 {
        ratio(self.rebuffer_ms as f64, self.watch_ms() as f64)
    }

    /// Completed: the furthest point is at least 95 % into a talk `duration_secs` long (the
    /// same mark the viewer's library uses for "watched").
    pub fn completed(&self, duration_secs: f64) -> bool {
        duration_secs > 0.0 && self.furthest_secs >= 0.95 * duration_secs
    }

    /// The Smoothness Score of this view; `None` for a view that never started.
    pub fn smoothness_score(&self) -> Option<f64> {
        self.startup_ms
            .map(|_| smoothness_score(self.rebuffer_count, self.rebuffer_fraction()))
    }
}

/// 8/(8+s)×100: 100 for an instant start, 50 at 8 s.
pub fn startup_time_score(startup_secs: f64) -> f64 {
    8.0 / (8.0 + startup_secs.max(0.0)) * 100.0
}

/// The average of the rebuffer-count and rebuffer-percentage curves (both 100 with no
/// rebuffering).
pub fn smoothness_score(rebuffer_count: u32, rebuffer_fraction: f64) -> f64 {
    let by_count = 100.0 / (1.0 + (f64::from(rebuffer_count) / 2.0).powi(2)).sqrt();
    let by_share = 100.0 * (-10.0 * rebuffer_fraction.max(0.0)).exp();
    (by_count + by_share) / 2.0
}

/// Rebuffers per minute of watch time.
pub fn rebuffer_frequency(rebuffer_count: u64, watch_ms: u64) -> f64 {
    ratio(rebuffer_count as f64 * 60_000.0, watch_ms as f64)
}

/// `part / whole`, 0 when there is no whole.
pub fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// The `p`-th percentile (0–1) of `values` by linear interpolation between closest ranks
/// (PostgreSQL's `percentile_cont`), `None` for no values.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = p.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    Some(values[low] + (values[high] - values[low]) * (rank - low as f64))
}

/// Upper edges (ms) of the startup-time histogram's buckets; one more bucket holds everything
/// above the last. Rollups keep a histogram per hour so percentiles over any range can be
/// estimated from them (percentiles themselves do not add up).
pub const STARTUP_EDGES_MS: [u32; 30] = [
    100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 3500,
    4000, 4500, 5000, 6000, 7000, 8000, 9000, 10_000, 15_000, 20_000, 30_000, 45_000, 60_000,
];

/// The histogram's length: the buckets below each edge, and the one above them all.
pub const STARTUP_BUCKETS: usize = STARTUP_EDGES_MS.len() + 1;

/// The bucket a startup time falls in.
pub fn startup_bucket(startup_ms: u32) -> usize {
    STARTUP_EDGES_MS
        .iter()
        .position(|edge| startup_ms < *edge)
        .unwrap_or(STARTUP_EDGES_MS.len())
}

/// The `p`-th percentile (0–1) estimated from a startup histogram: the bucket holding that
/// rank, interpolated linearly inside it (the open top bucket answers its lower edge).
pub fn histogram_percentile(histogram: &[u64], p: f64) -> Option<f64> {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let target = p.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (bucket, count) in histogram.iter().enumerate() {
        let count = *count;
        if count > 0 && (below + count) as f64 >= target {
            let low = if bucket == 0 {
                0
            } else {
                STARTUP_EDGES_MS[bucket - 1]
            };
            let Some(high) = STARTUP_EDGES_MS.get(bucket) else {
                return Some(f64::from(low));
            };
            let within = ((target - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some(f64::from(low) + within * f64::from(high - low));
        }
        below += count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn startup_time_score_by_hand() {
        assert!(close(startup_time_score(0.0), 100.0));
        assert!(close(startup_time_score(8.0), 50.0));
        assert!(close(startup_time_score(2.0), 80.0));
        assert!(close(startup_time_score(-1.0), 100.0));
    }

    #[test]
    fn smoothness_score_by_hand() {
        assert!(close(smoothness_score(0, 0.0), 100.0));
        // Two rebuffers: 100/√2 = 70.7107; 5 % rebuffering: 100·e^−0.5 = 60.6531.
        let expected = (100.0 / 2f64.sqrt() + 100.0 * (-0.5f64).exp()) / 2.0;
        assert!(close(smoothness_score(2, 0.05), expected));
        assert!((smoothness_score(2, 0.05) - 65.6819).abs() < 1e-4);
    }

    #[test]
    fn one_views_figures_by_hand() {
        // 1 s to start, 2 stalls of 1.5 s in all, 57.5 s of playing: 60 s of watch time.
        let view = ViewFigures {
            startup_ms: Some(1000),
            playing_ms: 57_500,
            rebuffer_count: 2,
            rebuffer_ms: 1500,
            failed: false,
            furthest_secs: 57.5,
        };
        assert_eq!(view.watch_ms(), 60_000);
        assert!(close(view.rebuffer_fraction(), 0.025));
        assert!(close(rebuffer_frequency(2, view.watch_ms()), 2.0));
        assert!(!view.exited_before_start());
        assert!(view.completed(60.0));
        assert!(!view.completed(61.0));
        let expected = (100.0 / 2f64.sqrt() + 100.0 * (-0.25f64).exp()) / 2.0;
        assert!(close(view.smoothness_score().unwrap(), expected));
    }

    #[test]
    fn a_view_without_a_frame_exited_before_start_unless_it_failed() {
        let gave_up = ViewFigures::default();
        assert!(gave_up.exited_before_start());
        assert_eq!(gave_up.smoothness_score(), None);
        let failed = ViewFigures {
            failed: true,
            ..ViewFigures::default()
        };
        assert!(!failed.exited_before_start());
    }

    #[test]
    fn percentiles_interpolate_like_postgres() {
        let mut values = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&mut values, 0.5), Some(2.5));
        assert!(close(percentile(&mut values, 0.95).unwrap(), 3.85));
        assert_eq!(percentile(&mut values, 0.0), Some(1.0));
        assert_eq!(percentile(&mut [], 0.5), None);
        assert_eq!(percentile(&mut [7.0], 0.95), Some(7.0));
    }

    #[test]
    fn startup_times_fall_in_their_buckets() {
        assert_eq!(startup_bucket(0), 0);
        assert_eq!(startup_bucket(99), 0);
        assert_eq!(startup_bucket(100), 1);
        assert_eq!(startup_bucket(1100), 10);
        assert_eq!(startup_bucket(59_999), 29);
        assert_eq!(startup_bucket(600_000), 30);
    }

    #[test]
    fn percentiles_from_a_histogram_by_hand() {
        let mut histogram = vec![0u64; STARTUP_BUCKETS];
        // 10 views in 500–600 ms and 10 in 1000–1250 ms.
        histogram[5] = 10;
        histogram[10] = 10;
        // p50: rank 10 is the last of the first bucket, its upper edge.
        assert_eq!(histogram_percentile(&histogram, 0.5), Some(600.0));
        // p95: rank 19 of 20, 9/10 into 1000–1250.
        assert_eq!(histogram_percentile(&histogram, 0.95), Some(1225.0));
        histogram[30] = 100;
        assert_eq!(histogram_percentile(&histogram, 0.99), Some(60_000.0));
        assert_eq!(histogram_percentile(&[0; STARTUP_BUCKETS], 0.5), None);
    }

    #[test]
    fn ratios_of_nothing_are_zero() {
        assert_eq!(ratio(5.0, 0.0), 0.0);
        assert_eq!(rebuffer_frequency(3, 0), 0.0);
    }
}
