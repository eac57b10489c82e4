//! Server functions for the studio and admin pages. Each starts with a role guard: the UI
//! hides what a role cannot do, these make sure of it.

#[cfg(feature = "ssr")]
use ferrotape_model::Role;
use ferrotape_model::SessionUser;
use ferrotape_model::admin::{Outbox, UserSummary};
use leptos::prelude::*;

use crate::AppError;

/// The editor's view of the studio (what exists so far: who they are).
#[server(endpoint = "studio/overview")]
pub async fn studio_overview() -> Result<SessionUser, AppError> {
    use crate::server_context::{require_role, with_status};
    with_status(async { Ok(require_role(Role::Editor).await?.session_user()) }.await)
}

#[server(endpoint = "admin/users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use crate::server_context::{pool, require_role, with_status};
    with_status(
        async {
            let admin = require_role(Role::Admin).await?;
            let users =
                ferrotape_store::accounts::list_users(&pool()?, admin.tenant, 500, 0).await?;
            Ok(users
                .iter()
                .map(ferrotape_store::accounts::UserRecord::summary)
                .collect())
        }
        .await,
    )
}

#[server(endpoint = "admin/users/role")]
pub async fn change_user_role(user_id: String, role: String) -> Result<(), AppError> {
    use crate::server_context::{accounts, finish_form, require_role};
    let result = async {
        let admin = require_role(Role::Admin).await?;
        let id = user_id.parse().map_err(|_| AppError::NotFound)?;
        let role = Role::parse(&role)
            .ok_or_else(|| AppError::Invalid(format!("`{role}` is not a role")))?;
        accounts()?.change_role(admin.tenant, id, role).await?;
        Ok(())
    }
    .await;
    finish_form(result, "/admin/users", "", Some("/admin/users"))
}

#[server(endpoint = "admin/users/access")]
pub async fn set_user_disabled(user_id: String, disabled: bool) -> Result<(), AppError> {
    use crate::server_context::{accounts, finish_form, require_role};
    let result = async {
        let admin = require_role(Role::Admin).await?;
        let id = user_id.parse().map_err(|_| AppError::NotFound)?;
        accounts()?
            .set_disabled(admin.tenant, admin.id, id, disabled)
            .await?;
        Ok(())
    }
    .await;
    finish_form(result, "/admin/users", "", Some("/admin/users"))
}

#[server(endpoint = "admin/outbox")]
pub async fn list_outbox() -> Result<Outbox, AppError> {
    use crate::server_context::{accounts, pool, require_role, with_status};
    use ferrotape_model::admin::{OutboxMail, mask_link_tokens};
    with_status(
        async {
            let admin = require_role(Role::Admin).await?;
            let mails = ferrotape_store::mail::list(&pool()?, admin.tenant, 200).await?;
            Ok(Outbox {
                holds_mail: accounts()?.holds_mail(),
                mails: mails
                    .into_iter()
                    .map(|m| OutboxMail {
                        id: m.id,
                        // Links in mail to others are their secret (a reset link is a login).
                        body: if m.recipient == admin.email {
                            m.body
                        } else {
                            mask_link_tokens(&m.body)
                        },
                        recipient: m.recipient,
                        subject: m.subject,
                        created_at: m.created_at,
                        sent_at: m.sent_at,
                        attempts: m.attempts,
                        last_error: m.last_error,
                    })
                    .collect(),
            })
        }
        .await,
    )
}
