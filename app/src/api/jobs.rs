//! Server functions for /admin/jobs: the queue at a glance, a job's errors, retry and cancel.
//! Admins only; every query is scoped to the request's tenant.

use ferrotape_model::jobs::JobsOverview;
use leptos::prelude::*;

use crate::AppError;

#[server(endpoint = "admin/jobs")]
pub async fn load_jobs(
    state: Option<String>,
    kind: Option<String>,
) -> Result<JobsOverview, AppError> {
    use crate::server_context::{pool, require_role, with_status};
    use ferrotape_model::Role;
    use ferrotape_model::jobs::{JobCount, JobState};
    use ferrotape_store::jobs;
    with_status(
        async {
            let admin = require_role(Role::Admin).await?;
            let pool = pool()?;
            let state = state.as_deref().filter(|s| !s.is_empty());
            let state = match state {
                Some(name) => Some(
                    JobState::parse(name)
                        .ok_or_else(|| AppError::Invalid(format!("`{name}` is not a job state")))?,
                ),
                None => None,
            };
            let kind = kind.as_deref().filter(|k| !k.is_empty());
            let counts = jobs::counts(&pool, Some(admin.tenant)).await?;
            let list = jobs::list(&pool, admin.tenant, state, kind, 200).await?;
            Ok(JobsOverview {
                counts: counts
                    .into_iter()
                    .map(|(kind, state, count)| JobCount { kind, state, count })
                    .collect(),
                jobs: list.iter().map(jobs::JobRecord::summary).collect(),
            })
        }
        .await,
    )
}

#[server(endpoint = "admin/jobs/retry")]
pub async fn retry_job(job_id: i64) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool, require_role};
    let result = async {
        let admin = require_role(ferrotape_model::Role::Admin).await?;
        let pool = pool()?;
        ferrotape_store::jobs::retry(&pool, admin.tenant, job_id).await?;
        let job = ferrotape_store::jobs::find(&pool, admin.tenant, job_id).await?;
        ferrotape_store::jobs::notify_enqueued(&pool, &[&job.kind]).await?;
        Ok(())
    }
    .await;
    finish_form(result, "/admin/jobs", "", Some("/admin/jobs"))
}

#[server(endpoint = "admin/jobs/cancel")]
pub async fn cancel_job(job_id: i64) -> Result<(), AppError> {
    use crate::server_context::{finish_form, pool, require_role};
    let result = async {
        let admin = require_role(ferrotape_model::Role::Admin).await?;
        ferrotape_store::jobs::cancel(&pool()?, admin.tenant, job_id).await?;
        Ok(())
    }
    .await;
    finish_form(result, "/admin/jobs", "", Some("/admin/jobs"))
}
