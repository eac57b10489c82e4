//! Live streams: the studio's rows (by the [`Actor`] rule: the owner, or an admin of the
//! tenant) and the state machine the ingest's webhooks drive.
//!
//! A publish is allowed by one indexed lookup of the key's hash, with the row locked so two
//! publishers racing on one key cannot both win. The state moves only here:
//! `begin_publish` (idle/ended → live with a new session; reconnecting → live in the same
//! session), `end_publish` (live → reconnecting, for the publisher that is live only),
//! `expire_reconnects` (reconnecting past the window → ended) and `regenerate_key` (a live
//! stream loses its publisher: reconnecting, so a push with the new key continues the session).

use ferrotape_model::TenantId;
use ferrotape_model::live::{LiveState, LiveStream, LiveStreamFields, PublicLiveStream};
use ferrotape_model::platform_events::PlatformEventKind;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
pub use crate::studio_talks::Actor;

/// At most this many streams per editor.
pub const MAX_STREAMS_PER_USER: i64 = 50;

#[derive(sqlx::FromRow)]
struct StreamRow {
    id: Uuid,
    title: String,
    state: String,
    record: bool,
    key_generation: i32,
    live_since: Option<OffsetDateTime>,
    ended_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
}

impl From<StreamRow> for LiveStream {
    fn from(row: StreamRow) -> LiveStream {
        LiveStream {
            id: row.id,
            title: row.title,
            state: LiveState::parse(&row.state).unwrap_or(LiveState::Idle),
            record: row.record,
            key_generation: row.key_generation,
            live_since: row.live_since,
            ended_at: row.ended_at,
            created_at: row.created_at,
        }
    }
}

const COLUMNS: &str = "id, title, state::text AS state, record, key_generation, live_since, \
                       ended_at, created_at";

/// Who may act on a stream: its owner, or any admin of its tenant.
const ACTOR_RULE: &str = "tenant_id = $1 AND ($2::bool OR owner_id = $3)";

/// Creates a stream owned by `actor`. `key_hash` is the stored hash of its first key, which
/// depends on the id: the caller picks both (`accounts::stream_keys::StreamKeys::mint`).
pub async fn create(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    id: Uuid,
    fields: &LiveStreamFields,
    key_hash: &[u8; 32],
) -> Result<LiveStream, StoreError> {
    let mut tx = pool.begin().await?;
    // Serialises one user's creations, so the count below cannot be raced past.
    sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(tenant.0)
        .bind(actor.user)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM live_streams WHERE tenant_id = $1 AND owner_id = $2")
            .bind(tenant.0)
            .bind(actor.user)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_STREAMS_PER_USER {
        return Err(StoreError::Invalid(ferrotape_model::talk::FieldError::new(
            "title",
            format!("you have {count} streams: delete one you no longer use first"),
        )));
    }
    let row: StreamRow = sqlx::query_as(&format!(
        "INSERT INTO live_streams (id, tenant_id, owner_id, title, record, key_hash)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(tenant.0)
    .bind(actor.user)
    .bind(&fields.title)
    .bind(fields.record)
    .bind(&key_hash[..])
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the stream"))?;
    tx.commit().await?;
    Ok(row.into())
}

/// The streams `actor` may manage, newest first.
pub async fn list(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
) -> Result<Vec<LiveStream>, StoreError> {
    let rows: Vec<StreamRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM live_streams WHERE {ACTOR_RULE} ORDER BY created_at DESC, id"
    ))
    .bind(tenant.0)
    .bind(actor.admin)
    .bind(actor.user)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(LiveStream::from).collect())
}

/// One stream `actor` may manage.
pub async fn get(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    id: Uuid,
) -> Result<LiveStream, StoreError> {
    let row: Option<StreamRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM live_streams WHERE {ACTOR_RULE} AND id = $4"
    ))
    .bind(tenant.0)
    .bind(actor.admin)
    .bind(actor.user)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(LiveStream::from).ok_or(StoreError::NotFound)
}

