//! `GET /api/v1/admin/compute.csv?from=&to=`: the tenant's compute ledger (transcode and
//! transcription seconds per UTC day, job kind and resource class) as a CSV download, for
//! admins. The page `/admin/compute` shows the same figures and links here.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrotape_model::Role;
use ferrotape_model::compute::{self, DateRange};
use ferrotape_store::{compute_ledger, tenants};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::docs::ErrorBody;
use super::paging;
use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(compute_csv))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First UTC day (`2026-12-01`); default 29 days before `to`.
    pub(crate) from: Option<String>,
    /// Last UTC day, included; default today.
    pub(crate) to: Option<String>,
}

/// The compute ledger as CSV: `tenant,day,kind,resource_class,jobs,attempts,seconds`.
#[utoipa::path(get, path = "/api/v1/admin/compute.csv", tag = "admin", params(RangeQuery),
    responses(
        (status = 200, description = "The ledger, one line per day, kind and class",
            content_type = "text/csv"),
        (status = 400, description = "A malformed or too long range", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn compute_csv(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let admin = require_role(&state, &extensions, Role::Admin).await?;
    let query = paging::query(query)?;
    let today = time::OffsetDateTime::now_utc().date();
    let range = DateRange::parse(query.from.as_deref(), query.to.as_deref(), today)
        .map_err(|message| ApiError::Coded(StatusCode::BAD_REQUEST, "invalid_range", message))?;
    let ledger = compute_ledger::ledger(&state.db, admin.tenant, range).await?;
    let tenant = tenants::name(&state.db, admin.tenant).await?;
    let body = compute::csv(&tenant, &ledger.rows);
    let file = format!(
        "attachment; filename=\"compute-{}-to-{}.csv\"",
        compute::format_date(range.from),
        compute::format_date(range.to)
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
