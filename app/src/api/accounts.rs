//! Server functions for accounts: the pages' forms post here (with or without JavaScript).
//! The flows themselves live in `ferrotape_accounts`; these add cookies, statuses and redirects.

use ferrotape_model::SessionUser;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// The signed-in user according to the access token, or `None` (no database query).
#[server(endpoint = "auth/current")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    use crate::server_context::claims;
    Ok(claims().map(|claims| claims.user()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUp {
    /// True when no mail server is configured: the link is in /admin/outbox and the log.
    pub mail_held: bool,
}

#[server(endpoint = "auth/signup")]
pub async fn sign_up(
    email: String,
    display_name: String,
    password: String,
) -> Result<SignedUp, AppError> {
    use crate::server_context::{accounts, encode_query_value, finish_form, request_context};
    let result = async {
        let ctx = request_context()?;
        let accounts = accounts()?;
        accounts
            .sign_up(ctx.tenant, &ctx.client, &email, &display_name, &password)
            .await?;
        Ok(SignedUp {
            mail_held: accounts.holds_mail(),
        })
    }
    .await;
    let notice = match &result {
        Ok(SignedUp { mail_held: true }) => "/login?notice=check_outbox",
        _ => "/login?notice=check_inbox",
    };
    let extra = format!(
        "email={}&name={}",
        encode_query_value(&email),
        encode_query_value(&display_name)
    );
    finish_form(result, "/signup", &extra, Some(notice))
}

#[server(endpoint = "auth/login")]
pub async fn log_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<SessionUser, AppError> {
    use crate::server_context::{
        accounts, encode_query_value, finish_form, local_path, request_context, set_cookies,
    };
    let result = async {
        let ctx = request_context()?;
        let session = accounts()?
            .log_in(ctx.tenant, &ctx.client, &email, &password)
            .await?;
        set_cookies(ferrotape_accounts::cookies::session_cookies(
            &session,
            ctx.secure_cookies,
        ));
        Ok(session.claims.user())
    }
    .await;
    let next = local_path(next.as_deref()).to_owned();
    let extra = format!(
        "email={}&next={}",
        encode_query_value(&email),
        encode_query_value(&next)
    );
    finish_form(result, "/login", &extra, Some(&next))
}

#[server(endpoint = "auth/logout")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::server_context::{accounts, cookie, finish_form, request_context, set_cookies};
    use ferrotape_accounts::cookies::{REFRESH_COOKIE, cleared_cookies};
    let result = async {
        let ctx = request_context()?;
        if let Some(refresh) = cookie(REFRESH_COOKIE) {
            accounts()?.log_out(ctx.tenant, &refresh).await?;
        }
        set_cookies(cleared_cookies(ctx.secure_cookies));
        Ok(())
    }
    .await;
    finish_form(result, "/account", "", Some("/"))
}

#[server(endpoint = "auth/logout-everywhere")]
pub async fn log_out_everywhere() -> Result<u64, AppError> {
    use crate::server_context::{accounts, claims, finish_form, request_context, set_cookies};
    let result = async {
        let ctx = request_context()?;
        let claims = claims().ok_or(AppError::Unauthenticated)?;
        let ended = accounts()?
            .log_out_everywhere(ctx.tenant, claims.sub)
            .await?;
        set_cookies(ferrotape_accounts::cookies::cleared_cookies(
            ctx.secure_cookies,
        ));
        Ok(ended)
    }
    .await;
    finish_form(
        result,
        "/account",
        "",
        Some("/login?notice=logged_out_everywhere"),
    )
}

#[server(endpoint = "auth/verify")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    use crate::server_context::{accounts, encode_query_value, finish_form, request_context};
    let result = async {
        let ctx = request_context()?;
        accounts()?.verify_email(ctx.tenant, &token).await?;
        Ok(())
    }
    .await;
    let form = format!("/verify-email?token={}", encode_query_value(&token));
    finish_form(result, &form, "", Some("/login?notice=verified"))
}

#[server(endpoint = "auth/forgot")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::server_context::{accounts, encode_query_value, finish_form, request_context};
    let result = async {
        let ctx = request_context()?;
        accounts()?
            .request_password_reset(ctx.tenant, &ctx.client, &email)
            .await?;
        Ok(())
    }
    .await;
    let extra = format!("email={}", encode_query_value(&email));
    finish_form(
        result,
        "/forgot-password",
        &extra,
        Some("/login?notice=reset_sent"),
    )
}

#[server(endpoint = "auth/reset")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::server_context::{accounts, encode_query_value, finish_form, request_context};
    let result = async {
        let ctx = request_context()?;
        accounts()?
            .reset_password(ctx.tenant, &ctx.client, &token, &password)
            .await?;
        Ok(())
    }
    .await;
    let form = format!("/reset-password?token={}", encode_query_value(&token));
    finish_form(result, &form, "", Some("/login?notice=password_changed"))
}
