//! The subtitle editor page's data (`studio/talk/subtitles`): the talk's served video with
//! its media URLs signed for preview and its tracks. The editor's changes go through the REST
//! API (`/api/v1/talks/{id}/subtitles…`, the server's `api::subtitles`), which the editor
//! bundle calls with the session, because publishing writes files through the worker crate,
//! which the app does not depend on.

use ferrotape_model::subtitles::SubtitleEditorData;
use leptos::prelude::*;

use crate::AppError;

#[server(endpoint = "studio/talk/subtitles")]
pub async fn load_subtitle_editor(id: String) -> Result<SubtitleEditorData, AppError> {
    use crate::server_context::{accounts, pool, require_role, with_status};
    use ferrotape_model::Role;
    use ferrotape_store::studio_talks::Actor;
    use ferrotape_store::subtitle_editing;
    with_status(
        async {
            let user = require_role(Role::Editor).await?;
            let actor = Actor {
                user: user.id,
                admin: user.role == Role::Admin,
            };
            let talk: uuid::Uuid = id.trim().parse().map_err(|_| AppError::NotFound)?;
            let pool = pool()?;
            let video = subtitle_editing::talk_video(&pool, user.tenant, actor, talk).await?;
            let tracks = subtitle_editing::list(&pool, user.tenant, actor, talk).await?;
            let accounts = accounts()?;
            let urls = accounts.media_urls();
            let now = time::OffsetDateTime::now_utc();
            let sign = |key: &str| urls.sign_media_path(&format!("/media/{key}"), now);
            let waveform = ferrotape_store::subtitles::waveform_key(user.tenant, video.video);
            Ok(SubtitleEditorData {
                talk_id: talk,
                title: video.title,
                duration_ms: video.duration_ms,
                master_url: video.master_key.as_deref().map(sign),
                poster_url: video.poster_key.as_deref().map(sign),
                waveform_url: Some(sign(&waveform)),
                tracks,
            })
        }
        .await,
    )
}
