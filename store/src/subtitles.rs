//! Subtitle tracks (migration 20261203000001): the transcribe job's rows from start to
//! finish, and the published tracks players list.

use ferrotape_model::TenantId;
use ferrotape_model::catalog::{CaptionTrackRef, TranscriptLine, media_path};
use ferrotape_model::language::track_label;
use ferrotape_model::studio::CaptionStatus;
use ferrotape_model::subtitles::Cue;
use serde_json::Value;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::uploads::video_prefix;

/// The job kind that captions a video.
pub const TRANSCRIBE_JOB: &str = "transcribe";

/// What the transcribe job needs of a ready video.
pub struct Transcribable {
    pub source_key: String,
    pub probe: Value,
    pub duration_ms: u64,
}

/// A ready video with its source, or `None` (gone, not ready, no source).
pub async fn transcribable(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<Option<Transcribable>, StoreError> {
    let row: Option<(Option<String>, Option<Value>, Option<i64>)> = sqlx::query_as(
        "SELECT source_key, probe, duration_ms FROM videos
         WHERE tenant_id = $1 AND id = $2 AND state = 'ready'",
    )
    .bind(tenant.0)
    .bind(video)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(source_key, probe, duration_ms)| {
        Some(Transcribable {
            source_key: source_key?,
            probe: probe?,
            duration_ms: duration_ms?.max(0) as u64,
        })
    }))
}

pub enum TrackStart {
    /// The track row that receives this transcription (`transcribing`), at its current
    /// revision (`finish` publishes the next).
    Started { track: Uuid, revision: i32 },
    /// The language's track was edited by a person: a machine never replaces it.
    EditedByAPerson,
}

/// Takes the machine's track of `language` for a new transcription: a new row, or the
/// existing `auto` one nobody edited (see `subtitle_editing`) back to `transcribing` (players stop listing it until `finish`
/// publishes the new revision; its old files are deleted then).
pub async fn start(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
    language: &str,
    model: &str,
) -> Result<TrackStart, StoreError> {
    let row: Option<(Uuid, String, i32)> = sqlx::query_as(
        "INSERT INTO subtitle_tracks (tenant_id, video_id, language, origin, model)
         VALUES ($1, $2, $3, 'auto', $4)
         ON CONFLICT (tenant_id, video_id, language) DO UPDATE
             SET model = EXCLUDED.model, state = 'transcribing', progress = 0, eta_at = NULL,
                 failure_reason = NULL, updated_at = now()
             WHERE subtitle_tracks.origin = 'auto' AND NOT subtitle_tracks.edited
         RETURNING id, origin::text, revision",
    )
    .bind(tenant.0)
    .bind(video)
    .bind(language)
    .bind(model)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((track, origin, revision)) if origin == "auto" => {
            Ok(TrackStart::Started { track, revision })
        }
        _ => Ok(TrackStart::EditedByAPerson),
    }
}

/// Records how far a transcription is.
pub async fn progress(
    pool: &PgPool,
    tenant: TenantId,
    track: Uuid,
    progress: f64,
    eta: Option<OffsetDateTime>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE subtitle_tracks SET progress = $3, eta_at = $4
         WHERE tenant_id = $1 AND id = $2 AND origin = 'auto'",
    )
    .bind(tenant.0)
    .bind(track)
    .bind(progress.clamp(0.0, 1.0) as f32)
    .bind(eta)
    .execute(pool)
    .await?;
    Ok(())
}

/// Where a track revision's files were stored.
#[derive(Debug, Clone)]
pub struct PublishedFiles {
    /// `{tenant}/{video}/subs/{track}/r{revision}`: everything of this revision.
    pub prefix: String,
    pub vtt_key: String,
    pub playlist_key: String,
}

/// The folder of one revision of a track's files.
pub fn revision_prefix(tenant: TenantId, video: Uuid, track: Uuid, revision: i32) -> String {
    format!("{}/subs/{track}/r{revision}", video_prefix(tenant, video))
}

/// The waveform of a video's audio, which every track of it shares.
pub fn waveform_key(tenant: TenantId, video: Uuid) -> String {
    format!("{}/subs/waveform.json", video_prefix(tenant, video))
}

pub struct Finished {
    /// False when the transcription's language turned out to have a person's track: the
    /// machine's result was dropped.
    pub kept: bool,
    /// Files no row points at any more.
    pub replaced_prefixes: Vec<String>,
}

