//! `GET /metrics` in the Prometheus text format: jobs per kind and state (from the database,
//! all tenants) and job events seen by this server.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use ferrotape_store::jobs;

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Label values are kinds and states we write ourselves, but escape them anyway.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut out = String::new();
    out.push_str("# HELP ferrotape_jobs Jobs in the queue by kind and state.\n");
    out.push_str("# TYPE ferrotape_jobs gauge\n");
    for (kind, job_state, count) in jobs::counts(&state.db, None).await? {
        out.push_str(&format!(
            "ferrotape_jobs{{kind=\"{}\",state=\"{}\"}} {count}\n",
            label(&kind),
            job_state.as_str()
        ));
    }
    out.push_str("# HELP ferrotape_job_events_total Job state changes seen by this server.\n");
    out.push_str("# TYPE ferrotape_job_events_total counter\n");
    for (job_state, count) in state.job_events.counts() {
        out.push_str(&format!(
            "ferrotape_job_events_total{{state=\"{}\"}} {count}\n",
            label(&job_state)
        ));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
