//! Charts as SVG rendered on the server (no script needed to see them), each with a title and
//! a text summary for screen readers and the data table behind it in a `<details>`.

use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const PAD_LEFT: f64 = 48.0;
const PAD_BOTTOM: f64 = 24.0;

/// Bars over time (views per day or hour).
#[component]
pub fn BarChart(
    /// Unique on the page; names the chart's title and summary.
    id: &'static str,
    title: String,
    /// The value column's heading in the data table.
    value_label: &'static str,
    points: Vec<(String, f64)>,
    format: fn(f64) -> String,
) -> impl IntoView {
    let max = points.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let top = nice_ceiling(max);
    let plot_width = WIDTH - PAD_LEFT;
    let plot_height = HEIGHT - PAD_BOTTOM;
    let slot = if points.is_empty() {
        plot_width
    } else {
        plot_width / points.len() as f64
    };
    let total: f64 = points.iter().map(|(_, v)| v).sum();
    let summary = match points.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some((label, value)) if *value > 0.0 => format!(
            "{} points; total {}; highest {} at {}.",
            points.len(),
            format(total),
            format(*value),
            label
        ),
        _ => "No data in this period.".to_owned(),
    };
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let h = if top > 0.0 {
                value / top * plot_height
            } else {
                0.0
            };
            let x = PAD_LEFT + i as f64 * slot + slot * 0.1;
            view! {
                <rect class="chart-bar" x=format!("{x:.1}") y=format!("{:.1}", plot_height - h)
                    width=format!("{:.1}", (slot * 0.8).max(1.0)) height=format!("{h:.1}")>
                    <title>{format!("{label}: {}", format(*value))}</title>
                </rect>
            }
        })
        .collect_view();
    let first = points.first().map(|(l, _)| l.clone()).unwrap_or_default();
    let last = points.last().map(|(l, _)| l.clone()).unwrap_or_default();
    let rows = points
        .iter()
        .map(|(label, value)| view! { <tr><th scope="row">{label.clone()}</th><td>{format(*value)}</td></tr> })
        .collect_view();
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    let labelled_by = format!("{title_id} {desc_id}");
    view! {
        <figure class="chart" id=id>
            <figcaption id=title_id.clone()>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
                aria-labelledby=labelled_by preserveAspectRatio="none">
                <desc id=desc_id>{summary}</desc>
                <line class="chart-axis" x1=PAD_LEFT y1="0" x2=PAD_LEFT y2=plot_height/>
                <line class="chart-axis" x1=PAD_LEFT y1=plot_height x2=WIDTH y2=plot_height/>
                <text class="chart-label" x=PAD_LEFT - 4.0 y="12" text-anchor="end">{format(top)}</text>
                <text class="chart-label" x=PAD_LEFT - 4.0 y=plot_height text-anchor="end">"0"</text>
                {bars}
                <text class="chart-label" x=PAD_LEFT y=HEIGHT - 6.0>{first}</text>
                <text class="chart-label" x=WIDTH y=HEIGHT - 6.0 text-anchor="end">{last}</text>
            </svg>
            <details class="chart-data">
                <summary>{format!("Data table: {title}")}</summary>
                <table>
                    <thead><tr><th scope="col">"Time"</th><th scope="col">{value_label}</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}

/// The retention curve: the share of viewers (0–1) at each second of the talk.
#[component]
pub fn RetentionChart(id: &'static str, curve: Vec<f64>) -> impl IntoView {
    let plot_width = WIDTH - PAD_LEFT;
    let plot_height = HEIGHT - PAD_BOTTOM;
    let seconds = curve.len();
    // At most 320 points on screen; the table samples every 5 % of the talk.
    let step = seconds.div_ceil(320).max(1);
    let path = curve
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(s, share)| {
            let x = PAD_LEFT + s as f64 / seconds.max(1) as f64 * plot_width;
            let y = plot_height - share.clamp(0.0, 1.0) * plot_height;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let share_at = |fraction: f64| {
        let s = ((seconds as f64 * fraction) as usize).min(seconds.saturating_sub(1));
        curve.get(s).copied().unwrap_or(0.0)
    };
    let summary = if seconds == 0 {
        "No retention data in this period.".to_owned()
    } else {
        format!(
            "{} of viewers at the start, {} at the middle, {} at the end.",
            percent(share_at(0.0)),
            percent(share_at(0.5)),
            percent(share_at(0.99))
        )
    };
    let sample_every = (seconds / 20).max(1);
    let rows = curve
        .iter()
        .enumerate()
        .step_by(sample_every)
        .map(|(s, share)| {
            view! {
                <tr><th scope="row">{clock(s)}</th><td>{percent(*share)}</td></tr>
            }
        })
        .collect_view();
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    let labelled_by = format!("{title_id} {desc_id}");
    view! {
        <figure class="chart" id=id>
            <figcaption id=title_id.clone()>"Retention: share of viewers at each moment"</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
                aria-labelledby=labelled_by preserveAspectRatio="none">
                <desc id=desc_id>{summary}</desc>
                <line class="chart-axis" x1=PAD_LEFT y1="0" x2=PAD_LEFT y2=plot_height/>
                <line class="chart-axis" x1=PAD_LEFT y1=plot_height x2=WIDTH y2=plot_height/>
                <text class="chart-label" x=PAD_LEFT - 4.0 y="12" text-anchor="end">"100 %"</text>
                <text class="chart-label" x=PAD_LEFT - 4.0 y=plot_height text-anchor="end">"0"</text>
                <polyline class="chart-line" points=path fill="none"/>
                <text class="chart-label" x=PAD_LEFT y=HEIGHT - 6.0>"0:00"</text>
                <text class="chart-label" x=WIDTH y=HEIGHT - 6.0 text-anchor="end">{clock(seconds)}</text>
            </svg>
            <details class="chart-data">
                <summary>"Data table: retention"</summary>
                <table>
                    <thead><tr><th scope="col">"Moment"</th><th scope="col">"Viewers still watching"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}

/// 0.423 → "42.3 %".
pub fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// Seconds as m:ss (or h:mm:ss).
pub fn clock(seconds: usize) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A round number at or above `value` for the axis (1, 2, 5 × 10ⁿ).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 0.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|f| f * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 0.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(13.0), 20.0);
        assert_eq!(nice_ceiling(420.0), 500.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
    }

    #[test]
    fn clocks_and_percentages() {
        assert_eq!(clock(65), "1:05");
        assert_eq!(clock(3725), "1:02:05");
        assert_eq!(percent(0.4234), "42.3 %");
    }
}
