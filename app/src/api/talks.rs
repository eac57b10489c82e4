//! Server functions for the catalog and talk pages.

use ferrotape_model::catalog::SpeakerProfile;
use ferrotape_model::{CatalogQuery, CatalogResults, WatchData};
use leptos::prelude::*;

use crate::AppError;

/// Talks per catalog page (divisible by 2, 3 and 4, so full rows on most screens).
pub const CATALOG_PAGE_SIZE: u32 = 24;

/// A page of the catalog: search, tag and speaker filters, pagination.
#[server(endpoint = "talks/catalog")]
pub async fn load_catalog(query: CatalogQuery) -> Result<CatalogResults, AppError> {
    use crate::server_context::{pool, tenant};
    let query = query.normalized();
    Ok(ferrotape_store::talks::catalog(&pool()?, tenant()?, &query, CATALOG_PAGE_SIZE).await?)
}

/// A speaker and a page of their published talks; `NotFound` for unknown speakers.
#[server(endpoint = "talks/speaker")]
pub async fn speaker_page(
    slug: String,
    page: u32,
) -> Result<(SpeakerProfile, CatalogResults), AppError> {
    use crate::server_context::{pool, tenant, with_status};
    with_status(
        async {
            if ferrotape_model::slug::validate(&slug).is_err() {
                return Err(AppError::NotFound);
            }
            let (pool, tenant) = (pool()?, tenant()?);
            let profile = ferrotape_store::talks::find_speaker(&pool, tenant, &slug).await?;
            let query = CatalogQuery {
                speaker: Some(slug),
                page,
                ..CatalogQuery::default()
            }
            .normalized();
            let talks =
                ferrotape_store::talks::catalog(&pool, tenant, &query, CATALOG_PAGE_SIZE).await?;
            Ok((profile, talks))
        }
        .await,
    )
}

/// One talk anyone with its link may watch (published or unlisted), by slug, for the watch
/// page; `NotFound` for unknown, unreachable or malformed slugs. A slug the talk had before
/// answers `Moved` with its current slug (and, when the page itself is being rendered, a 301).
#[server(endpoint = "talks/get")]
pub async fn get_talk(slug: String) -> Result<WatchData, AppError> {
    use crate::server_context::{pool, request_context, tenant, with_status};
    with_status(
        async {
            if ferrotape_model::slug::validate(&slug).is_err() {
                return Err(AppError::NotFound);
            }
            let (pool, tenant) = (pool()?, tenant()?);
            let mut talk = match ferrotape_store::talks::find_published(&pool, tenant, &slug).await
            {
                Err(ferrotape_store::StoreError::NotFound) => {
                    return Err(moved_or_not_found(&pool, tenant, &slug).await?);
                }
                other => other?,
            };
            talk.description_html = crate::markdown::render(&talk.description);
            talk.description = crate::markdown::plain_text(&talk.description);
            Ok(WatchData {
                talk,
                origin: request_context()?.client.origin,
            })
        }
        .await,
    )
}

/// `Moved` (and a 301 on the page's own response) when `slug` is one a reachable talk had.
#[cfg(feature = "ssr")]
async fn moved_or_not_found(
    pool: &ferrotape_store::PgPool,
    tenant: ferrotape_model::TenantId,
    slug: &str,
) -> Result<AppError, AppError> {
    let Some(current) =
        ferrotape_store::studio_talks::redirect_for_old_slug(pool, tenant, slug).await?
    else {
        return Ok(AppError::NotFound);
    };
    crate::server_context::redirect_page_permanently(&format!("/talks/{current}"));
    Ok(AppError::Moved(current))
}

/// One published talk by id, for the embedded player; `NotFound` otherwise.
#[server(endpoint = "talks/embed")]
pub async fn get_embed(id: String) -> Result<WatchData, AppError> {
    use crate::server_context::{pool, request_context, tenant, with_status};
    with_status(
        async {
            let Ok(id) = id.parse::<uuid::Uuid>() else {
                return Err(AppError::NotFound);
            };
            let mut talk =
                ferrotape_store::talks::find_published_by_id(&pool()?, tenant()?, id).await?;
            talk.description_html = crate::markdown::render(&talk.description);
            talk.description = crate::markdown::plain_text(&talk.description);
            Ok(WatchData {
                talk,
                origin: request_context()?.client.origin,
            })
        }
        .await,
    )
}
