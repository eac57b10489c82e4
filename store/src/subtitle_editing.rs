//! A person's work on a talk's caption tracks (the subtitle editor and the REST API): list,
//! load, save cues with optimistic concurrency, import a file as a track, publish, delete.
//!
//! Who may: the talk's editor or an admin of its tenant ([`Actor`]); anyone else gets
//! `NotFound`, as if the talk did not exist. A track belongs to the video the talk serves (its
//! newest ready one, else its newest).
//!
//! Saving never publishes: the cues in the row are the draft, the files under `vtt_key` are
//! what players get (of `published_revision`). Every change of the cues raises `revision`
//! and sets `edited`; a stale revision is refused with [`StoreError::Stale`] and nothing is
//! written. A track being transcribed cannot be changed until the transcription is over.

use ferrotape_model::TenantId;
use ferrotape_model::language::track_label;
use ferrotape_model::subtitles::{
    Cue, EditableTrack, MAX_CUES, TrackKind, TrackSummary, sort_cues, validate_cues,
};
use ferrotape_model::talk::FieldError;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::StoreError;
use crate::studio_talks::Actor;
use crate::subtitles::PublishedFiles;

/// The video a talk serves, as the editor needs it.
#[derive(Debug, Clone)]
pub struct TalkVideo {
    pub talk: Uuid,
    pub title: String,
    pub video: Uuid,
    pub duration_ms: u64,
    pub master_key: Option<String>,
    pub poster_key: Option<String>,
    /// Whether the video is `ready` (only a ready video's tracks can be published).
    pub ready: bool,
}

/// The talk's served video, if the actor may edit the talk. A talk without a video is
/// `NotFound` too: it has no tracks to edit.
pub async fn talk_video(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
) -> Result<TalkVideo, StoreError> {
    type Row = (
        String,
        Option<Uuid>,
        Uuid,
        Option<i64>,
        Option<String>,
        Option<String>,
        bool,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.title, t.created_by, v.id, v.duration_ms, v.master_key,
                coalesce(t.poster_key, v.poster_key), v.state = 'ready'
         FROM talks t
         JOIN LATERAL (
             SELECT vv.id, vv.duration_ms, vv.master_key, vv.poster_key, vv.state
             FROM videos vv WHERE vv.tenant_id = t.tenant_id AND vv.talk_id = t.id
             ORDER BY (vv.state = 'ready') DESC, vv.created_at DESC LIMIT 1
         ) v ON true
         WHERE t.tenant_id = $1 AND t.id = $2",
    )
    .bind(tenant.0)
    .bind(talk)
    .fetch_optional(pool)
    .await?;
    let (title, _owner, video, duration, master_key, poster_key, ready) = row
        .filter(|row| actor.admin || row.1 == Some(actor.user))
        .ok_or(StoreError::NotFound)?;
    Ok(TalkVideo {
        talk,
        title,
        video,
        duration_ms: duration.unwrap_or(0).max(0) as u64,
        master_key,
        poster_key,
        ready,
    })
}

const SUMMARY_COLUMNS: &str = "id, language, origin::text, state::text, revision, \
     published_revision, edited, jsonb_array_length(cues)";

type SummaryRow = (Uuid, String, String, String, i32, Option<i32>, bool, i32);
type TrackRow = (
    sqlx::types::Json<Vec<Cue>>,
    Uuid,
    String,
    String,
    String,
    i32,
    Option<i32>,
    bool,
    i32,
);

fn summary(
    (id, language, origin, state, revision, published, edited, cues): SummaryRow,
) -> TrackSummary {
    TrackSummary {
        id,
        label: track_label(&language, &origin),
        language,
        origin: TrackKind::parse(&origin).unwrap_or(TrackKind::Auto),
        state,
        revision,
        published_revision: published,
        edited,
        cue_count: cues.max(0) as u32,
    }
}

/// The tracks of the talk's video, in language order.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
) -> Result<Vec<TrackSummary>, StoreError> {
    let video = talk_video(pool, tenant, actor, talk).await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM subtitle_tracks
         WHERE tenant_id = $1 AND video_id = $2 ORDER BY language, origin DESC"
    ))
    .bind(tenant.0)
    .bind(video.video)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(summary).collect())
}

/// One track with its cues.
pub async fn get(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    track: Uuid,
) -> Result<EditableTrack, StoreError> {
    let video = talk_video(pool, tenant, actor, talk).await?;
    let row: Option<TrackRow> = sqlx::query_as(&format!(
        "SELECT cues, {SUMMARY_COLUMNS} FROM subtitle_tracks
             WHERE tenant_id = $1 AND video_id = $2 AND id = $3"
    ))
    .bind(tenant.0)
    .bind(video.video)
    .bind(track)
    .fetch_optional(pool)
    .await?;
    let (cues, id, language, origin, state, revision, published, edited, count) =
        row.ok_or(StoreError::NotFound)?;
    Ok(EditableTrack {
        summary: summary((
            id, language, origin, state, revision, published, edited, count,
        )),
        cues: cues.0,
    })
}

