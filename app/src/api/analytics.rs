//! Server functions of the analytics dashboards: the overview (`studio/analytics`) and a
//! talk's drill-down (`studio/analytics/talk`). Editors see their own talks' figures, admins
//! their tenant's; `from`/`to` are inclusive ISO days (default: the last 30).

use ferrotape_model::analytics::report::{Overview, TalkReport};
use leptos::prelude::*;

use crate::AppError;

#[server(endpoint = "studio/analytics")]
pub async fn load_overview(from: Option<String>, to: Option<String>) -> Result<Overview, AppError> {
    use crate::server_context::{pool, with_status};
    with_status(
        async {
            let (scope, range) = scope_and_range(from, to).await?;
            Ok(ferrotape_store::analytics_reports::overview(&pool()?, scope, range).await?)
        }
        .await,
    )
}

#[server(endpoint = "studio/analytics/talk")]
pub async fn load_talk_report(
    id: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<TalkReport, AppError> {
    use crate::server_context::{pool, with_status};
    with_status(
        async {
            let (scope, range) = scope_and_range(from, to).await?;
            let talk = uuid::Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
            ferrotape_store::analytics_reports::talk_report(&pool()?, scope, talk, range)
                .await?
                .ok_or(AppError::NotFound)
        }
        .await,
    )
}

/// Who is asking (an editor: their talks; an admin: the tenant) and the days asked for.
#[cfg(feature = "ssr")]
async fn scope_and_range(
    from: Option<String>,
    to: Option<String>,
) -> Result<
    (
        ferrotape_store::analytics_reports::Scope,
        ferrotape_store::analytics_reports::Range,
    ),
    AppError,
> {
    use crate::server_context::require_role;
    use ferrotape_model::Role;
    use ferrotape_model::compute::DateRange;
    use ferrotape_store::analytics_reports::{Range, Scope};
    let user = require_role(Role::Editor).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let days =
        DateRange::parse(from.as_deref(), to.as_deref(), today).map_err(AppError::Invalid)?;
    Ok((Scope::for_user(&user), Range::from_days(days)))
}
