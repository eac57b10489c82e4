//! The viewer's library: continue watching, history and watch later, per owner (a signed-in
//! user, or a browser's anonymous id) and tenant.
//!
//! Progress is written by the analytics writer as it folds beacons into views
//! (`analytics::write_copy_text`), so this module only reads it, forgets it on request and
//! moves an anonymous viewer's rows to their account. Every list shows only talks the owner can
//! still reach in the tenant: public and published, or unlisted; never trashed.

use ferrotape_model::library::{LibraryEntry, RESUME_MIN_SECONDS};
use ferrotape_model::{TalkSummary, TenantId, catalog::media_path};
use sqlx::PgPool;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::{StoreError, talks};

/// Whose library: the two kinds never share rows, whatever the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User(Uuid),
    /// The browser's anonymous id (localStorage `ferrotape.viewer`).
    Viewer(Uuid),
}

impl Owner {
    fn kind(self) -> &'static str {
        match self {
            Owner::User(_) => "user",
            Owner::Viewer(_) => "viewer",
        }
    }

    fn id(self) -> Uuid {
        match self {
            Owner::User(id) | Owner::Viewer(id) => id,
        }
    }
}

/// Talks anyone with the link may watch (as `talks::published` decides), joined as `t`.
const REACHABLE: &str = "t.deleted_at IS NULL \
    AND ((t.state = 'public' AND t.published_at <= now()) OR t.state = 'unlisted')";

/// The card columns of a reachable talk `t`: speakers in order, the served video's length and
/// poster (a ready video wins over a newer one still processing, as on the watch page).
const CARD_COLUMNS: &str = "t.id, t.slug, t.title, t.recorded_on, \
    coalesce(t.published_at, t.updated_at) AS published_at, \
    ARRAY(SELECT s.slug FROM talk_speakers ts \
          JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id \
          WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id \
          ORDER BY ts.position, s.name) AS speaker_slugs, \
    ARRAY(SELECT s.name FROM talk_speakers ts \
          JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id \
          WHERE ts.tenant_id = t.tenant_id AND ts.talk_id = t.id \
          ORDER BY ts.position, s.name) AS speaker_names, \
    v.duration_ms, coalesce(t.poster_key, v.poster_key) AS poster_key";

const VIDEO_JOIN: &str = "LEFT JOIN LATERAL ( \
        SELECT vv.duration_ms, vv.poster_key FROM videos vv \
        WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id \
          AND vv.state IN ('ready', 'processing') \
        ORDER BY (vv.state = 'ready') DESC, vv.created_at DESC LIMIT 1 \
    ) v ON true";

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    slug: String,
    title: String,
    recorded_on: Option<Date>,
    published_at: OffsetDateTime,
    speaker_slugs: Vec<String>,
    speaker_names: Vec<String>,
    duration_ms: Option<i64>,
    poster_key: Option<String>,
    position: f32,
    at_end: bool,
    watched: bool,
    at: OffsetDateTime,
}

impl EntryRow {
    fn into_entry(self) -> LibraryEntry {
        LibraryEntry {
            talk: TalkSummary {
                id: self.id,
                slug: self.slug,
                title: self.title,
                speakers: talks::speaker_refs(self.speaker_slugs, self.speaker_names),
                duration_seconds: talks::duration_seconds(self.duration_ms),
                recorded_on: self.recorded_on,
                published_at: self.published_at,
                poster_url: self.poster_key.as_deref().map(media_path),
            },
            position_seconds: f64::from(self.position),
            at_end: self.at_end,
            watched: self.watched,
            at: self.at,
        }
    }
}

/// Which of the owner's progress rows a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressList {
    /// Started (past `RESUME_MIN_SECONDS`) and not at the end.
    ContinueWatching,
    /// Everything watched.
    History,
}