/// What viewers may know of a stream of `tenant`: its state and its current (or last)
/// session. `None`: no such stream here.
pub async fn viewing_state(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<(LiveState, Option<Uuid>)>, StoreError> {
    let row: Option<(String, Option<Uuid>)> = sqlx::query_as(
        "SELECT state::text, session_id FROM live_streams WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(state, session)| {
        (
            LiveState::parse(&state).unwrap_or(LiveState::Ended),
            session,
        )
    }))
}

#[derive(sqlx::FromRow)]
struct PublicRow {
    id: Uuid,
    title: String,
    state: String,
    live_since: Option<OffsetDateTime>,
    viewers: i32,
    owner: String,
}

impl From<PublicRow> for PublicLiveStream {
    fn from(row: PublicRow) -> PublicLiveStream {
        PublicLiveStream {
            id: row.id,
            title: row.title,
            state: LiveState::parse(&row.state).unwrap_or(LiveState::Ended),
            live_since: row.live_since,
            viewers: row.viewers.max(0) as u32,
            owner: row.owner,
        }
    }
}

const PUBLIC_COLUMNS: &str = "l.id, l.title, l.state::text AS state, l.live_since, \
                              l.viewers, u.display_name AS owner";

/// A stream of `tenant` as anyone may see it (its page); `None`: no such stream here.
pub async fn public_stream(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<PublicLiveStream>, StoreError> {
    let row: Option<PublicRow> = sqlx::query_as(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM live_streams l
         JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.owner_id
         WHERE l.tenant_id = $1 AND l.id = $2"
    ))
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(PublicLiveStream::from))
}

/// The streams of `tenant` on air (live, or waiting for their publisher), longest-running
/// first, at most `limit`.
pub async fn on_air(
    pool: &PgPool,
    tenant: TenantId,
    limit: i64,
) -> Result<Vec<PublicLiveStream>, StoreError> {
    let rows: Vec<PublicRow> = sqlx::query_as(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM live_streams l
         JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.owner_id
         WHERE l.tenant_id = $1 AND l.state IN ('live', 'reconnecting')
         ORDER BY l.live_since, l.id LIMIT $2"
    ))
    .bind(tenant.0)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(PublicLiveStream::from).collect())
}

/// What the stream studio shows beside the stream: its audience and its last recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StudioFigures {
    pub viewers: u32,
    pub peak_viewers: u32,
    pub recording_talk: Option<Uuid>,
}

