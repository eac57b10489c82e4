//! Tags as editors manage them. Talks get tags by name through `studio_talks` (created on the
//! fly); this module lists (autocomplete), renames and deletes them.

use ferrotape_model::TenantId;
use ferrotape_model::talk::{FieldError, MAX_TAG_CHARS, Tag, tag_slug};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

pub const MAX_PAGE: i64 = 200;

/// Tags by name (those containing `q`), after the tag `after` (a name and id).
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    q: Option<&str>,
    after: Option<(&str, Uuid)>,
    limit: i64,
) -> Result<Vec<Tag>, StoreError> {
    let pattern = q.map(str::trim).filter(|q| !q.is_empty()).map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    Ok(sqlx::query_as!(
        Tag,
        r#"SELECT g.id, g.slug, g.name, g.revision,
                  (SELECT count(*) FROM talk_tags tt WHERE tt.tenant_id = g.tenant_id AND tt.tag_id = g.id) AS "talks!"
           FROM tags g
           WHERE g.tenant_id = $1
             AND ($2::text IS NULL OR g.name ILIKE $2 OR g.slug ILIKE $2)
             AND ($3::text IS NULL OR (g.name, g.id) > ($3, $4))
           ORDER BY g.name, g.id LIMIT $5"#,
        tenant.0,
        pattern,
        after.map(|(name, _)| name),
        after.map(|(_, id)| id).unwrap_or_else(Uuid::nil),
        limit.clamp(1, MAX_PAGE),
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<Tag, StoreError> {
    sqlx::query_as!(
        Tag,
        r#"SELECT g.id, g.slug, g.name, g.revision,
                  (SELECT count(*) FROM talk_tags tt WHERE tt.tenant_id = g.tenant_id AND tt.tag_id = g.id) AS "talks!"
           FROM tags g WHERE g.tenant_id = $1 AND g.id = $2"#,
        tenant.0,
        id,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)
}

/// A tag name trimmed and checked, with its slug.
fn checked(name: &str) -> Result<(String, String), StoreError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > MAX_TAG_CHARS {
        return Err(StoreError::Invalid(FieldError::new(
            "name",
            format!("a tag name has 1 to {MAX_TAG_CHARS} characters"),
        )));
    }
    let slug =
        tag_slug(&name).map_err(|e| StoreError::Invalid(FieldError::new("name", e.message)))?;
    Ok((name, slug))
}

pub async fn create(pool: &PgPool, tenant: TenantId, name: &str) -> Result<Tag, StoreError> {
    let (name, slug) = checked(name)?;
    let id = sqlx::query_scalar!(
        "INSERT INTO tags (tenant_id, slug, name) VALUES ($1, $2, $3) RETURNING id",
        tenant.0,
        slug,
        name,
    )
    .fetch_one(pool)
    .await
    .map_err(|e| match StoreError::from_write(e, "") {
        StoreError::Conflict(_) => StoreError::Invalid(FieldError::new(
            "name",
            format!("the tag `{name}` already exists"),
        )),
        other => other,
    })?;
    get(pool, tenant, id).await
}

/// Renames a tag (its slug follows the name); with `expected_revision`, only if unchanged.
pub async fn rename(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    expected_revision: Option<i64>,
    name: &str,
) -> Result<Tag, StoreError> {
    let (name, slug) = checked(name)?;
    let updated = sqlx::query_scalar!(
        "UPDATE tags SET name = $3, slug = $4
         WHERE tenant_id = $1 AND id = $2 AND ($5::bigint IS NULL OR revision = $5)
         RETURNING id",
        tenant.0,
        id,
        name,
        slug,
        expected_revision,
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| match StoreError::from_write(e, "") {
        StoreError::Conflict(_) => StoreError::Invalid(FieldError::new(
            "name",
            format!("another tag is already called `{name}`"),
        )),
        other => other,
    })?;
    match updated {
        Some(id) => get(pool, tenant, id).await,
        None => Err(match get(pool, tenant, id).await {
            Ok(current) => StoreError::Stale {
                current: current.revision,
            },
            Err(err) => err,
        }),
    }
}

/// Deletes a tag from the tenant and every talk.
pub async fn delete(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    expected_revision: Option<i64>,
) -> Result<(), StoreError> {
    let deleted = sqlx::query_scalar!(
        "DELETE FROM tags WHERE tenant_id = $1 AND id = $2
           AND ($3::bigint IS NULL OR revision = $3) RETURNING id",
        tenant.0,
        id,
        expected_revision,
    )
    .fetch_optional(pool)
    .await?;
    match deleted {
        Some(_) => Ok(()),
        None => Err(match get(pool, tenant, id).await {
            Ok(current) => StoreError::Stale {
                current: current.revision,
            },
            Err(err) => err,
        }),
    }
}