/// The owner's talks of `list`, most recent first.
pub async fn progress(
    pool: &PgPool,
    tenant: TenantId,
    owner: Owner,
    list: ProgressList,
    limit: i64,
) -> Result<Vec<LibraryEntry>, StoreError> {
    let filter = match list {
        ProgressList::ContinueWatching => "AND NOT p.at_end AND p.position >= $5",
        ProgressList::History => "",
    };
    let sql = format!(
        "SELECT {CARD_COLUMNS}, p.position, p.at_end, p.watched, p.updated_at AS at
         FROM library_progress p
         JOIN talks t ON t.tenant_id = p.tenant_id AND t.id = p.talk_id
         {VIDEO_JOIN}
         WHERE p.owner_kind = $1 AND p.owner = $2 AND p.tenant_id = $3 AND {REACHABLE} {filter}
         ORDER BY p.updated_at DESC, t.id
         LIMIT $4"
    );
    let mut query = sqlx::query_as::<_, EntryRow>(&sql)
        .bind(owner.kind())
        .bind(owner.id())
        .bind(tenant.0)
        .bind(limit.clamp(1, 500));
    if list == ProgressList::ContinueWatching {
        query = query.bind(RESUME_MIN_SECONDS);
    }
    let rows = query.fetch_all(pool).await?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

/// The owner's watch-later talks, most recently saved first, with their progress.
pub async fn watch_later(
    pool: &PgPool,
    tenant: TenantId,
    owner: Owner,
    limit: i64,
) -> Result<Vec<LibraryEntry>, StoreError> {
    let sql = format!(
        "SELECT {CARD_COLUMNS}, coalesce(p.position, 0) AS position,
                coalesce(p.at_end, false) AS at_end, coalesce(p.watched, false) AS watched,
                w.added_at AS at
         FROM library_watch_later w
         JOIN talks t ON t.tenant_id = w.tenant_id AND t.id = w.talk_id
         LEFT JOIN library_progress p ON p.owner_kind = w.owner_kind AND p.owner = w.owner
                                     AND p.talk_id = w.talk_id
         {VIDEO_JOIN}
         WHERE w.owner_kind = $1 AND w.owner = $2 AND w.tenant_id = $3 AND {REACHABLE}
         ORDER BY w.added_at DESC, t.id
         LIMIT $4"
    );
    let rows: Vec<EntryRow> = sqlx::query_as(&sql)
        .bind(owner.kind())
        .bind(owner.id())
        .bind(tenant.0)
        .bind(limit.clamp(1, 500))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

/// The owner's place in one talk: (position, at its end, saved for later). `None` values when
/// they have none.
pub async fn talk_state(
    pool: &PgPool,
    tenant: TenantId,
    owner: Owner,
    talk: Uuid,
) -> Result<(Option<(f64, bool)>, bool), StoreError> {
    let row: Option<(Option<f32>, Option<bool>, bool)> = sqlx::query_as(&format!(
        "SELECT p.position, p.at_end,
                EXISTS (SELECT 1 FROM library_watch_later w
                        WHERE w.owner_kind = $1 AND w.owner = $2 AND w.talk_id = t.id)
         FROM talks t
         LEFT JOIN library_progress p ON p.owner_kind = $1 AND p.owner = $2 AND p.talk_id = t.id
         WHERE t.tenant_id = $3 AND t.id = $4 AND {REACHABLE}"
    ))
    .bind(owner.kind())
    .bind(owner.id())
    .bind(tenant.0)
    .bind(talk)
    .fetch_optional(pool)
    .await?;
    let (position, at_end, saved) = row.ok_or(StoreError::NotFound)?;
    Ok((
        position.map(|p| (f64::from(p), at_end.unwrap_or(false))),
        saved,
    ))
}

/// `sql` with the owner and the tenant bound as `$1`, `$2`, `$3` (every statement that
/// changes one owner's rows is scoped so).
fn owned<'q>(
    sql: &'q str,
    tenant: TenantId,
    owner: Owner,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(owner.kind())
        .bind(owner.id())
        .bind(tenant.0)
}

/// Saves `talk` for later (or takes it off the list). A talk the owner cannot reach is
/// `NotFound`. Returns whether it is saved now.
pub async fn set_watch_later(
    pool: &PgPool,
    tenant: TenantId,
    owner: Owner,
    talk: Uuid,
    saved: bool,
) -> Result<bool, StoreError> {
    if !saved {
        owned(
            "DELETE FROM library_watch_later
             WHERE owner_kind = $1 AND owner = $2 AND tenant_id = $3 AND talk_id = $4",
            tenant,
            owner,
        )
        .bind(talk)
        .execute(pool)
        .await?;
        return Ok(false);
    }
    let reachable: Option<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT t.id FROM talks t WHERE t.tenant_id = $1 AND t.id = $2 AND {REACHABLE}"
    ))
    .bind(tenant.0)
    .bind(talk)
    .fetch_optional(pool)
    .await?;
    if reachable.is_none() {
        return Err(StoreError::NotFound);
    }
    owned(
        "INSERT INTO library_watch_later (owner_kind, owner, talk_id, tenant_id)
         VALUES ($1, $2, $4, $3) ON CONFLICT DO NOTHING",
        tenant,
        owner,
    )
    .bind(talk)
    .execute(pool)
    .await?;
    Ok(true)
}

