//! Server functions for the catalog and talk pages.

use ferrotape_model::{TalkDetail, TalkSummary};
use leptos::prelude::*;

use crate::AppError;

/// Talks per catalog page.
pub const CATALOG_PAGE_SIZE: i64 = 48;

/// Published talks, newest first.
#[server(endpoint = "talks/list")]
pub async fn list_talks() -> Result<Vec<TalkSummary>, AppError> {
    use crate::server_context::{pool, tenant};
    let talks =
        ferrotape_store::talks::list_published(&pool()?, tenant()?, CATALOG_PAGE_SIZE, 0).await?;
    Ok(talks)
}

/// One published talk; `NotFound` for unknown, unpublished or malformed slugs.
#[server(endpoint = "talks/get")]
pub async fn get_talk(slug: String) -> Result<TalkDetail, AppError> {
    use crate::server_context::{pool, tenant, with_status};
    with_status(
        async {
            if ferrotape_model::slug::validate(&slug).is_err() {
                return Err(AppError::NotFound);
            }
            Ok(ferrotape_store::talks::find_published(&pool()?, tenant()?, &slug).await?)
        }
        .await,
    )
}