/// The row of a track the actor may change, locked for the transaction.
struct LockedTrack {
    video: Uuid,
    language: String,
    state: String,
    revision: i32,
    cues: Vec<Cue>,
    edited: bool,
    vtt_key: Option<String>,
}

async fn lock_track(
    tx: &mut Transaction<'_, Postgres>,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    track: Uuid,
    expected: Option<i64>,
) -> Result<LockedTrack, StoreError> {
    type Row = (
        Uuid,
        String,
        String,
        i32,
        sqlx::types::Json<Vec<Cue>>,
        bool,
        Option<String>,
        Option<Uuid>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.video_id, s.language, s.state::text, s.revision, s.cues, s.edited, s.vtt_key,
                t.created_by
         FROM subtitle_tracks s
         JOIN videos v ON v.tenant_id = s.tenant_id AND v.id = s.video_id
         JOIN talks t ON t.tenant_id = v.tenant_id AND t.id = v.talk_id
         WHERE s.tenant_id = $1 AND s.id = $2 AND t.id = $3
         FOR UPDATE OF s",
    )
    .bind(tenant.0)
    .bind(track)
    .bind(talk)
    .fetch_optional(&mut **tx)
    .await?;
    let (video, language, state, revision, cues, edited, vtt_key, _) = row
        .filter(|row| actor.admin || row.7 == Some(actor.user))
        .ok_or(StoreError::NotFound)?;
    if let Some(expected) = expected
        && expected != i64::from(revision)
    {
        return Err(StoreError::Stale {
            current: i64::from(revision),
        });
    }
    Ok(LockedTrack {
        video,
        language,
        state,
        revision,
        cues: cues.0,
        edited,
        vtt_key,
    })
}

fn refuse_transcribing(state: &str) -> Result<(), StoreError> {
    if state == "transcribing" {
        return Err(StoreError::Conflict(
            "this track is being transcribed: wait until the transcription is over".into(),
        ));
    }
    Ok(())
}

/// The rules of stored cues ([`validate_cues`], at most [`MAX_CUES`]), as a refusal naming
/// the first cue that breaks one; then the cues in display order.
pub fn checked_cues(mut cues: Vec<Cue>) -> Result<Vec<Cue>, StoreError> {
    if cues.len() > MAX_CUES {
        return Err(StoreError::Invalid(FieldError::new(
            "cues",
            format!("{} cues are more than the limit of {MAX_CUES}", cues.len()),
        )));
    }
    validate_cues(&cues)
        .map_err(|err| StoreError::Invalid(FieldError::new("cues", err.to_string())))?;
    sort_cues(&mut cues);
    Ok(cues)
}

/// Replaces the cues of a track (the editor's save). `expected` is the revision the editor
/// loaded; a track changed since is refused with `Stale` and nothing is written. Returns the
/// track as it is now.
pub async fn save(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    track: Uuid,
    expected: Option<i64>,
    cues: Vec<Cue>,
) -> Result<TrackSummary, StoreError> {
    let cues = checked_cues(cues)?;
    let mut tx = pool.begin().await?;
    let locked = lock_track(&mut tx, tenant, actor, talk, track, expected).await?;
    refuse_transcribing(&locked.state)?;
    let row: SummaryRow = sqlx::query_as(&format!(
        "UPDATE subtitle_tracks SET cues = $3, revision = revision + 1, edited = true,
                updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING {SUMMARY_COLUMNS}"
    ))
    .bind(tenant.0)
    .bind(track)
    .bind(sqlx::types::Json(&cues))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(summary(row))
}

/// Whether an import made a new track or replaced the cues of the language's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    Replaced,
}

/// Stores cues read from a file as the track of `language`: a new `human` draft, or, when
/// the language has a track, its cues replaced — only when `expected` names its current
/// revision (an import never overwrites a track the importer has not seen).
pub async fn import(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    language: &str,
    expected: Option<i64>,
    cues: Vec<Cue>,
) -> Result<(TrackSummary, Imported), StoreError> {
    if !ferrotape_model::talk::is_language_tag(language) {
        return Err(StoreError::Invalid(FieldError::new(
            "language",
            format!("{language:?} is not a language tag; use a BCP 47 tag such as `en` or `pt-BR`"),
        )));
    }
    let cues = checked_cues(cues)?;
    let video = talk_video(pool, tenant, actor, talk).await?;
    let mut tx = pool.begin().await?;
    let existing: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM subtitle_tracks
         WHERE tenant_id = $1 AND video_id = $2 AND lower(language) = lower($3) FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(video.video)
    .bind(language)
    .fetch_optional(&mut *tx)
    .await?;
    let (row, imported): (SummaryRow, Imported) = match existing {
        Some((track,)) => {
            let locked = lock_track(&mut tx, tenant, actor, talk, track, expected).await?;
            if expected.is_none() {
                return Err(StoreError::Stale {
                    current: i64::from(locked.revision),
                });
            }
            refuse_transcribing(&locked.state)?;
            let row = sqlx::query_as(&format!(
                "UPDATE subtitle_tracks SET cues = $3, revision = revision + 1, edited = true,
                        updated_at = now()
                 WHERE tenant_id = $1 AND id = $2 RETURNING {SUMMARY_COLUMNS}"
            ))
            .bind(tenant.0)
            .bind(track)
            .bind(sqlx::types::Json(&cues))
            .fetch_one(&mut *tx)
            .await?;
            (row, Imported::Replaced)
        }
        None => {
            let row = sqlx::query_as(&format!(
                "INSERT INTO subtitle_tracks (tenant_id, video_id, language, origin, state, cues,
                                              edited)
                 VALUES ($1, $2, $3, 'human', 'draft', $4, true)
                 RETURNING {SUMMARY_COLUMNS}"
            ))
            .bind(tenant.0)
            .bind(video.video)
            .bind(language)
            .bind(sqlx::types::Json(&cues))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, "a track of this language"))?;
            (row, Imported::Created)
        }
    };
    tx.commit().await?;
    Ok((summary(row), imported))
}