/// [`StudioFigures`] of a stream (the caller has checked the stream is theirs).
pub async fn studio_figures(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<StudioFigures, StoreError> {
    let row: Option<(i32, i32, Option<Uuid>)> = sqlx::query_as(
        "SELECT viewers, peak_viewers, recording_talk_id FROM live_streams
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let (viewers, peak, recording_talk) = row.ok_or(StoreError::NotFound)?;
    Ok(StudioFigures {
        viewers: viewers.max(0) as u32,
        peak_viewers: peak.max(0) as u32,
        recording_talk,
    })
}

/// Stores the viewer counts a server counted (`(stream, viewers)`), raising each session's
/// peak; a stream no longer on air keeps 0.
pub async fn store_viewer_counts(
    pool: &PgPool,
    counts: &[(Uuid, usize)],
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = counts.iter().map(|(id, _)| *id).collect();
    let viewers: Vec<i32> = counts
        .iter()
        .map(|(_, n)| i32::try_from(*n).unwrap_or(i32::MAX))
        .collect();
    sqlx::query(
        "UPDATE live_streams l
         SET viewers = c.n, peak_viewers = greatest(l.peak_viewers, c.n), viewers_at = now()
         FROM unnest($1::uuid[], $2::int4[]) AS c(id, n)
         WHERE l.id = c.id AND l.state IN ('live', 'reconnecting')",
    )
    .bind(&ids)
    .bind(&viewers)
    .execute(pool)
    .await?;
    Ok(())
}

/// Changes a stream's title and recording switch.
pub async fn update(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    id: Uuid,
    fields: &LiveStreamFields,
) -> Result<LiveStream, StoreError> {
    let row: Option<StreamRow> = sqlx::query_as(&format!(
        "UPDATE live_streams SET title = $5, record = $6, updated_at = now()
         WHERE {ACTOR_RULE} AND id = $4 RETURNING {COLUMNS}"
    ))
    .bind(tenant.0)
    .bind(actor.admin)
    .bind(actor.user)
    .bind(id)
    .bind(&fields.title)
    .bind(fields.record)
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::from_write(e, "the stream"))?;
    row.map(LiveStream::from).ok_or(StoreError::NotFound)
}

/// Deletes a stream that is not live.
pub async fn delete(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    id: Uuid,
) -> Result<(), StoreError> {
    let stream = get(pool, tenant, actor, id).await?;
    if matches!(stream.state, LiveState::Live | LiveState::Reconnecting) {
        return Err(StoreError::Conflict(
            "the stream is live: stop the push (or regenerate its key) and wait until it ends"
                .into(),
        ));
    }
    sqlx::query(&format!(
        "DELETE FROM live_streams WHERE {ACTOR_RULE} AND id = $4 AND state IN ('idle', 'ended')"
    ))
    .bind(tenant.0)
    .bind(actor.admin)
    .bind(actor.user)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// What a regenerated key changed.
pub struct Regenerated {
    pub stream: LiveStream,
    /// The ingest's id of the publisher that was live with the old key: the caller drops it.
    pub dropped_publisher: Option<String>,
}

/// Counts the key's generation up and stores the new key's hash, which `new_hash` derives
/// from the new generation; the old key is refused from this commit on. A live stream loses
/// its publisher and waits in `reconnecting` for a push with the new key.
pub async fn regenerate_key(
    pool: &PgPool,
    tenant: TenantId,
    actor: Actor,
    id: Uuid,
    new_hash: impl Fn(i32) -> [u8; 32],
) -> Result<Regenerated, StoreError> {
    let mut tx = pool.begin().await?;
    let locked: Option<(i32, Option<String>)> = sqlx::query_as(&format!(
        "SELECT key_generation, publisher FROM live_streams
         WHERE {ACTOR_RULE} AND id = $4 FOR UPDATE"
    ))
    .bind(tenant.0)
    .bind(actor.admin)
    .bind(actor.user)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (generation, publisher) = locked.ok_or(StoreError::NotFound)?;
    let next = generation + 1;
    let row: StreamRow = sqlx::query_as(&format!(
        "UPDATE live_streams
         SET key_generation = $2, key_hash = $3, updated_at = now(),
             publisher = NULL,
             state = CASE WHEN state = 'live' THEN 'reconnecting'::live_state ELSE state END,
             disconnected_at = CASE WHEN state = 'live' THEN now() ELSE disconnected_at END
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(next)
    .bind(&new_hash(next)[..])
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Regenerated {
        stream: row.into(),
        dropped_publisher: publisher,
    })
}

/// The answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishDecision {
    /// Go live: a new session, or `resumed` the one a reconnect window kept.
    Allowed {
        tenant: TenantId,
        stream: Uuid,
        session: Uuid,
        resumed: bool,
        /// Whether the session is recorded (the stream's switch as the push starts).
        record: bool,
    },
    /// No stream has this key (never had, or it was regenerated).
    UnknownKey,
    /// Another publisher is live on this key.
    AlreadyLive,
}

#[derive(sqlx::FromRow)]
struct PublishRow {
    id: Uuid,
    tenant_id: Uuid,
    state: String,
    publisher: Option<String>,
    session_id: Option<Uuid>,
}

/// Decides a publish of the key whose hash is `key_hash` by the ingest's connection
/// `publisher`, and moves the stream to `live` when it is allowed. The same publisher asking
/// again (a retried webhook) is allowed again.
pub async fn begin_publish(
    pool: &PgPool,
    key_hash: &[u8; 32],
    publisher: &str,
) -> Result<PublishDecision, StoreError> {
    let mut tx = pool.begin().await?;
    let row: Option<PublishRow> = sqlx::query_as(
        "SELECT id, tenant_id, state::text AS state, publisher, session_id FROM live_streams
         WHERE key_hash = $1 FOR UPDATE",
    )
    .bind(&key_hash[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some(PublishRow {
        id: stream,
        tenant_id,
        state,
        publisher: current,
        session_id: session,
    }) = row
    else {
        return Ok(PublishDecision::UnknownKey);
    };
    let tenant = TenantId(tenant_id);
    if state == "live" && current.as_deref() != Some(publisher) {
        return Ok(PublishDecision::AlreadyLive);
    }
    let resumed = session.is_some() && (state == "reconnecting" || state == "live");
    let (session, record): (Uuid, bool) = sqlx::query_as(
        "UPDATE live_streams
         SET state = 'live', publisher = $2,
             session_id = CASE WHEN $3 THEN session_id ELSE gen_random_uuid() END,
             live_since = CASE WHEN $3 THEN live_since ELSE now() END,
             peak_viewers = CASE WHEN $3 THEN peak_viewers ELSE 0 END,
             disconnected_at = NULL, ended_at = NULL, updated_at = now()
         WHERE id = $1 RETURNING session_id, record",
    )
    .bind(stream)
    .bind(publisher)
    .bind(resumed)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the publish"))?;
    if !resumed {
        crate::platform_events::record(
            &mut *tx,
            tenant,
            PlatformEventKind::VidLive,
            None,
            None,
            &serde_json::json!({ "stream_id": stream, "session_id": session }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(PublishDecision::Allowed {
        tenant,
        stream,
        session,
        resumed,
        record,
    })
}

/// The push of `publisher` on the key whose hash is `key_hash` stopped: the stream waits in
/// `reconnecting`. Returns the stream, or `None` when this was not its live publisher (a
/// refused second publisher, or a key regenerated meanwhile).
pub async fn end_publish(
    pool: &PgPool,
    key_hash: &[u8; 32],
    publisher: &str,
) -> Result<Option<Uuid>, StoreError> {
    let stream: Option<(Uuid,)> = sqlx::query_as(
        "UPDATE live_streams
         SET state = 'reconnecting', publisher = NULL, disconnected_at = now(), updated_at = now()
         WHERE key_hash = $1 AND state = 'live' AND publisher = $2
         RETURNING id",
    )
    .bind(&key_hash[..])
    .bind(publisher)
    .fetch_optional(pool)
    .await?;
    Ok(stream.map(|(id,)| id))
}

/// Whether `publisher` is the one live on the key whose hash is `key_hash` (false once the
/// key was regenerated or the stream deleted).
pub async fn is_live_publisher(
    pool: &PgPool,
    key_hash: &[u8; 32],
    publisher: &str,
) -> Result<bool, StoreError> {
    let (holds,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM live_streams
                        WHERE key_hash = $1 AND state = 'live' AND publisher = $2)",
    )
    .bind(&key_hash[..])
    .bind(publisher)
    .fetch_one(pool)
    .await?;
    Ok(holds)
}

/// The ingest whose publishers are named `publisher_prefix…` started again: the streams its
/// previous run had live wait in `reconnecting` (a dead ingest reports no publish's end).
pub async fn ingest_restarted(pool: &PgPool, publisher_prefix: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE live_streams
         SET state = 'reconnecting', publisher = NULL, disconnected_at = now(), updated_at = now()
         WHERE state = 'live' AND starts_with(publisher, $1)",
    )
    .bind(publisher_prefix)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A stream whose reconnect window passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedStream {
    pub tenant: TenantId,
    pub stream: Uuid,
    pub session: Uuid,
    pub record: bool,
}

/// Ends every stream that waited in `reconnecting` longer than the window (one statement,
/// with a `VID_LIVE_ENDED` event each).
pub async fn expire_reconnects(
    pool: &PgPool,
    window_secs: i64,
) -> Result<Vec<EndedStream>, StoreError> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(Uuid, Uuid, Uuid, bool)> = sqlx::query_as(
        "WITH due AS (
             SELECT id, session_id FROM live_streams
             WHERE state = 'reconnecting'
               AND disconnected_at < now() - make_interval(secs => $1)
             FOR UPDATE SKIP LOCKED
         )
         UPDATE live_streams l
         SET state = 'ended', session_id = NULL, live_since = NULL, disconnected_at = NULL,
             viewers = 0, ended_at = now(), updated_at = now()
         FROM due WHERE l.id = due.id
         RETURNING l.tenant_id, l.id, due.session_id, l.record",
    )
    .bind(window_secs as f64)
    .fetch_all(&mut *tx)
    .await?;
    let ended: Vec<EndedStream> = rows
        .into_iter()
        .map(|(tenant, stream, session, record)| EndedStream {
            tenant: TenantId(tenant),
            stream,
            session,
            record,
        })
        .collect();
    for stream in &ended {
        crate::platform_events::record(
            &mut *tx,
            stream.tenant,
            PlatformEventKind::VidLiveEnded,
            None,
            None,
            &serde_json::json!({ "stream_id": stream.stream, "session_id": stream.session }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ended)
}

/// What the server holding a session's folder needs to finish it (`server::live::recordings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFate {
    pub tenant: TenantId,
    pub owner: Uuid,
    pub title: String,
    pub record: bool,
    /// The session on air now (live or reconnecting), if any.
    pub on_air: Option<Uuid>,
}

/// [`SessionFate`] of a stream by id, whichever tenant owns it (the caller holds its files);
/// `None`: the stream was deleted.
pub async fn session_fate(pool: &PgPool, stream: Uuid) -> Result<Option<SessionFate>, StoreError> {
    let row: Option<(Uuid, Uuid, String, bool, Option<Uuid>)> = sqlx::query_as(
        "SELECT tenant_id, owner_id, title, record,
                CASE WHEN state IN ('live', 'reconnecting') THEN session_id END
         FROM live_streams WHERE id = $1",
    )
    .bind(stream)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(tenant, owner, title, record, on_air)| SessionFate {
            tenant: TenantId(tenant),
            owner,
            title,
            record,
            on_air,
        }),
    )
}

/// A recording's draft talk and its video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordingTalk {
    pub talk: Uuid,
    pub video: Uuid,
}

/// Creates the draft talk a session's recording becomes — titled after the stream, owned by
/// the streamer — with its video waiting for the file (`uploading`), and links it from the
/// stream, in one transaction.
pub async fn create_recording_talk(
    pool: &PgPool,
    stream: Uuid,
    session: Uuid,
    fate: &SessionFate,
) -> Result<RecordingTalk, StoreError> {
    let mut tx = pool.begin().await?;
    let talk = crate::talks::create_talk(
        &mut tx,
        fate.tenant,
        &crate::talks::NewTalk {
            // Unique per session; the editor picks a better one when publishing.
            slug: format!("live-{}", &session.simple().to_string()[..12]),
            title: fate.title.clone(),
            description: String::new(),
            recorded_on: Some(OffsetDateTime::now_utc().date()),
            published_at: None,
            speakers: Vec::new(),
        },
    )
    .await?;
    sqlx::query("UPDATE talks SET created_by = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(fate.tenant.0)
        .bind(talk)
        .bind(fate.owner)
        .execute(&mut *tx)
        .await?;
    let (video,): (Uuid,) = sqlx::query_as(
        "INSERT INTO videos (tenant_id, talk_id, original_name, uploaded_by)
         VALUES ($1, $2, left($3, 255), $4) RETURNING id",
    )
    .bind(fate.tenant.0)
    .bind(talk)
    .bind(format!("{} (live recording)", fate.title))
    .bind(fate.owner)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::from_write(e, "the recording's video"))?;
    sqlx::query("UPDATE live_streams SET recording_talk_id = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(fate.tenant.0)
        .bind(stream)
        .bind(talk)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RecordingTalk { talk, video })
}
