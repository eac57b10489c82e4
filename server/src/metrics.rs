//! `GET /metrics` in the Prometheus text format, through the `metrics` facade and its
//! Prometheus exporter (one recorder per process):
//!
//! - `ferrotape_http_request_duration_seconds` (histogram by method, route pattern, status
//!   class), recorded by [`track_request`] around every request;
//! - `ferrotape_job_duration_seconds` (histogram by kind and outcome; the transcode's is
//!   `kind="transcode"`), recorded by the in-process worker's runtime;
//! - `ferrotape_jobs` (gauge by kind and state): the unfinished and discarded jobs of every
//!   tenant, counted through partial indexes, and `ferrotape_jobs_rows_estimate`, the
//!   planner's estimate of all rows (finished ones included), never a full-table count;
//! - `ferrotape_job_events_total` (counter by state): job state changes this server saw.
//!
//! Who may read it ([`MetricsAccess`](crate::metrics_access::MetricsAccess)): with `FERROTAPE_METRICS_TOKEN` set, whoever sends
//! `Authorization: Bearer <token>`; with `FERROTAPE_METRICS_BIND` set, it is served on that
//! address only (the site's listener answers 404), to anyone who can reach it unless a token is
//! set too; with neither, only to direct loopback peers (a request relayed by a reverse proxy
//! on the same machine carries forwarding headers and is refused).

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrotape_store::jobs;
use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::ApiError;
use crate::metrics_access::{OnMetricsListener, refusal};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The router of the separate metrics listener (`FERROTAPE_METRICS_BIND`).
pub fn listener_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .layer(axum::Extension(OnMetricsListener))
        .with_state(state)
}

const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0,
];

/// The process's recorder, installed on first use.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only ours");
        }
        handle
    })
}

/// Middleware: the duration of every request by method, route pattern and status class.
pub async fn track_request(request: Request, next: Next) -> Response {
    recorder();
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!(
        "ferrotape_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => status,
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The standard methods as static labels (no allocation per request); others as sent.
fn method_label(method: &Method) -> SharedString {
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    const LABELS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    match known.iter().position(|known| known == method) {
        Some(index) => SharedString::const_str(LABELS[index]),
        None => SharedString::from_owned(method.as_str().to_owned()),
    }
}

async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    if let Err(status) = state.metrics_access.check(&request) {
        return refusal(status);
    }
    match render(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

async fn render(state: &AppState) -> Result<String, ApiError> {
    let handle = recorder();
    let gauges = jobs::queue_gauges(&state.db).await?;
    // A (kind, state) that emptied since the last scrape reads 0, not its last count.
    static SEEN: Mutex<Option<HashSet<(String, &'static str)>>> = Mutex::new(None);
    {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        let seen = seen.get_or_insert_with(HashSet::new);
        let now: HashSet<(String, &'static str)> = gauges
            .by_kind_and_state
            .iter()
            .map(|(kind, job_state, _)| (kind.clone(), job_state.as_str()))
            .collect();
        for (kind, job_state) in seen.difference(&now) {
            metrics::gauge!("ferrotape_jobs", "kind" => kind.clone(), "state" => *job_state)
                .set(0.0);
        }
        for (kind, job_state, count) in &gauges.by_kind_and_state {
            metrics::gauge!("ferrotape_jobs", "kind" => kind.clone(), "state" => job_state.as_str())
                .set(*count as f64);
        }
        seen.extend(now);
    }
    metrics::gauge!("ferrotape_jobs_rows_estimate").set(gauges.rows_estimate as f64);
    for (job_state, count) in state.job_events.counts() {
        metrics::counter!("ferrotape_job_events_total", "state" => job_state).absolute(count);
    }
    handle.run_upkeep();
    Ok(handle.render())
}
