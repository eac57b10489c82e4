//! `/healthz` (the process answers) and `/readyz` (it can reach the database).

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ferrotape_store::{PgPool, db};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(pool): State<PgPool>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, db::ping(&pool)).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready", "database": "ok" }))),
        Ok(Err(err)) => {
            tracing::warn!(%err, "readiness check: database unreachable");
            Err(ApiError::Unavailable("the database"))
        }
        Err(_) => {
            tracing::warn!("readiness check: database did not answer in time");
            Err(ApiError::Unavailable("the database"))
        }
    }
}
