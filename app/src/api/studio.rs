//! Server functions of the studio: the editor's videos.

#[cfg(feature = "ssr")]
use ferrotape_model::Role;
use ferrotape_model::studio::StudioVideo;
use leptos::prelude::*;

use crate::AppError;

/// The caller's uploads, newest first (editors and admins).
#[server(endpoint = "studio/videos")]
pub async fn studio_videos() -> Result<Vec<StudioVideo>, AppError> {
    use crate::server_context::{pool, require_role, with_status};
    with_status(
        async {
            let user = require_role(Role::Editor).await?;
            Ok(
                ferrotape_store::videos::list_for_uploader(&pool()?, user.tenant, user.id, 200)
                    .await?,
            )
        }
        .await,
    )
}
