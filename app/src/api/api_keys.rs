//! The studio's API keys (`/studio/api-keys`): list, create, revoke. A created key's secret is
//! shown once: to the hydrated page as the action's value; after a plain form post (no
//! JavaScript) through a short-lived HttpOnly cookie scoped to the page, which the page's next
//! render reads and clears.

use ferrotape_model::api::{ApiKey, CreatedApiKey};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// Where a key created without JavaScript waits for the page (seconds, path).
#[cfg(feature = "ssr")]
const NEW_KEY_COOKIE: &str = "ft_new_api_key";
#[cfg(feature = "ssr")]
const NEW_KEY_COOKIE_PATH: &str = "/studio/api-keys";

/// The caller's keys and, once, the secret of the key they just created without JavaScript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeysView {
    pub keys: Vec<ApiKey>,
    pub new_secret: Option<String>,
}

#[cfg(feature = "ssr")]
fn new_key_cookie(value: &str, max_age: u32) -> Option<http::HeaderValue> {
    let secure = crate::server_context::request_context()
        .map(|c| c.secure_cookies)
        .unwrap_or(true);
    let secure = if secure { "; Secure" } else { "" };
    http::HeaderValue::from_str(&format!(
        "{NEW_KEY_COOKIE}={value}; Path={NEW_KEY_COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

#[cfg(feature = "ssr")]
fn set_cookie(value: Option<http::HeaderValue>) {
    if let (Some(response), Some(value)) = (use_context::<leptos_axum::ResponseOptions>(), value) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

#[server(endpoint = "studio/api-keys")]
pub async fn api_keys() -> Result<ApiKeysView, AppError> {
    use crate::server_context::{cookie, pool, require_role, with_status};
    with_status(
        async {
            let user = require_role(ferrotape_model::Role::Editor).await?;
            let keys = ferrotape_store::api_keys::list(&pool()?, user.tenant, user.id).await?;
            let new_secret = cookie(NEW_KEY_COOKIE).filter(|s| s.starts_with("ft_"));
            if new_secret.is_some() {
                set_cookie(new_key_cookie("", 0));
            }
            Ok(ApiKeysView { keys, new_secret })
        }
        .await,
    )
}

/// Creates a key named `name` with the ticked scopes.
#[server(endpoint = "studio/api-keys/create")]
pub async fn create_api_key(
    name: String,
    read: Option<String>,
    write: Option<String>,
) -> Result<CreatedApiKey, AppError> {
    use crate::server_context::{finish_form, plain_form_post, pool, require_role};
    use ferrotape_model::api::{ApiScope, NewApiKey};
    let result = async {
        let user = require_role(ferrotape_model::Role::Editor).await?;
        let scopes = [(read, ApiScope::Read), (write, ApiScope::Write)]
            .into_iter()
            .filter_map(|(ticked, scope)| ticked.map(|_| scope))
            .collect();
        let request = NewApiKey { name, scopes };
        Ok(ferrotape_accounts::api_keys::create(&pool()?, user.tenant, user.id, request).await?)
    }
    .await;
    let plain = plain_form_post();
    if let (true, Ok(created)) = (plain, &result) {
        set_cookie(new_key_cookie(&created.secret, 300));
    }
    finish_form(
        result,
        "/studio/api-keys",
        "",
        plain.then_some("/studio/api-keys"),
    )
}

#[server(endpoint = "studio/api-keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool, require_role};
    let result = async {
        let user = require_role(ferrotape_model::Role::Editor).await?;
        let id = id.parse().map_err(|_| AppError::NotFound)?;
        Ok(ferrotape_store::api_keys::revoke(&pool()?, user.tenant, user.id, id).await?)
    }
    .await;
    finish_form(result, "/studio/api-keys", "", Some("/studio/api-keys"))
}
