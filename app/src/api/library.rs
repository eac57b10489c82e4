//! Server functions of the viewer's library: continue watching, watch later and history.
//!
//! The owner is the signed-in user when there is one, else the browser's anonymous id
//! (`viewer`, kept in localStorage and sent by the page). A signed-in call that also sends an
//! anonymous id first moves that id's library into the account: that is how what a viewer
//! watched before signing in follows them. Calls without either owner read an empty library
//! and may not write. Forms posted without JavaScript go back to `next`.

use ferrotape_model::library::{Library, TalkProgress};
use leptos::prelude::*;

use crate::AppError;

#[server(endpoint = "library/load")]
pub async fn load_library(viewer: Option<String>) -> Result<Library, AppError> {
    use crate::server_context::{pool, with_status};
    use ferrotape_model::library::LIST_LIMIT;
    use ferrotape_store::library::{self, ProgressList};
    with_status(
        async {
            let Some((tenant, owner)) = owner(viewer).await? else {
                return Ok(Library::default());
            };
            let pool = pool()?;
            Ok(Library {
                owner: owner_kind(owner),
                continue_watching: library::progress(
                    &pool,
                    tenant,
                    owner,
                    ProgressList::ContinueWatching,
                    LIST_LIMIT,
                )
                .await?,
                watch_later: library::watch_later(&pool, tenant, owner, LIST_LIMIT).await?,
                history: library::progress(&pool, tenant, owner, ProgressList::History, LIST_LIMIT)
                    .await?,
            })
        }
        .await,
    )
}

/// The home page's row: talks started and not finished, most recent first.
#[server(endpoint = "library/continue")]
pub async fn load_continue_watching(
    viewer: Option<String>,
) -> Result<Vec<ferrotape_model::library::LibraryEntry>, AppError> {
    use crate::server_context::{pool, with_status};
    use ferrotape_store::library::{self, ProgressList};
    with_status(
        async {
            let Some((tenant, owner)) = owner(viewer).await? else {
                return Ok(Vec::new());
            };
            Ok(
                library::progress(&pool()?, tenant, owner, ProgressList::ContinueWatching, 12)
                    .await?,
            )
        }
        .await,
    )
}

/// Where the viewer is in one talk (the player resumes there) and whether they saved it.
#[server(endpoint = "library/talk")]
pub async fn load_talk_progress(
    talk: String,
    viewer: Option<String>,
) -> Result<TalkProgress, AppError> {
    use crate::server_context::{pool, with_status};
    use ferrotape_model::library::resume_point;
    with_status(
        async {
            let talk = talk_id(&talk)?;
            let Some((tenant, owner)) = owner(viewer).await? else {
                return Ok(TalkProgress::default());
            };
            let (position, saved) =
                ferrotape_store::library::talk_state(&pool()?, tenant, owner, talk).await?;
            Ok(TalkProgress {
                owner: owner_kind(owner),
                resume_seconds: position.and_then(|(at, at_end)| resume_point(at, at_end)),
                watch_later: saved,
            })
        }
        .await,
    )
}

/// Saves a talk for later (`saved`), or takes it off the list. Returns whether it is saved.
#[server(endpoint = "library/watch-later")]
pub async fn set_watch_later(
    talk: String,
    saved: bool,
    viewer: Option<String>,
    next: Option<String>,
) -> Result<bool, AppError> {
    use crate::server_context::pool;
    let result = async {
        let talk = talk_id(&talk)?;
        let (tenant, owner) = writer(viewer).await?;
        Ok(ferrotape_store::library::set_watch_later(&pool()?, tenant, owner, talk, saved).await?)
    }
    .await;
    finish(result, next)
}

/// Takes a talk out of the history (and continue watching).
#[server(endpoint = "library/remove")]
pub async fn remove_from_history(
    talk: String,
    viewer: Option<String>,
    next: Option<String>,
) -> Result<bool, AppError> {
    use crate::server_context::pool;
    let result = async {
        let talk = talk_id(&talk)?;
        let (tenant, owner) = writer(viewer).await?;
        Ok(ferrotape_store::library::remove_from_history(&pool()?, tenant, owner, talk).await?)
    }
    .await;
    finish(result, next)
}

/// Forgets the whole history; the watch-later list stays. Returns how many talks it held.
#[server(endpoint = "library/clear")]
pub async fn clear_history(viewer: Option<String>, next: Option<String>) -> Result<u64, AppError> {
    use crate::server_context::pool;
    let result = async {
        let (tenant, owner) = writer(viewer).await?;
        Ok(ferrotape_store::library::clear_history(&pool()?, tenant, owner).await?)
    }
    .await;
    finish(result, next)
}

#[cfg(feature = "ssr")]
fn talk_id(text: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| AppError::NotFound)
}

/// The tenant and whose library this call reads or changes; see the module comment.
#[cfg(feature = "ssr")]
async fn owner(
    viewer: Option<String>,
) -> Result<Option<(ferrotape_model::TenantId, ferrotape_store::library::Owner)>, AppError> {
    use crate::server_context::{claims, pool, request_context};
    use ferrotape_store::library::{self, Owner};
    let viewer = match viewer.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(uuid::Uuid::parse_str(text).map_err(|_| {
            AppError::Invalid("the viewer id is not a UUID; nothing was read or changed".into())
        })?),
    };
    let tenant = request_context()?.tenant;
    if let Some(user) = claims().filter(|c| c.tid == tenant.0).map(|c| c.sub) {
        if let Some(viewer) = viewer {
            let moved = library::merge_viewer(&pool()?, tenant, viewer, user).await?;
            if moved > 0 {
                tracing::info!(%user, moved, "an anonymous library joined its account");
            }
        }
        return Ok(Some((tenant, Owner::User(user))));
    }
    Ok(viewer.map(|viewer| (tenant, Owner::Viewer(viewer))))
}

/// The owner a write changes the library of; nobody (no sign-in, no id) may write.
#[cfg(feature = "ssr")]
async fn writer(
    viewer: Option<String>,
) -> Result<(ferrotape_model::TenantId, ferrotape_store::library::Owner), AppError> {
    owner(viewer).await?.ok_or(AppError::Unauthenticated)
}

#[cfg(feature = "ssr")]
fn owner_kind(owner: ferrotape_store::library::Owner) -> ferrotape_model::library::OwnerKind {
    use ferrotape_model::library::OwnerKind;
    match owner {
        ferrotape_store::library::Owner::User(_) => OwnerKind::Account,
        ferrotape_store::library::Owner::Viewer(_) => OwnerKind::Browser,
    }
}

/// A write's answer: its status; a form posted without JavaScript goes back to `next` (with
/// `?error=` when it failed; to the login page when nobody is signed in).
#[cfg(feature = "ssr")]
fn finish<T>(result: Result<T, AppError>, next: Option<String>) -> Result<T, AppError> {
    use crate::server_context::{
        encode_query_value, local_path, plain_form_post, set_status, with_error,
    };
    if let Err(err) = &result {
        set_status(err.status());
    }
    if plain_form_post() {
        let next = local_path(next.as_deref());
        let target = match &result {
            Ok(_) => next.to_owned(),
            Err(AppError::Unauthenticated) => format!("/login?next={}", encode_query_value(next)),
            Err(err) => with_error(next, err, ""),
        };
        leptos_axum::redirect(&target);
    }
    result
}