/// Deletes a track (its transcript lines go with it). Returns the folder of its published
/// files, for the caller to delete once the master playlist no longer names them, and the
/// video.
pub async fn delete(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    track: Uuid,
    expected: Option<i64>,
) -> Result<(Uuid, Option<String>), StoreError> {
    let mut tx = pool.begin().await?;
    let locked = lock_track(&mut tx, tenant, actor, talk, track, expected).await?;
    sqlx::query("DELETE FROM subtitle_tracks WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(track)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((locked.video, locked.vtt_key.as_deref().and_then(folder_of)))
}

fn folder_of(key: &str) -> Option<String> {
    key.rsplit_once('/').map(|(folder, _)| folder.to_owned())
}

/// A publication in progress: the track's row stays locked while its files are written, so
/// no save or second publication can slip in between (a save waits; it then finds the new
/// revision).
pub struct Publishing {
    tx: Transaction<'static, Postgres>,
    tenant: TenantId,
    pub track: Uuid,
    pub video: Uuid,
    pub language: String,
    /// The revision being published: the files go to the folder of the one after it.
    pub revision: i32,
    pub cues: Vec<Cue>,
    pub duration_ms: u64,
    old_vtt_key: Option<String>,
    pub edited: bool,
}

/// What a finished publication replaced.
pub struct Published {
    pub track: TrackSummary,
    /// The previous revision's folder, which no row points at any more.
    pub replaced_prefix: Option<String>,
}

/// Starts publishing a track at `expected` (the revision the editor saw).
pub async fn begin_publish(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    talk: Uuid,
    track: Uuid,
    expected: Option<i64>,
) -> Result<Publishing, StoreError> {
    let video = talk_video(pool, tenant, actor, talk).await?;
    if !video.ready {
        return Err(StoreError::Conflict(
            "the video is not ready yet: captions are published once it is".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let locked = lock_track(&mut tx, tenant, actor, talk, track, expected).await?;
    refuse_transcribing(&locked.state)?;
    if locked.video != video.video {
        return Err(StoreError::Conflict(
            "this track belongs to a video the talk no longer serves".into(),
        ));
    }
    Ok(Publishing {
        tx,
        tenant,
        track,
        video: locked.video,
        language: locked.language,
        revision: locked.revision,
        cues: locked.cues,
        duration_ms: video.duration_ms,
        old_vtt_key: locked.vtt_key,
        edited: locked.edited,
    })
}

impl Publishing {
    /// Points the track at its new files (the next revision), labels it `human` when a
    /// person edited it, and replaces its transcript lines.
    pub async fn finish(mut self, files: &PublishedFiles) -> Result<Published, StoreError> {
        let row: SummaryRow = sqlx::query_as(&format!(
            "UPDATE subtitle_tracks
             SET revision = revision + 1, published_revision = revision + 1, state = 'ready',
                 vtt_key = $3, playlist_key = $4, progress = 1, eta_at = NULL,
                 failure_reason = NULL,
                 origin = CASE WHEN edited THEN 'human'::subtitle_origin ELSE origin END,
                 updated_at = now()
             WHERE tenant_id = $1 AND id = $2 RETURNING {SUMMARY_COLUMNS}"
        ))
        .bind(self.tenant.0)
        .bind(self.track)
        .bind(&files.vtt_key)
        .bind(&files.playlist_key)
        .fetch_one(&mut *self.tx)
        .await?;
        crate::subtitles::replace_lines(
            &mut self.tx,
            self.tenant,
            self.track,
            self.video,
            &self.cues,
        )
        .await?;
        self.tx.commit().await?;
        let replaced_prefix = self
            .old_vtt_key
            .as_deref()
            .and_then(folder_of)
            .filter(|old| old != &files.prefix);
        Ok(Published {
            track: summary(row),
            replaced_prefix,
        })
    }
}