/// Forgets the owner's progress in `talk` (it leaves history and continue watching).
pub async fn remove_from_history(
    pool: &PgPool,
    tenant: TenantId,
    owner: Owner,
    talk: Uuid,
) -> Result<bool, StoreError> {
    let done = owned(
        "DELETE FROM library_progress
         WHERE owner_kind = $1 AND owner = $2 AND tenant_id = $3 AND talk_id = $4",
        tenant,
        owner,
    )
    .bind(talk)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Forgets all the owner's progress in the tenant; the watch-later list stays. Returns how
/// many talks were forgotten.
pub async fn clear_history(
    pool: &PgPool,
    tenant: TenantId,
    owner: Owner,
) -> Result<u64, StoreError> {
    let done = owned(
        "DELETE FROM library_progress WHERE owner_kind = $1 AND owner = $2 AND tenant_id = $3",
        tenant,
        owner,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Moves the anonymous `viewer`'s library in the tenant to `user`: where both have progress in
/// a talk, the more recent wins; saved talks are kept once. Returns how many rows moved.
pub async fn merge_viewer(
    pool: &PgPool,
    tenant: TenantId,
    viewer: Uuid,
    user: Uuid,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let progress = sqlx::query(
        "WITH moved AS (
             DELETE FROM library_progress
             WHERE owner_kind = 'viewer' AND owner = $1 AND tenant_id = $2
             RETURNING *
         )
         INSERT INTO library_progress AS l (owner_kind, owner, talk_id, tenant_id, position,
             at_end, furthest, watched, updated_at)
         SELECT 'user', $3, talk_id, tenant_id, position, at_end, furthest, watched, updated_at
         FROM moved
         ON CONFLICT (owner_kind, owner, talk_id) DO UPDATE SET
             position = CASE WHEN excluded.updated_at > l.updated_at
                 THEN excluded.position ELSE l.position END,
             at_end = CASE WHEN excluded.updated_at > l.updated_at
                 THEN excluded.at_end ELSE l.at_end END,
             furthest = greatest(l.furthest, excluded.furthest),
             watched = l.watched OR excluded.watched,
             updated_at = greatest(l.updated_at, excluded.updated_at)",
    )
    .bind(viewer)
    .bind(tenant.0)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    let saved = sqlx::query(
        "WITH moved AS (
             DELETE FROM library_watch_later
             WHERE owner_kind = 'viewer' AND owner = $1 AND tenant_id = $2
             RETURNING *
         )
         INSERT INTO library_watch_later (owner_kind, owner, talk_id, tenant_id, added_at)
         SELECT 'user', $3, talk_id, tenant_id, added_at FROM moved
         ON CONFLICT DO NOTHING",
    )
    .bind(viewer)
    .bind(tenant.0)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(progress.rows_affected() + saved.rows_affected())
}
