//! The JSON API for accounts (`/api/v1/auth/…`, `/api/v1/admin/users…`): the same flows as the
//! pages, for scripts and other clients. Sessions are the same cookies the site uses.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ferrotape_accounts::cookies::{REFRESH_COOKIE, cleared_cookies, read_cookie, session_cookies};
use ferrotape_accounts::{AccessClaims, AccountError, RequestContext};
use ferrotape_model::admin::UserSummary;
use ferrotape_model::{Role, SessionUser};
use ferrotape_store::accounts::UserRecord;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::docs::ErrorBody;
use crate::auth::require_role;
use crate::error::ApiError;
use crate::state::AppState;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Account requests are small; anything bigger is refused before it is parsed.
const BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_out))
        .routes(routes!(log_out_everywhere))
        .routes(routes!(me))
        .routes(routes!(verify_email))
        .routes(routes!(request_reset))
        .routes(routes!(reset_password))
        .routes(routes!(list_users))
        .routes(routes!(update_user))
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

#[derive(Deserialize, ToSchema)]
struct SignUp {
    email: String,
    display_name: String,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignUp, security(()),
    responses((status = 201, description = "Account created; a confirmation mail is on its way"),
              (status = 409, description = "The address is taken", body = ErrorBody),
              (status = 422, description = "A refused email, name or password", body = ErrorBody),
              (status = 429, description = "Too many attempts", body = ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
struct LogIn {
    email: String,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LogIn, security(()),
    responses((status = 200, description = "Logged in: `{user}`, with the session cookies"),
              (status = 401, description = "Wrong email or password", body = ErrorBody),
              (status = 429, description = "Too many attempts", body = ErrorBody)))]
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

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("session" = [])),
    responses((status = 204, description = "Logged out; the session cookies are cleared")))]
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

#[utoipa::path(post, path = "/api/v1/auth/logout-everywhere", tag = "auth",
    responses((status = 200, description = "Every session of the user ended: `{sessions_ended}`"),
              (status = 401, description = "Not logged in", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, description = "The calling user", body = SessionUser),
              (status = 401, description = "Not logged in", body = ErrorBody)))]
async fn me(claims: Option<Extension<AccessClaims>>) -> Result<Json<SessionUser>, ApiError> {
    let claims = claims.ok_or(AccountError::Unauthenticated)?.0;
    Ok(Json(claims.user()))
}

#[derive(Deserialize, ToSchema)]
struct Token {
    token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = Token, security(()),
    responses((status = 204, description = "The address is confirmed"),
              (status = 400, description = "An invalid or used link", body = ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    email: String,
}

#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest, security(()),
    responses((status = 202, description = "A reset link is mailed if the address has an account"),
              (status = 429, description = "Too many attempts", body = ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
struct ResetConfirm {
    token: String,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm, security(()),
    responses((status = 204, description = "The password is changed; every session ended"),
              (status = 400, description = "An invalid or used link", body = ErrorBody),
              (status = 422, description = "A refused password", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, description = "The site's users", body = Vec<UserSummary>),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let admin = require_role(&state, request.extensions(), Role::Admin).await?;
    let users = ferrotape_store::accounts::list_users(&state.db, admin.tenant, 500, 0).await?;
    Ok(Json(users.iter().map(UserRecord::summary).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    role: Option<Role>,
    disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = UserUpdate,
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 204, description = "Changed"),
              (status = 403, description = "Not an admin, or the last admin", body = ErrorBody),
              (status = 404, description = "No such user", body = ErrorBody)))]
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
