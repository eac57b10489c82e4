//! Speaker profiles as editors manage them (a tenant's editors share them). The public
//! speaker page reads through `talks::find_speaker`.

use ferrotape_model::TenantId;
use ferrotape_model::talk::{FieldError, Speaker, SpeakerFields};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// At most this many speakers per page.
pub const MAX_PAGE: i64 = 200;

struct SpeakerRow {
    id: Uuid,
    slug: String,
    name: String,
    bio: String,
    links: Vec<String>,
    photo_key: Option<String>,
    revision: i64,
}

impl From<SpeakerRow> for Speaker {
    fn from(row: SpeakerRow) -> Speaker {
        Speaker {
            id: row.id,
            slug: row.slug,
            name: row.name,
            bio: row.bio,
            links: row.links,
            photo_url: row.photo_key.map(|key| format!("/media/{key}")),
            revision: row.revision,
        }
    }
}

/// Speakers by name (those whose name or slug contains `q`, for autocomplete), after the
/// speaker `after` (a name and id) in that order.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    q: Option<&str>,
    after: Option<(&str, Uuid)>,
    limit: i64,
) -> Result<Vec<Speaker>, StoreError> {
    let pattern = q.map(str::trim).filter(|q| !q.is_empty()).map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query_as!(
        SpeakerRow,
        "SELECT id, slug, name, bio, links, photo_key, revision FROM speakers
         WHERE tenant_id = $1
           AND ($2::text IS NULL OR name ILIKE $2 OR slug ILIKE $2)
           AND ($3::text IS NULL OR (name, id) > ($3, $4))
         ORDER BY name, id LIMIT $5",
        tenant.0,
        pattern,
        after.map(|(name, _)| name),
        after.map(|(_, id)| id).unwrap_or_else(Uuid::nil),
        limit.clamp(1, MAX_PAGE),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Speaker::from).collect())
}

pub async fn get(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<Speaker, StoreError> {
    sqlx::query_as!(
        SpeakerRow,
        "SELECT id, slug, name, bio, links, photo_key, revision FROM speakers
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
    )
    .fetch_optional(pool)
    .await?
    .map(Speaker::from)
    .ok_or(StoreError::NotFound)
}

fn slug_error(err: sqlx::Error, slug: &str) -> StoreError {
    match StoreError::from_write(err, "") {
        StoreError::Conflict(_) => StoreError::Invalid(FieldError::new(
            "slug",
            format!("another speaker already has the address `{slug}`"),
        )),
        other => other,
    }
}

pub async fn create(
    pool: &PgPool,
    tenant: TenantId,
    fields: SpeakerFields,
) -> Result<Speaker, StoreError> {
    let fields = fields.normalized().map_err(StoreError::Invalid)?;
    let slug = fields.slug_or_from_name();
    sqlx::query_as!(
        SpeakerRow,
        "INSERT INTO speakers (tenant_id, slug, name, bio, links) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, slug, name, bio, links, photo_key, revision",
        tenant.0,
        slug,
        fields.name,
        fields.bio,
        &fields.links,
    )
    .fetch_one(pool)
    .await
    .map(Speaker::from)
    .map_err(|e| slug_error(e, &slug))
}

/// Replaces a speaker's profile; with `expected_revision`, refuses (`Stale`) a speaker changed
/// since.
pub async fn update(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    expected_revision: Option<i64>,
    fields: SpeakerFields,
) -> Result<Speaker, StoreError> {
    let fields = fields.normalized().map_err(StoreError::Invalid)?;
    let updated = sqlx::query_as!(
        SpeakerRow,
        "UPDATE speakers SET name = $3, bio = $4, links = $5, slug = coalesce($6, slug)
         WHERE tenant_id = $1 AND id = $2 AND ($7::bigint IS NULL OR revision = $7)
         RETURNING id, slug, name, bio, links, photo_key, revision",
        tenant.0,
        id,
        fields.name,
        fields.bio,
        &fields.links,
        fields.slug,
        expected_revision,
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| slug_error(e, fields.slug.as_deref().unwrap_or_default()))?;
    match updated {
        Some(row) => Ok(row.into()),
        None => Err(stale_or_missing(pool, tenant, id).await?),
    }
}

/// Why a conditional update matched nothing: the speaker is gone, or it changed.
async fn stale_or_missing(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<StoreError, StoreError> {
    Ok(match get(pool, tenant, id).await {
        Ok(current) => StoreError::Stale {
            current: current.revision,
        },
        Err(StoreError::NotFound) => StoreError::NotFound,
        Err(other) => return Err(other),
    })
}

/// Sets the speaker's photo key (an image the server resized); returns the key it replaced.
pub async fn set_photo(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    photo_key: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let previous = sqlx::query_scalar!(
        "UPDATE speakers s SET photo_key = $3
         FROM (SELECT photo_key FROM speakers WHERE tenant_id = $1 AND id = $2 FOR UPDATE) old
         WHERE s.tenant_id = $1 AND s.id = $2
         RETURNING old.photo_key",
        tenant.0,
        id,
        photo_key,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(previous.filter(|p| Some(p.as_str()) != photo_key))
}

/// Deletes a speaker (their talks lose them); with `expected_revision`, only if unchanged.
/// Returns the photo key to delete from storage.
pub async fn delete(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    expected_revision: Option<i64>,
) -> Result<Option<String>, StoreError> {
    let deleted = sqlx::query_scalar!(
        "DELETE FROM speakers WHERE tenant_id = $1 AND id = $2
           AND ($3::bigint IS NULL OR revision = $3)
         RETURNING photo_key",
        tenant.0,
        id,
        expected_revision,
    )
    .fetch_optional(pool)
    .await?;
    match deleted {
        Some(photo) => Ok(photo),
        None => Err(stale_or_missing(pool, tenant, id).await?),
    }
}
