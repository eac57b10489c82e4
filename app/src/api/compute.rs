//! Server function for /admin/compute: the tenant's compute ledger over a range of days.
//! Admins only.

use ferrotape_model::compute::ComputeLedger;
use leptos::prelude::*;

use crate::AppError;

#[server(endpoint = "admin/compute")]
pub async fn load_compute(
    from: Option<String>,
    to: Option<String>,
) -> Result<ComputeLedger, AppError> {
    use crate::server_context::{pool, require_role, with_status};
    use ferrotape_model::Role;
    use ferrotape_model::compute::DateRange;
    with_status(
        async {
            let admin = require_role(Role::Admin).await?;
            let today = time::OffsetDateTime::now_utc().date();
            let range = DateRange::parse(from.as_deref(), to.as_deref(), today)
                .map_err(AppError::Invalid)?;
            Ok(ferrotape_store::compute_ledger::ledger(&pool()?, admin.tenant, range).await?)
        }
        .await,
    )
}
