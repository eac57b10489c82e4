//! Tenants and the host names that select them.

use ferrotape_model::TenantId;
use sqlx::PgPool;

use crate::StoreError;

/// The tenant a host name (lower case, without port) is mapped to, if any.
pub async fn tenant_for_host(pool: &PgPool, host: &str) -> Result<Option<TenantId>, StoreError> {
    Ok(
        sqlx::query_scalar!("SELECT tenant_id FROM tenant_hosts WHERE host = $1", host)
            .fetch_optional(pool)
            .await?
            .map(TenantId),
    )
}

pub async fn find_by_slug(pool: &PgPool, slug: &str) -> Result<TenantId, StoreError> {
    sqlx::query_scalar!("SELECT id FROM tenants WHERE slug = $1", slug)
        .fetch_optional(pool)
        .await?
        .map(TenantId)
        .ok_or(StoreError::NotFound)
}

/// Whether a tenant with this id exists (an `X-Tenant-ID` from a trusted proxy must name one).
/// A tenant named by id (a trusted proxy's `X-Tenant-ID`) and the host name its links use
/// (the first of its stored names); `None` when there is no such tenant.
pub async fn find_with_host(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT (SELECT host FROM tenant_hosts h WHERE h.tenant_id = t.id ORDER BY host LIMIT 1)
         FROM tenants t WHERE t.id = $1",
        tenant.0
    )
    .fetch_optional(pool)
    .await?)
}

pub async fn create(pool: &PgPool, slug: &str, name: &str) -> Result<TenantId, StoreError> {
    sqlx::query_scalar!(
        "INSERT INTO tenants (slug, name) VALUES ($1, $2) RETURNING id",
        slug,
        name
    )
    .fetch_one(pool)
    .await
    .map(TenantId)
    .map_err(|e| StoreError::from_write(e, &format!("the tenant `{slug}`")))
}

/// Maps a host name to the tenant; a host already mapped elsewhere is `Conflict`.
pub async fn add_host(pool: &PgPool, tenant: TenantId, host: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO tenant_hosts (host, tenant_id) VALUES ($1, $2)",
        host,
        tenant.0
    )
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_write(e, &format!("the host `{host}`")))?;
    Ok(())
}

/// The tenant's display name (what exports are labelled with).
pub async fn name(pool: &PgPool, tenant: TenantId) -> Result<String, StoreError> {
    sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant.0)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)
}
