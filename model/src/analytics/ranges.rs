//! Watched ranges: the `[start, end)` stretches of a talk (seconds) a view played. A view's
//! ranges are kept merged, so watching a minute twice counts once in the retention curve while
//! watch time (which sums play time) counts both.

/// Sorts and merges overlapping or touching ranges; drops empty ones.
pub fn merge(ranges: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut sorted: Vec<[f64; 2]> = ranges
        .iter()
        .copied()
        .filter(|[start, end]| start.is_finite() && end.is_finite() && end > start)
        .collect();
    sorted.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut merged: Vec<[f64; 2]> = Vec::with_capacity(sorted.len());
    for [start, end] in sorted {
        match merged.last_mut() {
            Some(last) if start <= last[1] => last[1] = last[1].max(end),
            _ => merged.push([start, end]),
        }
    }
    merged
}

/// The seconds of the talk covered at least once.
pub fn covered_secs(ranges: &[[f64; 2]]) -> f64 {
    merge(ranges).iter().map(|[start, end]| end - start).sum()
}

/// The retention curve of a talk `duration_secs` long: for each whole second `s`, the share of
/// `views` (each a list of its watched ranges) that played the middle of that second
/// (`s + 0.5`). Views with nothing watched count in the denominator: a viewer who left before
/// the first second is exactly who the curve is about.
pub fn retention_curve<'a>(
    duration_secs: u32,
    views: impl IntoIterator<Item = &'a [[f64; 2]]>,
) -> Vec<f64> {
    let seconds = duration_secs as usize;
    // A difference array: +1 where a view's coverage starts, −1 where it stops.
    let mut delta = vec![0i64; seconds + 1];
    let mut count = 0u64;
    for ranges in views {
        count += 1;
        for [start, end] in merge(ranges) {
            // Second s is covered when start ≤ s + 0.5 < end.
            let first = (start - 0.5).ceil().max(0.0) as usize;
            let stop = ((end - 0.5).ceil().max(0.0) as usize).min(seconds);
            if first < stop {
                delta[first] += 1;
                delta[stop] -= 1;
            }
        }
    }
    if count == 0 {
        return vec![0.0; seconds];
    }
    let mut running = 0i64;
    delta[..seconds]
        .iter()
        .map(|d| {
            running += d;
            running as f64 / count as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_touching_ranges_merge() {
        assert_eq!(
            merge(&[
                [10.0, 20.0],
                [0.0, 5.0],
                [5.0, 8.0],
                [15.0, 25.0],
                [30.0, 30.0]
            ]),
            vec![[0.0, 8.0], [10.0, 25.0]]
        );
        assert_eq!(
            covered_secs(&[[0.0, 10.0], [5.0, 12.0], [20.0, 21.5]]),
            13.5
        );
    }

    #[test]
    fn the_retention_curve_counts_each_view_once_per_second() {
        // A 4-second talk, three views: all of it twice (once in two pieces that overlap),
        // the first 2 seconds, and nothing.
        let whole = vec![[0.0, 3.0], [2.0, 4.0]];
        let start = vec![[0.0, 2.0]];
        let nothing: Vec<[f64; 2]> = vec![];
        let curve = retention_curve(4, [whole.as_slice(), start.as_slice(), nothing.as_slice()]);
        let third = 1.0 / 3.0;
        assert_eq!(curve, vec![2.0 * third, 2.0 * third, third, third]);
    }

    #[test]
    fn a_second_counts_when_its_middle_was_played() {
        // [0.4, 1.6) covers the middles of second 0 (0.5) and 1 (1.5), not of second 2.
        assert_eq!(
            retention_curve(3, [[[0.4, 1.6]].as_slice()]),
            vec![1.0, 1.0, 0.0]
        );
        // [0.6, 1.4) covers no middle at all.
        assert_eq!(
            retention_curve(2, [[[0.6, 1.4]].as_slice()]),
            vec![0.0, 0.0]
        );
        // Ranges past the end are cut at the duration.
        assert_eq!(
            retention_curve(2, [[[1.0, 99.0]].as_slice()]),
            vec![0.0, 1.0]
        );
    }

    #[test]
    fn no_views_give_a_flat_zero_curve() {
        assert_eq!(retention_curve(3, std::iter::empty()), vec![0.0; 3]);
    }
}
