//! The JSON API for accounts (`/api/v1/auth/…`, `/api/v1/admin/users…`): the same flows as the
//! pages, for scripts and other clients. Sessions are the same cookies the site uses.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use ferrotape_accounts::cookies::{REFRESH_COOKIE, cleared_cookies, read_cookie, session_cookies};
use ferrotape_accounts::{AccessClaims, AccountError, RequestContext};
use ferrotape_model::admin::UserSummary;
use ferrotape_model::{Role, SessionUser};
use ferrotape_store::accounts::UserRecord;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;

/// Account requests are small; anything bigger is refused before it is parsed.
const BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/signup", post(sign_up))
        .route("/api/v1/auth/login", post(log_in))
        .route("/api/v1/auth/logout", post(log_out))
        .route("/api/v1/auth/logout-everywhere", post(log_out_everywhere))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/verify-email", post(verify_email))
        .route("/api/v1/auth/password-reset", post(request_reset))
        .route("/api/v1/auth/password-reset/confirm", post(reset_password))
        .route("/api/v1/admin/users", get(list_users))
        .route("/api/v1/admin/users/{id}", patch(update_user))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

fn with_cookies(mut response: Response, cookies: [String; 2]) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct SignUp {
    email: String,
    display_name: String,
    password: String,
}

async fn sign_up(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    json: Result<Json<SignUp>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = json?;
    let role = state
        .accounts
        .sign_up(
            ctx.tenant,
            &ctx.client,
            &input.email,
            &input.display_name,
            &input.password,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "role": role,
            "message": "Account created. Open the link we mailed you to confirm your address, then log in.",
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct LogIn {
    email: String,
    password: String,
}

async fn log_in(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    json: Result<Json<LogIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = json?;
    let session = state
        .accounts
        .log_in(ctx.tenant, &ctx.client, &input.email, &input.password)
        .await?;
    let response = Json(json!({ "user": session.claims.user() })).into_response();
    Ok(with_cookies(
        response,
        session_cookies(&session, ctx.secure_cookies),
    ))
}

async fn log_out(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(refresh) = read_cookie(&headers, REFRESH_COOKIE) {
        state.accounts.log_out(ctx.tenant, refresh).await?;
    }
    Ok(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        cleared_cookies(ctx.secure_cookies),
    ))
}

async fn log_out_everywhere(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    claims: Option<Extension<AccessClaims>>,
) -> Result<Response, ApiError> {
    let claims = claims.ok_or(AccountError::Unauthenticated)?.0;
    let revoked = state
        .accounts
        .log_out_everywhere(ctx.tenant, claims.sub)
        .await?;
    Ok(with_cookies(
        Json(json!({ "sessions_ended": revoked })).into_response(),
        cleared_cookies(ctx.secure_cookies),
    ))
}

async fn me(claims: Option<Extension<AccessClaims>>) -> Result<Json<SessionUser>, ApiError> {
    let claims = claims.ok_or(AccountError::Unauthenticated)?.0;
    Ok(Json(claims.user()))
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

async fn verify_email(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    json: Result<Json<Token>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(input) = json?;
    state
        .accounts
        .verify_email(ctx.tenant, &input.token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

async fn request_reset(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    json: Result<Json<ResetRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = json?;
    state
        .accounts
        .request_password_reset(ctx.tenant, &ctx.client, &input.email)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "message": "If an account uses this address, a reset link is on its way."
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ResetConfirm {
    token: String,
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    json: Result<Json<ResetConfirm>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(input) = json?;
    state
        .accounts
        .reset_password(ctx.tenant, &ctx.client, &input.token, &input.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let admin = require_role(&state, request.extensions(), Role::Admin).await?;
    let users = ferrotape_store::accounts::list_users(&state.db, admin.tenant, 500, 0).await?;
    Ok(Json(users.iter().map(UserRecord::summary).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    role: Option<Role>,
    disabled: Option<bool>,
}

async fn update_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let admin = require_role(&state, request.extensions(), Role::Admin).await?;
    // A malformed id is just an id that does not exist.
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| ApiError::BadRequest("the request body is too large".into()))?;
    let update: UserUpdate = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    if let Some(role) = update.role {
        state.accounts.change_role(admin.tenant, id, role).await?;
    }
    if let Some(disabled) = update.disabled {
        state
            .accounts
            .set_disabled(admin.tenant, admin.id, id, disabled)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
