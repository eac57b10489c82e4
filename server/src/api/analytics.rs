//! The dashboards' figures as CSV downloads: `GET /api/v1/analytics/overview.csv` (one line
//! per talk and a total) and `GET /api/v1/analytics/talks/{id}/report.csv` (one line per day,
//! or per hour for a period of up to three days, and a total). Editors get their talks,
//! admins their tenant's — the same scope and figures as `/studio/analytics`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrotape_model::Role;
use ferrotape_model::analytics::report;
use ferrotape_model::compute::{DateRange, format_date};
use ferrotape_store::analytics_reports::{self, Range, Scope};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::compute::RangeQuery;
use super::docs::ErrorBody;
use super::paging;
use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview_csv))
        .routes(routes!(talk_csv))
}

async fn scope_and_range(
    state: &AppState,
    extensions: &Extensions,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<(Scope, Range, DateRange), ApiError> {
    let user = require_role(state, extensions, Role::Editor).await?;
    let query = paging::query(query)?;
    let today = time::OffsetDateTime::now_utc().date();
    let days = DateRange::parse(query.from.as_deref(), query.to.as_deref(), today)
        .map_err(|message| ApiError::Coded(StatusCode::BAD_REQUEST, "invalid_range", message))?;
    Ok((Scope::for_user(&user), Range::from_days(days), days))
}

fn csv_response(name: &str, days: DateRange, body: String) -> Response {
    let file = format!(
        "attachment; filename=\"{name}-{}-to-{}.csv\"",
        format_date(days.from),
        format_date(days.to)
    );
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Every talk's figures in the period, and the total.
#[utoipa::path(get, path = "/api/v1/analytics/overview.csv", tag = "analytics", params(RangeQuery),
    responses(
        (status = 200, description = "One line per talk, then `total`", content_type = "text/csv"),
        (status = 400, description = "A malformed or too long range", body = ErrorBody),
        (status = 403, description = "Not an editor", body = ErrorBody),
    ))]
async fn overview_csv(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (scope, range, days) = scope_and_range(&state, &extensions, query).await?;
    let overview = analytics_reports::overview(&state.db, scope, range).await?;
    let mut rows: Vec<(String, &report::Totals)> = overview
        .talks
        .iter()
        .map(|talk| (talk.title.clone(), &talk.totals))
        .collect();
    rows.push(("total".to_owned(), &overview.totals));
    Ok(csv_response("analytics", days, report::csv("talk", &rows)))
}

/// One talk's figures per day (per hour for up to three days) and the total.
#[utoipa::path(get, path = "/api/v1/analytics/talks/{id}/report.csv", tag = "analytics",
    params(("id" = Uuid, Path, description = "The talk"), RangeQuery),
    responses(
        (status = 200, description = "One line per day or hour, then `total`", content_type = "text/csv"),
        (status = 400, description = "A malformed or too long range", body = ErrorBody),
        (status = 404, description = "No such talk among yours", body = ErrorBody),
    ))]
async fn talk_csv(
    State(state): State<AppState>,
    extensions: Extensions,
    Path(id): Path<String>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (scope, range, days) = scope_and_range(&state, &extensions, query).await?;
    let talk = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let report = analytics_reports::talk_report(&state.db, scope, talk, range)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut rows: Vec<(String, &report::Totals)> = report
        .series
        .iter()
        .map(|point| (point.at.clone(), &point.totals))
        .collect();
    rows.push(("total".to_owned(), &report.talk.totals));
    let first = if report.period.hourly { "hour" } else { "day" };
    Ok(csv_response(
        "talk-analytics",
        days,
        report::csv(first, &rows),
    ))
}
