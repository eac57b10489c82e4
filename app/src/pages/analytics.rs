//! `/studio/analytics` (the overview) and `/studio/analytics/talks/{id}` (a talk's drill-down):
//! editors see their talks, admins their tenant's. The period is a plain GET form
//! (`?from=&to=`, inclusive days, default the last 30), so the pages work without JavaScript;
//! hydrated, they reload their figures every 15 s. Every chart is server-rendered SVG with its
//! data table; the CSV links download the same figures.

use ferrotape_model::analytics::report::{
    DimensionRow, Overview, SeriesPoint, TalkFigures, TalkReport, Totals, change,
};
use ferrotape_model::compute::duration_text;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::analytics::{load_overview, load_talk_report};
use crate::components::charts::{BarChart, RetentionChart, percent};
use crate::pages::studio::AccessRefused;

/// Calls `refetch` every 15 s once hydrated ("watching now" and fresh rollups).
fn refresh_every_15s(refetch: impl Fn() + Clone + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::leptos_dom::helpers::set_interval_with_handle;
        Effect::new(move |_| {
            let refetch = refetch.clone();
            let handle =
                set_interval_with_handle(move || refetch(), std::time::Duration::from_secs(15))
                    .ok();
            on_cleanup(move || {
                if let Some(handle) = handle {
                    handle.clear();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = refetch;
}

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let query = use_query_map();
    let overview = Resource::new(
        move || {
            let q = query.read();
            (q.get("from"), q.get("to"))
        },
        |(from, to)| load_overview(from, to),
    );
    refresh_every_15s(move || overview.refetch());
    view! {
        <Title text="Analytics"/>
        <section class="analytics" aria-labelledby="analytics-heading">
            <h1 id="analytics-heading">"Analytics"</h1>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading the figures…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <OverviewView overview/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio/analytics"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn TalkAnalyticsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let report = Resource::new(
        move || {
            let q = query.read();
            (
                params.read().get("id").unwrap_or_default(),
                q.get("from"),
                q.get("to"),
            )
        },
        |(id, from, to)| load_talk_report(id, from, to),
    );
    refresh_every_15s(move || report.refetch());
    view! {
        <Title text="Talk analytics"/>
        <section class="analytics" aria-labelledby="analytics-heading">
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading the figures…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <TalkReportView report/> }.into_any(),
                        Err(err) => view! {
                            <h1 id="analytics-heading">"Talk analytics"</h1>
                            <AccessRefused err next="/studio/analytics"/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PeriodForm(action: String, from: String, to: String) -> impl IntoView {
    view! {
        <form method="get" action=action class="inline-form filters" aria-label="Period">
            <label for="analytics-from">"From"</label>
            <input id="analytics-from" name="from" type="date" value=from/>
            <label for="analytics-to">"To"</label>
            <input id="analytics-to" name="to" type="date" value=to/>
            <button type="submit" class="button small">"Show"</button>
        </form>
    }
}

/// The inclusive last day of a `[from, to)` period.
fn last_day(to: &str) -> String {
    ferrotape_model::compute::parse_date(to)
        .map(|day| ferrotape_model::compute::format_date(day - time::Duration::days(1)))
        .unwrap_or_default()
}

#[component]
fn OverviewView(overview: Overview) -> impl IntoView {
    let Overview {
        period,
        totals,
        previous,
        series,
        talks,
        watching_now,
    } = overview;
    let to = last_day(&period.to);
    let csv = format!(
        "/api/v1/analytics/overview.csv?from={}&to={to}",
        period.from
    );
    let talk_rows = talks
        .into_iter()
        .map(|talk| view! { <TalkRow talk from=period.from.clone() to=to.clone()/> })
        .collect_view();
    view! {
        <PeriodForm action="/studio/analytics".into() from=period.from.clone() to=to.clone()/>
        <p class="analytics-period">
            {format!("{} to {} (UTC), compared with the same length of time before. ", period.from, to)}
            <a href=csv download="" rel="external">"Download CSV"</a>
        </p>
        <p class="watching-now" role="status">
            <strong data-figure="watching-now">{watching_now}</strong>" watching now"
        </p>
        <Kpis totals=totals.clone() previous/>
        <SeriesCharts series hourly=period.hourly/>
        <h2>"Talks"</h2>
        <div class="table-scroll">
            <table class="analytics-talks">
                <caption class="visually-hidden">"Figures per talk in the period"</caption>
                <thead><tr>
                    <th scope="col">"Talk"</th><th scope="col">"Views"</th>
                    <th scope="col">"Watch time"</th><th scope="col">"Average view"</th>
                    <th scope="col">"Completion"</th><th scope="col">"Startup p50"</th>
                    <th scope="col">"Rebuffering"</th>
                </tr></thead>
                <tbody>{talk_rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn TalkRow(talk: TalkFigures, from: String, to: String) -> impl IntoView {
    let t = &talk.totals;
    view! {
        <tr data-talk-id=talk.talk.to_string()>
            <th scope="row"><A href=format!("/studio/analytics/talks/{}?from={from}&to={to}", talk.talk)>{talk.title.clone()}</A></th>
            <td>{t.views}</td>
            <td>{duration_text(t.watch_ms as f64 / 1000.0)}</td>
            <td>{duration_text(t.average_view_secs())}</td>
            <td>{percent(t.completion_rate())}</td>
            <td>{ms_text(t.startup_percentile_ms(0.5))}</td>
            <td>{format!("{:.2} %", t.rebuffer_percentage())}</td>
        </tr>
    }
}

fn ms_text(ms: Option<f64>) -> String {
    ms.map_or_else(|| "—".to_owned(), |ms| format!("{:.0} ms", ms))
}

fn score_text(score: Option<f64>) -> String {
    score.map_or_else(|| "—".to_owned(), |s| format!("{s:.0}"))
}

/// One figure with its change against the previous period.
#[component]
fn Kpi(
    name: &'static str,
    label: &'static str,
    value: String,
    now: f64,
    before: f64,
    /// Whether a rise is good news (views) or bad (rebuffering).
    higher_is_better: bool,
) -> impl IntoView {
    let delta = change(now, before);
    let (text, class) = match delta {
        None => ("no earlier figure".to_owned(), "kpi-change"),
        Some(d) if d.abs() < 0.0005 => ("no change".to_owned(), "kpi-change"),
        Some(d) => {
            let good = (d > 0.0) == higher_is_better;
            (
                format!(
                    "{} {:.1} % on the period before",
                    if d > 0.0 { "up" } else { "down" },
                    d.abs() * 100.0
                ),
                if good {
                    "kpi-change good"
                } else {
                    "kpi-change bad"
                },
            )
        }
    };
    view! {
        <div class="kpi" data-figure=name>
            <dt>{label}</dt>
            <dd><span class="kpi-value">{value}</span><span class=class>{text}</span></dd>
        </div>
    }
}

#[component]
fn Kpis(totals: Totals, previous: Totals) -> impl IntoView {
    let t = &totals;
    let p = &previous;
    let opt = |v: Option<f64>| v.unwrap_or(0.0);
    view! {
        <dl class="kpis">
            <Kpi name="views" label="Views" value=t.views.to_string() now=t.views as f64 before=p.views as f64 higher_is_better=true/>
            <Kpi name="viewers" label="Unique viewers (daily)" value=t.viewers.to_string() now=t.viewers as f64 before=p.viewers as f64 higher_is_better=true/>
            <Kpi name="watch-time" label="Watch time" value=duration_text(t.watch_ms as f64 / 1000.0) now=t.watch_ms as f64 before=p.watch_ms as f64 higher_is_better=true/>
            <Kpi name="average-view" label="Average view" value=duration_text(t.average_view_secs()) now=t.average_view_secs() before=p.average_view_secs() higher_is_better=true/>
            <Kpi name="completion" label="Completion rate" value=percent(t.completion_rate()) now=t.completion_rate() before=p.completion_rate() higher_is_better=true/>
            <Kpi name="startup-p50" label="Startup time p50" value=ms_text(t.startup_percentile_ms(0.5)) now=opt(t.startup_percentile_ms(0.5)) before=opt(p.startup_percentile_ms(0.5)) higher_is_better=false/>
            <Kpi name="startup-p95" label="Startup time p95" value=ms_text(t.startup_percentile_ms(0.95)) now=opt(t.startup_percentile_ms(0.95)) before=opt(p.startup_percentile_ms(0.95)) higher_is_better=false/>
            <Kpi name="startup-score" label="Startup Time Score" value=score_text(t.startup_time_score()) now=opt(t.startup_time_score()) before=opt(p.startup_time_score()) higher_is_better=true/>
            <Kpi name="rebuffering" label="Rebuffering" value=format!("{:.2} %", t.rebuffer_percentage()) now=t.rebuffer_percentage() before=p.rebuffer_percentage() higher_is_better=false/>
            <Kpi name="rebuffer-frequency" label="Rebuffers per minute" value=format!("{:.2}", t.rebuffer_frequency()) now=t.rebuffer_frequency() before=p.rebuffer_frequency() higher_is_better=false/>
            <Kpi name="smoothness" label="Smoothness Score" value=score_text(t.smoothness_score()) now=opt(t.smoothness_score()) before=opt(p.smoothness_score()) higher_is_better=true/>
            <Kpi name="bitrate" label="Average bitrate" value=format!("{:.0} kbit/s", t.average_bitrate() / 1000.0) now=t.average_bitrate() before=p.average_bitrate() higher_is_better=true/>
            <Kpi name="failures" label="Playback failures" value=percent(t.failure_rate()) now=t.failure_rate() before=p.failure_rate() higher_is_better=false/>
            <Kpi name="exits-before-start" label="Exits before video start" value=percent(t.exits_before_start_rate()) now=t.exits_before_start_rate() before=p.exits_before_start_rate() higher_is_better=false/>
        </dl>
    }
}

#[component]
fn SeriesCharts(series: Vec<SeriesPoint>, hourly: bool) -> impl IntoView {
    let label = |at: &str| {
        if hourly {
            at.get(5..16).unwrap_or(at).replace('T', " ")
        } else {
            at.to_owned()
        }
    };
    let points = |f: fn(&Totals) -> f64| -> Vec<(String, f64)> {
        series
            .iter()
            .map(|p| (label(&p.at), f(&p.totals)))
            .collect()
    };
    let per = if hourly { "hour" } else { "day" };
    view! {
        <div class="charts">
            <BarChart id="chart-views" title=format!("Views per {per}") value_label="Views"
                points=points(|t| t.views as f64) format=|v| format!("{v:.0}")/>
            <BarChart id="chart-watch" title=format!("Watch time per {per} (minutes)") value_label="Minutes"
                points=points(|t| t.watch_ms as f64 / 60_000.0) format=|v| format!("{v:.1}")/>
            <BarChart id="chart-startup" title=format!("Startup time p50 per {per} (ms)") value_label="Milliseconds"
                points=points(|t| t.startup_percentile_ms(0.5).unwrap_or(0.0)) format=|v| format!("{v:.0}")/>
            <BarChart id="chart-rebuffer" title=format!("Rebuffering per {per} (% of watch time)") value_label="Percent"
                points=points(Totals::rebuffer_percentage) format=|v| format!("{v:.2}")/>
        </div>
    }
}

#[component]
fn TalkReportView(report: TalkReport) -> impl IntoView {
    let TalkReport {
        period,
        talk,
        previous,
        series,
        retention,
        dimensions,
        watching_now,
    } = report;
    let to = last_day(&period.to);
    let csv = format!(
        "/api/v1/analytics/talks/{}/report.csv?from={}&to={to}",
        talk.talk, period.from
    );
    view! {
        <h1 id="analytics-heading">{talk.title.clone()}</h1>
        <p><A href=format!("/studio/analytics?from={}&to={to}", period.from)>"All talks"</A>
           " · "<A href=format!("/studio/talks/{}", talk.talk)>"Edit the talk"</A>
           " · "<a href=format!("/talks/{}", talk.slug)>"Watch page"</a></p>
        <PeriodForm action=format!("/studio/analytics/talks/{}", talk.talk) from=period.from.clone() to=to.clone()/>
        <p class="analytics-period">
            {format!("{} to {} (UTC). ", period.from, to)}
            <a href=csv download="" rel="external">"Download CSV"</a>
        </p>
        <p class="watching-now" role="status">
            <strong data-figure="watching-now">{watching_now}</strong>" watching now"
        </p>
        <Kpis totals=talk.totals.clone() previous/>
        <RetentionChart id="chart-retention" curve=retention/>
        <SeriesCharts series hourly=period.hourly/>
        <Dimensions rows=dimensions/>
    }
}

#[component]
fn Dimensions(rows: Vec<DimensionRow>) -> impl IntoView {
    let names = [
        ("browser", "Browsers"),
        ("os", "Operating systems"),
        ("device", "Devices"),
        ("country", "Countries (from the browser's language)"),
        ("referrer", "Referrers"),
        ("embed", "Embedding sites"),
    ];
    let tables = names
        .into_iter()
        .map(|(key, heading)| {
            let body = rows
                .iter()
                .filter(|row| row.dimension == key)
                .take(10)
                .map(|row| view! {
                    <tr><th scope="row">{row.value.clone()}</th><td>{row.views}</td>
                        <td>{duration_text(row.watch_ms as f64 / 1000.0)}</td></tr>
                })
                .collect_view();
            view! {
                <table class="analytics-dimension" data-dimension=key>
                    <caption>{heading}</caption>
                    <thead><tr><th scope="col">"Value"</th><th scope="col">"Views"</th><th scope="col">"Watch time"</th></tr></thead>
                    <tbody>{body}</tbody>
                </table>
            }
        })
        .collect_view();
    view! {
        <h2>"Who watched"</h2>
        <div class="dimensions">{tables}</div>
    }
}
