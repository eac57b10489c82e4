//! `/admin/jobs`: counts per kind and state, the latest jobs (filtered by `?state=&kind=`, a
//! plain GET form), each failed attempt's error, and retry/cancel.

use ferrotape_model::jobs::{JobCount, JobState, JobSummary, JobsOverview};
use ferrotape_model::time_format;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::jobs::{CancelJob, RetryJob, load_jobs};
use crate::components::form::FormMessage;
use crate::pages::studio::AccessRefused;

#[component]
pub fn AdminJobsPage() -> impl IntoView {
    let query = use_query_map();
    let retry = ServerAction::<RetryJob>::new();
    let cancel = ServerAction::<CancelJob>::new();
    let overview = Resource::new(
        move || {
            let q = query.read();
            (
                q.get("state"),
                q.get("kind"),
                retry.version().get(),
                cancel.version().get(),
            )
        },
        |(state, kind, _, _)| load_jobs(state, kind),
    );
    view! {
        <Title text="Jobs"/>
        <section class="admin" aria-labelledby="jobs-heading">
            <h1 id="jobs-heading">"Jobs"</h1>
            <FormMessage result=Signal::derive(move || retry.value().get())/>
            <FormMessage result=Signal::derive(move || cancel.value().get())/>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading jobs…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview retry cancel/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/admin/jobs"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Overview(
    overview: JobsOverview,
    retry: ServerAction<RetryJob>,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    let JobsOverview { counts, jobs } = overview;
    let mut kinds: Vec<String> = counts.iter().map(|c| c.kind.clone()).collect();
    kinds.dedup();
    view! {
        <h2>"By kind and state"</h2>
        <CountsTable counts kinds=kinds.clone()/>
        <h2>"Latest jobs"</h2>
        <form method="get" action="/admin/jobs" class="inline-form filters">
            <label for="jobs-state">"State"</label>
            <select id="jobs-state" name="state">
                <option value="">"any"</option>
                {JobState::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
            </select>
            <label for="jobs-kind">"Kind"</label>
            <select id="jobs-kind" name="kind">
                <option value="">"any"</option>
                {kinds.into_iter().map(|k| view! { <option value=k.clone()>{k.clone()}</option> }).collect_view()}
            </select>
            <button type="submit" class="button small">"Filter"</button>
        </form>
        {if jobs.is_empty() {
            view! { <p class="empty-state">"No jobs match."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="data-table">
                        <caption class="visually-hidden">"Latest jobs"</caption>
                        <thead><tr>
                            <th scope="col">"Job"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Attempts"</th>
                            <th scope="col">"Created"</th>
                            <th scope="col">"Errors"</th>
                            <th scope="col">"Action"</th>
                        </tr></thead>
                        <tbody>
                            {jobs.into_iter().map(|job| view! { <JobRow job retry cancel/> }.into_any()).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn CountsTable(counts: Vec<JobCount>, kinds: Vec<String>) -> impl IntoView {
    let cell = move |kind: &str, state: JobState| {
        counts
            .iter()
            .find(|c| c.kind == kind && c.state == state)
            .map_or(0, |c| c.count)
    };
    view! {
        <div class="table-scroll">
            <table class="data-table">
                <caption class="visually-hidden">"Jobs per kind and state"</caption>
                <thead><tr>
                    <th scope="col">"Kind"</th>
                    {JobState::ALL.into_iter().map(|s| view! { <th scope="col">{s.as_str()}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {kinds.into_iter().map(|kind| view! {
                        <tr>
                            <th scope="row">{kind.clone()}</th>
                            {JobState::ALL.into_iter().map(|s| view! { <td>{cell(&kind, s)}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Each failed attempt's error, folded away.
#[component]
fn JobErrors(errors: Vec<String>) -> impl IntoView {
    if errors.is_empty() {
        return ().into_any();
    }
    view! {
        <details>
            <summary>{format!("{} error(s)", errors.len())}</summary>
            <ol class="job-errors">
                {errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}
            </ol>
        </details>
    }
    .into_any()
}

#[component]
fn JobRow(
    job: JobSummary,
    retry: ServerAction<RetryJob>,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    let id = job.id.to_string();
    let action = if matches!(job.state, JobState::Discarded | JobState::Cancelled) {
        view! {
            <ActionForm action=retry attr:class="inline-form">
                <input type="hidden" name="job_id" value=id.clone()/>
                <button type="submit" class="button small">"Retry" <span class="visually-hidden">" job " {id.clone()}</span></button>
            </ActionForm>
        }
        .into_any()
    } else if !job.state.is_final() {
        view! {
            <ActionForm action=cancel attr:class="inline-form">
                <input type="hidden" name="job_id" value=id.clone()/>
                <button type="submit" class="button small">"Cancel" <span class="visually-hidden">" job " {id.clone()}</span></button>
            </ActionForm>
        }
        .into_any()
    } else {
        ().into_any()
    };
    let errors = job.errors.clone();
    view! {
        <tr>
            <td>{format!("#{}", job.id)}</td>
            <td>{job.kind.clone()}</td>
            <td>{job.state.as_str()}</td>
            <td>{format!("{} / {}", job.attempt, job.max_attempts)}</td>
            <td><time datetime=job.created_at.to_string()>{time_format::date(job.created_at.date())}</time></td>
            <td><JobErrors errors/></td>
            <td>{action}</td>
        </tr>
    }
}
