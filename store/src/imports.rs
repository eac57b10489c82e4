//! Videos whose source a job fetches or makes instead of an uploader sending it: the demo
//! talks' generated clips (`demo.video`) and URL imports (`import`). The video row exists from
//! the start (state `uploading`, attached to its talk) so the studio and the watch page show
//! it; the job then hands a file to the normal probe → transcode path
//! ([`crate::uploads::finish_import`]) or fails the video with a reason. Every function takes
//! the tenant and scopes its query.

use ferrotape_model::TenantId;
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::StoreError;
use crate::jobs::{self, NewJob};

/// The job kind that generates a demo talk's clip (`worker::demo_video`).
pub const DEMO_VIDEO_JOB: &str = "demo.video";

/// The job kind that downloads a video from a URL (`worker::import`).
pub const IMPORT_JOB: &str = "import";

/// What [`queue_video_job`] creates.
#[derive(Debug, Clone)]
pub struct SourceJob<'a> {
    pub talk: Uuid,
    /// The editor who asked for it (the studio lists the video to them); `None` for the demo.
    pub uploaded_by: Option<Uuid>,
    /// What the studio calls the video until its source is known.
    pub name: &'a str,
    pub kind: &'a str,
    /// The job's payload; `video_id` is added.
    pub payload: Value,
    pub max_attempts: i32,
}

/// Creates a video (state `uploading`) attached to `job.talk` and the job that will produce its
/// source, in the caller's transaction; returns the video and job ids. Call
/// [`jobs::notify_enqueued`] after the commit.
pub async fn queue_video_job(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    job: &SourceJob<'_>,
) -> Result<(Uuid, i64), StoreError> {
    let video = sqlx::query_scalar!(
        "INSERT INTO videos (tenant_id, talk_id, original_name, uploaded_by)
         VALUES ($1, $2, left($3, 255), $4) RETURNING id",
        tenant.0,
        job.talk,
        job.name,
        job.uploaded_by,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))?;
    let mut payload = job.payload.clone();
    if let Value::Object(fields) = &mut payload {
        fields.insert("video_id".into(), Value::String(video.to_string()));
    }
    let key = video.to_string();
    let id = jobs::enqueue(
        &mut **tx,
        tenant,
        &NewJob {
            max_attempts: job.max_attempts,
            unique_key: Some(&key),
            ..NewJob::new(job.kind, payload)
        },
    )
    .await?
    .ok_or_else(|| StoreError::Conflict("this video's job is already queued".to_owned()))?;
    Ok((video, id))
}

/// Whether `talk` has a video in any state (the demo seed gives a clip only to talks without).
pub async fn talk_has_video<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    talk: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM videos WHERE tenant_id = $1 AND talk_id = $2) AS "some!""#,
        tenant.0,
        talk,
    )
    .fetch_one(db)
    .await?)
}

/// The state of a video a source job works for (`None`: deleted meanwhile).
pub async fn video_state(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT state::text AS "state!" FROM videos WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        video,
    )
    .fetch_optional(pool)
    .await?)
}

/// Records the size and name of the source a job obtained (the tenant's storage count reads
/// the size) while the video is still `uploading`.
pub async fn record_source_file(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
    name: &str,
    size_bytes: u64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE videos SET original_name = left($3, 255), size_bytes = $4
         WHERE tenant_id = $1 AND id = $2 AND state = 'uploading'",
        tenant.0,
        video,
        name,
        i64::try_from(size_bytes.max(1)).unwrap_or(i64::MAX),
    )
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_write(e, "the video"))?;
    Ok(())
}

/// An import started by an editor: the video that will hold it and its draft talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartedImport {
    pub video: Uuid,
    pub talk: Uuid,
    pub job: i64,
}

/// Where an imported thumbnail is kept: under its video (so `/media` serves it once the talk
/// is published, like the video's own poster), outside every transcode generation.
pub fn imported_poster_key(tenant: TenantId, video: Uuid) -> String {
    format!(
        "{}/thumbs/imported.jpg",
        crate::uploads::video_prefix(tenant, video)
    )
}

