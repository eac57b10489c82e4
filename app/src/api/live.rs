//! Live streams: what viewers see (`/live/{id}`, the catalog's live section) and the stream
//! studio (`/studio/live`): create, rename, switch recording, show the key and where to push
//! it, regenerate it (the old key is refused at once and a push made with it is cut).

use ferrotape_model::live::{LiveStream, PublicLiveStream};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// At most this many streams in the catalog's live section.
pub const LIVE_NOW_LIMIT: i64 = 12;

/// One stream anyone may watch, by id, for its page.
#[server(endpoint = "live/get")]
pub async fn load_live_stream(id: String) -> Result<PublicLiveStream, AppError> {
    use crate::server_context::{pool, tenant, with_status};
    with_status(
        async {
            let id = id.trim().parse().map_err(|_| AppError::NotFound)?;
            ferrotape_store::live::public_stream(&pool()?, tenant()?, id)
                .await?
                .ok_or(AppError::NotFound)
        }
        .await,
    )
}

/// The streams on air now, for the catalog.
#[server(endpoint = "live/now")]
pub async fn load_live_now() -> Result<Vec<PublicLiveStream>, AppError> {
    use crate::server_context::{pool, tenant, with_status};
    with_status(
        ferrotape_store::live::on_air(&pool()?, tenant()?, LIVE_NOW_LIMIT)
            .await
            .map_err(AppError::from),
    )
}

/// A stream as its studio page shows it: the stream, its key, and where to push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamStudio {
    pub stream: LiveStream,
    pub key: String,
    /// `rtmp://host:port/app`, when this server runs or knows an ingest.
    pub server_url: Option<String>,
    /// The viewer count last stored and the session's peak.
    pub viewers: u32,
    pub peak_viewers: u32,
    /// The draft talk the last recording became, by id (the studio's editor link).
    pub recording_talk: Option<uuid::Uuid>,
}

#[cfg(feature = "ssr")]
async fn editor() -> Result<(ferrotape_model::TenantId, ferrotape_store::live::Actor), AppError> {
    let user = crate::server_context::require_role(ferrotape_model::Role::Editor).await?;
    Ok((
        user.tenant,
        ferrotape_store::live::Actor {
            user: user.id,
            admin: user.role == ferrotape_model::Role::Admin,
        },
    ))
}

#[cfg(feature = "ssr")]
fn parse_id(id: &str) -> Result<uuid::Uuid, AppError> {
    id.trim().parse().map_err(|_| AppError::NotFound)
}

/// The caller's streams (an admin's: the tenant's), newest first.
#[server(endpoint = "studio/live")]
pub async fn studio_streams() -> Result<Vec<LiveStream>, AppError> {
    use crate::server_context::{pool, with_status};
    with_status(
        async {
            let (tenant, actor) = editor().await?;
            Ok(ferrotape_store::live::list(&pool()?, tenant, actor).await?)
        }
        .await,
    )
}

/// A new stream with its first key; the studio goes to its page.
#[server(endpoint = "studio/live/create")]
pub async fn create_stream(title: String, record: Option<String>) -> Result<LiveStream, AppError> {
    use crate::server_context::{accounts, finish_form, plain_form_post, pool};
    use ferrotape_model::live::LiveStreamFields;
    let result = async {
        let (tenant, actor) = editor().await?;
        let fields = LiveStreamFields {
            title,
            record: record.is_some(),
        }
        .normalized()
        .map_err(AppError::Field)?;
        let (id, hash) = accounts()?.stream_keys().mint(tenant);
        Ok(ferrotape_store::live::create(&pool()?, tenant, actor, id, &fields, &hash).await?)
    }
    .await;
    let next = match (&result, plain_form_post()) {
        (Ok(stream), true) => Some(format!("/studio/live/{}", stream.id)),
        _ => None,
    };
    finish_form(result, "/studio/live", "", next.as_deref())
}

/// One stream's studio page.
#[server(endpoint = "studio/live/get")]
pub async fn load_stream_studio(id: String) -> Result<StreamStudio, AppError> {
    use crate::server_context::{accounts, pool, request_context, with_status};
    with_status(
        async {
            let (tenant, actor) = editor().await?;
            let pool = pool()?;
            let id = parse_id(&id)?;
            let stream = ferrotape_store::live::get(&pool, tenant, actor, id).await?;
            let extra = ferrotape_store::live::studio_figures(&pool, tenant, id).await?;
            let key = accounts()?
                .stream_keys()
                .key(tenant, stream.id, stream.key_generation);
            let authority = request_context()?.authority;
            let server_url = use_context::<Option<ferrotape_model::live::IngestAddress>>()
                .flatten()
                .map(|ingest| ingest.server_url(&authority));
            Ok(StreamStudio {
                stream,
                key,
                server_url,
                viewers: extra.viewers,
                peak_viewers: extra.peak_viewers,
                recording_talk: extra.recording_talk,
            })
        }
        .await,
    )
}

/// Renames a stream or switches its recording.
#[server(endpoint = "studio/live/update")]
pub async fn update_stream(
    id: String,
    title: String,
    record: Option<String>,
) -> Result<LiveStream, AppError> {
    use crate::server_context::{finish_form, pool};
    use ferrotape_model::live::LiveStreamFields;
    let path = format!("/studio/live/{}", id.trim());
    let result = async {
        let (tenant, actor) = editor().await?;
        let fields = LiveStreamFields {
            title,
            record: record.is_some(),
        }
        .normalized()
        .map_err(AppError::Field)?;
        Ok(ferrotape_store::live::update(&pool()?, tenant, actor, parse_id(&id)?, &fields).await?)
    }
    .await;
    finish_form(result, &path, "", Some(&path))
}

/// A new key: the old one is refused from now on and a push made with it is cut.
#[server(endpoint = "studio/live/regenerate")]
pub async fn regenerate_stream_key(id: String) -> Result<(), AppError> {
    use crate::server_context::{accounts, finish_form, pool};
    let path = format!("/studio/live/{}", id.trim());
    let result = async {
        let (tenant, actor) = editor().await?;
        let id = parse_id(&id)?;
        let keys = accounts()?.stream_keys().clone();
        let regenerated =
            ferrotape_store::live::regenerate_key(&pool()?, tenant, actor, id, |generation| {
                keys.stored_hash(tenant, id, generation)
            })
            .await?;
        if let Some(publisher) = regenerated.dropped_publisher {
            tracing::info!(stream = %id, publisher, "stream key regenerated in the studio: its live push is cut");
        }
        Ok(())
    }
    .await;
    finish_form(result, &path, "", Some(&path))
}

/// Deletes a stream that is not live; the studio goes back to the list.
#[server(endpoint = "studio/live/delete")]
pub async fn delete_stream(id: String) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool};
    let path = format!("/studio/live/{}", id.trim());
    let result = async {
        let (tenant, actor) = editor().await?;
        Ok(ferrotape_store::live::delete(&pool()?, tenant, actor, parse_id(&id)?).await?)
    }
    .await;
    finish_form(result, &path, "", Some("/studio/live"))
}