/// Publishes a finished transcription: the cues and files on the track (a new revision), its
/// language where the model detected it, its lines for search, in one transaction. A
/// detected language that has a person's track drops the machine's; one that has an older
/// machine track replaces it.
pub async fn finish(
    pool: &PgPool,
    tenant: TenantId,
    track: Uuid,
    language: &str,
    cues: &[Cue],
    files: &PublishedFiles,
) -> Result<Finished, StoreError> {
    let mut tx = pool.begin().await?;
    let row: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT video_id, language, vtt_key FROM subtitle_tracks
         WHERE tenant_id = $1 AND id = $2 AND origin = 'auto' FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(track)
    .fetch_optional(&mut *tx)
    .await?;
    let mut replaced = vec![files.prefix.clone()];
    let Some((video, current_language, old_vtt)) = row else {
        // A person took the track over meanwhile; this result is not theirs to overwrite.
        return Ok(Finished {
            kept: false,
            replaced_prefixes: replaced,
        });
    };
    if language != current_language {
        let other: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT id, origin::text, vtt_key FROM subtitle_tracks
             WHERE tenant_id = $1 AND video_id = $2 AND language = $3 FOR UPDATE",
        )
        .bind(tenant.0)
        .bind(video)
        .bind(language)
        .fetch_optional(&mut *tx)
        .await?;
        match other {
            Some((_, origin, _)) if origin == "human" => {
                sqlx::query("DELETE FROM subtitle_tracks WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(track)
                    .execute(&mut *tx)
                    .await?;
                if let Some(old) = old_vtt.as_deref().and_then(folder_of) {
                    replaced.push(old.to_owned());
                }
                tx.commit().await?;
                return Ok(Finished {
                    kept: false,
                    replaced_prefixes: replaced,
                });
            }
            Some((other_id, _, other_vtt)) => {
                sqlx::query("DELETE FROM subtitle_tracks WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(other_id)
                    .execute(&mut *tx)
                    .await?;
                if let Some(old) = other_vtt.as_deref().and_then(folder_of) {
                    replaced.push(old.to_owned());
                }
            }
            None => {}
        }
    }
    sqlx::query(
        "UPDATE subtitle_tracks
         SET language = $3, state = 'ready', progress = 1, eta_at = NULL, failure_reason = NULL,
             cues = $4, revision = revision + 1, vtt_key = $5, playlist_key = $6, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(track)
    .bind(language)
    .bind(sqlx::types::Json(cues))
    .bind(&files.vtt_key)
    .bind(&files.playlist_key)
    .execute(&mut *tx)
    .await?;
    replace_lines(&mut tx, tenant, track, video, cues).await?;
    tx.commit().await?;
    replaced.retain(|p| p != &files.prefix);
    if let Some(old) = old_vtt.as_deref().and_then(folder_of)
        && old != files.prefix
    {
        replaced.push(old.to_owned());
    }
    Ok(Finished {
        kept: true,
        replaced_prefixes: replaced,
    })
}

/// The revision folder a published key lies in.
fn folder_of(key: &str) -> Option<&str> {
    key.rsplit_once('/').map(|(folder, _)| folder)
}

pub(crate) async fn replace_lines(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: TenantId,
    track: Uuid,
    video: Uuid,
    cues: &[Cue],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM transcript_lines WHERE tenant_id = $1 AND track_id = $2")
        .bind(tenant.0)
        .bind(track)
        .execute(&mut **tx)
        .await?;
    let starts: Vec<i64> = cues.iter().map(|c| c.start_ms as i64).collect();
    let ends: Vec<i64> = cues.iter().map(|c| c.end_ms as i64).collect();
    let texts: Vec<String> = cues.iter().map(|c| c.text.replace('\n', " ")).collect();
    sqlx::query(
        "INSERT INTO transcript_lines (tenant_id, track_id, video_id, start_ms, end_ms, text)
         SELECT $1, $2, $3, s, e, t FROM unnest($4::bigint[], $5::bigint[], $6::text[]) AS l(s, e, t)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(track)
    .bind(video)
    .bind(&starts)
    .bind(&ends)
    .bind(&texts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A track players can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyTrack {
    pub id: Uuid,
    pub language: String,
    /// "auto" or "human".
    pub origin: String,
    pub vtt_key: String,
    pub playlist_key: String,
}

/// The ready tracks of a video, in language order (a person's before the machine's).
pub async fn ready_tracks(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<Vec<ReadyTrack>, StoreError> {
    // Ready rows always have both keys (a CHECK); the filter only keeps the types honest.
    let rows: Vec<ReadyRow> = sqlx::query_as(
        "SELECT id, language, origin::text AS origin, vtt_key, playlist_key FROM subtitle_tracks
         WHERE tenant_id = $1 AND video_id = $2 AND state = 'ready'
         ORDER BY language, origin DESC",
    )
    .bind(tenant.0)
    .bind(video)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(ReadyTrack {
                id: row.id,
                language: row.language,
                origin: row.origin,
                vtt_key: row.vtt_key?,
                playlist_key: row.playlist_key?,
            })
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct ReadyRow {
    id: Uuid,
    language: String,
    origin: String,
    vtt_key: Option<String>,
    playlist_key: Option<String>,
}

/// The caption tracks the player offers for a video: ready, with at least one cue.
pub async fn captions_for(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<Vec<CaptionTrackRef>, StoreError> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT language, origin::text, vtt_key FROM subtitle_tracks
         WHERE tenant_id = $1 AND video_id = $2 AND state = 'ready' AND vtt_key IS NOT NULL
           AND jsonb_array_length(cues) > 0
         ORDER BY language, origin DESC",
    )
    .bind(tenant.0)
    .bind(video)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(language, origin, key)| CaptionTrackRef {
            label: track_label(&language, &origin),
            language,
            url: media_path(&key),
        })
        .collect())
}

/// The transcript of a video from its best ready track: the talk's language first, a
/// person's track before the machine's.
pub async fn transcript_for(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
    talk_language: Option<&str>,
) -> Result<Vec<TranscriptLine>, StoreError> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT l.start_ms, l.end_ms, l.text FROM transcript_lines l
         WHERE l.tenant_id = $1 AND l.track_id = (
             SELECT id FROM subtitle_tracks
             WHERE tenant_id = $1 AND video_id = $2 AND state = 'ready'
             ORDER BY (language = $3) DESC NULLS LAST, origin DESC, language
             LIMIT 1)
         ORDER BY l.start_ms, l.end_ms",
    )
    .bind(tenant.0)
    .bind(video)
    .bind(talk_language)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(start, end, text)| TranscriptLine {
            start_ms: start.max(0) as u64,
            end_ms: end.max(0) as u64,
            text,
        })
        .collect())
}

