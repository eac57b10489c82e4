//! Server function for /admin/events: the tenant's latest platform events. Admins only.

use ferrotape_model::platform_events::PlatformEvent;
use leptos::prelude::*;

use crate::AppError;

/// How many events the page lists.
pub const EVENTS_SHOWN: i64 = 100;

#[server(endpoint = "admin/events")]
pub async fn load_platform_events(kind: Option<String>) -> Result<Vec<PlatformEvent>, AppError> {
    use crate::server_context::{pool, require_role, with_status};
    use ferrotape_model::Role;
    use ferrotape_model::platform_events::PlatformEventKind;
    use ferrotape_store::platform_events::{self, Filter};
    with_status(
        async {
            let admin = require_role(Role::Admin).await?;
            let kind = match kind.as_deref().filter(|k| !k.is_empty()) {
                None => None,
                Some(name) => Some(PlatformEventKind::parse(name).ok_or_else(|| {
                    AppError::Invalid(format!("`{name}` is not a platform event kind"))
                })?),
            };
            let filter = Filter {
                kind,
                ..Filter::default()
            };
            Ok(platform_events::list(&pool()?, admin.tenant, &filter, None, EVENTS_SHOWN).await?)
        }
        .await,
    )
}