/// Starts importing `url` (already checked against the import policy) for `user`: a draft
/// talk named after the address until the metadata arrives, its video (`uploading`, listed in
/// the user's studio) and the `import` job, in one transaction. Call
/// [`jobs::notify_enqueued`] after it.
pub async fn start_url_import(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    user: Uuid,
    url: &url::Url,
) -> Result<StartedImport, StoreError> {
    let host = url.host_str().unwrap_or("the web").to_owned();
    let file = url
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_owned))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| host.clone());
    let mut tx = pool.begin().await?;
    // A draft talk needs a unique slug; the import's own id makes one. Once the title is
    // known the slug follows it (see `record_metadata`).
    let placeholder = sqlx::query_scalar!(r#"SELECT gen_random_uuid() AS "id!""#)
        .fetch_one(&mut *tx)
        .await?;
    let talk = crate::talks::create_talk(
        &mut tx,
        tenant,
        &crate::talks::NewTalk {
            slug: format!("import-{}", &placeholder.simple().to_string()[..12]),
            title: format!("Import from {host}"),
            description: String::new(),
            recorded_on: None,
            published_at: None,
            speakers: Vec::new(),
        },
    )
    .await?;
    // The editor's draft: theirs to edit in the studio.
    sqlx::query!(
        "UPDATE talks SET created_by = $3 WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        talk,
        user,
    )
    .execute(&mut *tx)
    .await?;
    let (video, job) = queue_video_job(
        &mut tx,
        tenant,
        &SourceJob {
            talk,
            uploaded_by: Some(user),
            name: &file,
            kind: IMPORT_JOB,
            payload: serde_json::json!({ "url": url.as_str() }),
            max_attempts: 3,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StartedImport { video, talk, job })
}

/// The imported video's metadata reached its draft talk: the title and description, and a
/// slug made from the title when no talk has or had it (a draft has no public address yet).
/// A talk an editor already published or trashed is left alone.
pub async fn record_metadata(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
    title: &str,
    description: &str,
) -> Result<(), StoreError> {
    let title: String = title.trim().chars().take(300).collect();
    let description: String = description.trim().chars().take(50_000).collect();
    if title.is_empty() {
        return Ok(());
    }
    let slug = ferrotape_model::slug::slugify(&title)
        .ok()
        .filter(|s| !ferrotape_model::talk::RESERVED_SLUGS.contains(&s.as_str()));
    sqlx::query!(
        "UPDATE talks t SET title = $3, description = $4,
                slug = CASE WHEN $5::text IS NOT NULL
                            AND NOT EXISTS (SELECT 1 FROM talks o
                                            WHERE o.tenant_id = t.tenant_id AND o.slug = $5)
                            AND NOT EXISTS (SELECT 1 FROM talk_slug_history h
                                            WHERE h.tenant_id = t.tenant_id AND h.slug = $5)
                       THEN $5 ELSE t.slug END
         FROM videos v
         WHERE v.tenant_id = $1 AND v.id = $2 AND t.tenant_id = v.tenant_id
           AND t.id = v.talk_id AND t.state = 'draft' AND t.deleted_at IS NULL",
        tenant.0,
        video,
        title,
        description,
        slug,
    )
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_write(e, "the talk"))?;
    Ok(())
}

/// Download progress of a video still `uploading`: 0 to 1, and when it should end.
pub async fn set_download_progress(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
    progress: f32,
    eta_at: Option<time::OffsetDateTime>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE videos SET progress = $3, eta_at = $4
         WHERE tenant_id = $1 AND id = $2 AND state = 'uploading'",
        tenant.0,
        video,
        progress.clamp(0.0, 1.0),
        eta_at,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The imported thumbnail is stored at [`imported_poster_key`]: the poster of the video's talk,
/// unless an editor chose one meanwhile.
pub async fn set_imported_poster(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE talks t SET poster_key = $3
         FROM videos v
         WHERE v.tenant_id = $1 AND v.id = $2 AND t.tenant_id = v.tenant_id
           AND t.id = v.talk_id AND t.poster_key IS NULL",
        tenant.0,
        video,
        imported_poster_key(tenant, video),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// What an editor's paste does, for the API and the studio alike: checks the URL against the
/// policy (form, scheme, where its host resolves), then [`start_url_import`] and wakes the
/// workers. A refused URL changes nothing.
pub async fn import_from_url(
    pool: &sqlx::PgPool,
    policy: &crate::import_policy::ImportPolicy,
    tenant: TenantId,
    user: Uuid,
    raw_url: &str,
) -> Result<Result<StartedImport, crate::import_policy::ImportRefused>, StoreError> {
    let url = match policy.check_url(raw_url).await {
        Ok(url) => url,
        Err(refused) => return Ok(Err(refused)),
    };
    let started = start_url_import(pool, tenant, user, &url).await?;
    if let Err(err) = jobs::notify_enqueued(pool, &[IMPORT_JOB]).await {
        tracing::warn!(%err, "cannot wake workers; they will find the import by polling");
    }
    Ok(Ok(started))
}