/// Every track of a video, whatever its state, as the studio shows it.
pub async fn statuses(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<Vec<CaptionStatus>, StoreError> {
    let rows: Vec<StatusRow> = sqlx::query_as(
        "SELECT language, origin::text AS origin, state::text AS state, progress,
                extract(epoch FROM eta_at - now())::float8 AS eta_secs, failure_reason,
                jsonb_array_length(cues) AS cues
         FROM subtitle_tracks WHERE tenant_id = $1 AND video_id = $2
         ORDER BY language, origin DESC",
    )
    .bind(tenant.0)
    .bind(video)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| CaptionStatus {
            label: track_label(&row.language, &row.origin),
            state: row.state,
            progress: row.progress,
            eta_secs: row.eta_secs.filter(|s| *s > 0.0).map(|s| s.ceil() as u32),
            failure_reason: row.failure_reason,
            cues: row.cues.max(0) as u32,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    language: String,
    origin: String,
    state: String,
    progress: f32,
    eta_secs: Option<f64>,
    failure_reason: Option<String>,
    cues: i32,
}

/// Queues a new transcription of a video (the studio's "Transcribe again"); `false` when one
/// is queued or running already.
pub async fn queue_transcription(
    pool: &PgPool,
    tenant: TenantId,
    video: Uuid,
) -> Result<bool, StoreError> {
    let key = format!("transcribe:{video}");
    let job = crate::jobs::NewJob {
        priority: 3,
        max_attempts: 3,
        unique_key: Some(&key),
        ..crate::jobs::NewJob::new(TRANSCRIBE_JOB, serde_json::json!({ "video_id": video }))
    };
    let queued = crate::jobs::enqueue(pool, tenant, &job).await?.is_some();
    if queued {
        crate::jobs::notify_enqueued(pool, &[TRANSCRIBE_JOB]).await?;
    }
    Ok(queued)
}
