//! Server functions of the studio: the editor's videos.

#[cfg(feature = "ssr")]
use ferrotape_model::Role;
use ferrotape_model::studio::StudioVideo;
use leptos::prelude::*;

use crate::AppError;

/// Transcodes a failed video again from its stored source (the uploader, or an admin).
#[server(endpoint = "studio/retry")]
pub async fn retry_video(video_id: uuid::Uuid) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool, require_role};
    let result = async {
        let user = require_role(Role::Editor).await?;
        let pool = pool()?;
        ferrotape_store::uploads::retry_transcode(
            &pool,
            user.tenant,
            user.id,
            user.role == Role::Admin,
            video_id,
        )
        .await?;
        ferrotape_store::jobs::notify_enqueued(&pool, &[ferrotape_store::uploads::TRANSCODE_JOB])
            .await?;
        Ok(())
    }
    .await;
    finish_form(result, "/studio", "", Some("/studio"))
}

/// Starts importing the video at `url` (a video page, a media file or an HLS playlist) into a
/// new draft talk; returns its video's id. The URL is checked first (http/https only, no
/// private destinations): a refused one creates nothing.
#[server(endpoint = "studio/import")]
pub async fn import_from_url(url: String) -> Result<uuid::Uuid, AppError> {
    use crate::server_context::{finish_form, pool, require_role};
    let result = async {
        let user = require_role(Role::Editor).await?;
        let policy = use_context::<std::sync::Arc<ferrotape_store::import_policy::ImportPolicy>>()
            .ok_or(AppError::Unavailable)?;
        let started = ferrotape_store::imports::import_from_url(
            &pool()?,
            &policy,
            user.tenant,
            user.id,
            &url,
        )
        .await?
        .map_err(|refused| AppError::Invalid(refused.to_string()))?;
        Ok(started.video)
    }
    .await;
    finish_form(result, "/studio", "", Some("/studio"))
}

/// The caller's uploads, newest first (editors and admins).
#[server(endpoint = "studio/videos")]
pub async fn studio_videos() -> Result<Vec<StudioVideo>, AppError> {
    use crate::server_context::{pool, require_role, with_status};
    with_status(
        async {
            let user = require_role(Role::Editor).await?;
            let mut videos =
                ferrotape_store::videos::list_for_uploader(&pool()?, user.tenant, user.id, 200)
                    .await?;
            // The editor's videos need not be public: their media is reached by signed URLs.
            let signer = crate::server_context::accounts()?;
            let now = time::OffsetDateTime::now_utc();
            for video in &mut videos {
                signer.media_urls().sign_studio_video(video, now);
            }
            Ok(videos)
        }
        .await,
    )
}
