//! `/studio`: the editors' workspace: upload a recording (titled first, it becomes a draft
//! talk), the editor's talks (an admin's: every editor's) with their state and processing
//! progress, filters and bulk actions, and the uploads that belong to no talk yet.

use ferrotape_model::VideoState;
use ferrotape_model::studio::StudioVideo;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::AppError;
use crate::api::admin::studio_overview;
use crate::api::studio::{ImportFromUrl, RetryVideo};
use crate::api::talks_editor::{
    BULK_ACTIONS, BulkReport, BulkTalks, CreateTalk, StudioListing, studio_home,
};
use crate::components::form::FormMessage;
use crate::components::uploader::Uploader;
use ferrotape_model::talk::{StudioTalk, TalkState};
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

/// How often the list refreshes while something is uploading or processing, should the
/// event stream be unavailable (a proxy that buffers it, say).
#[cfg(feature = "hydrate")]
const FALLBACK_REFRESH_MS: u64 = 10_000;

#[component]
pub fn StudioPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| studio_overview());
    let query = use_query_map();
    let filters = move || {
        query.with(|q| {
            (
                q.get("q").filter(|v| !v.is_empty()),
                q.get("state").filter(|v| !v.is_empty()),
                q.get("trash").filter(|v| !v.is_empty()),
            )
        })
    };
    let refresh = RwSignal::new(0u32);
    let retry = ServerAction::<RetryVideo>::new();
    let import = ServerAction::<ImportFromUrl>::new();
    let create = ServerAction::<CreateTalk>::new();
    let bulk = ServerAction::<BulkTalks>::new();
    let home = Resource::new(
        move || {
            (
                filters(),
                refresh.get(),
                retry.version().get(),
                bulk.version().get(),
                import.version().get(),
            )
        },
        |((q, state, trash), ..)| studio_home(q, state, trash),
    );
    // The title asked before the upload: once the file is accepted, the talk is created from
    // it and its editor opens (the server function's redirect).
    let title = RwSignal::new(String::new());
    let on_finished = Callback::new(move |video: Option<Uuid>| {
        refresh.update(|n| *n += 1);
        let title = title.get_untracked();
        if let Some(video) = video
            && !title.trim().is_empty()
        {
            create.dispatch(CreateTalk {
                title,
                video_id: Some(video.to_string()),
            });
        }
    });

    // Live progress: every event from the studio's stream refreshes the list, at most every
    // half second; a slow poll covers a stream that cannot get through.
    #[cfg(feature = "hydrate")]
    {
        use leptos::leptos_dom::helpers::set_interval_with_handle;
        live_updates(refresh);
        let busy = move || {
            home.get().and_then(Result::ok).is_some_and(|home| {
                let busy = |v: &StudioVideo| {
                    matches!(v.state, VideoState::Uploading | VideoState::Processing)
                };
                home.orphans.iter().any(busy)
                    || home.talks.iter().filter_map(|t| t.video.as_ref()).any(busy)
            })
        };
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if busy() {
                    refresh.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_millis(FALLBACK_REFRESH_MS),
        ) {
            on_cleanup(move || handle.clear());
        }
    }

    view! {
        <Title text="Studio"/>
        <section class="studio" aria-labelledby="studio-heading">
            <header class="studio-header">
                <h1 id="studio-heading">"Studio"</h1>
                <nav aria-label="Studio"><A href="/studio/analytics">"Analytics"</A>" · "<A href="/studio/live">"Live streams"</A>" · "<A href="/studio/api-keys">"API keys"</A></nav>
            </header>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(user) => view! {
                            <p>{format!("Welcome, {}.", user.display_name)}</p>
                            <Uploader on_finished>
                                <div class="field">
                                    <label for="upload-title">"Title of the talk"</label>
                                    <input id="upload-title" type="text" maxlength="300"
                                        aria-describedby="upload-title-hint"
                                        prop:value=move || title.get()
                                        on:input=move |ev| title.set(event_target_value(&ev))/>
                                    <p id="upload-title-hint" class="field-hint">
                                        "Give the title first: when the upload completes, the talk is created "
                                        "as a draft and its editor opens. Left empty, the upload waits below "
                                        "under “Uploads without a talk”."
                                    </p>
                                </div>
                            </Uploader>
                            <FormMessage result=Signal::derive(move || create.value().get())/>
                            <ImportForm import/>
                            <Transition fallback=|| view! { <p class="loading" role="status">"Loading talks…"</p> }>
                                {move || Suspend::new(async move {
                                    match home.await {
                                        Ok(home) => view! {
                                            <TalkList home=home.clone() bulk/>
                                            <OrphanVideos list=home.orphans retry create/>
                                        }.into_any(),
                                        Err(err) => view! {
                                            <p class="error-banner" role="alert">{err.to_string()}</p>
                                        }.into_any(),
                                    }
                                })}
                            </Transition>
                        }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// "Import from a URL": a video page, a media file or an HLS playlist, downloaded by the
/// server into a new draft talk; it then shows in the list below like an upload.
#[component]
fn ImportForm(import: ServerAction<ImportFromUrl>) -> impl IntoView {
    let result = Signal::derive(move || import.value().get());
    view! {
        <section class="import" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import from a URL"</h2>
            <ActionForm action=import attr:class="inline-form import-form">
                <label for="import-url">"Address of a video page, video file or HLS playlist"</label>
                <input id="import-url" name="url" type="url" required
                    placeholder="https://example.org/talks/keynote" autocomplete="off"/>
                <button type="submit" class="button" disabled=move || import.pending().get()>
                    "Import"
                </button>
            </ActionForm>
            <FormMessage result/>
        </section>
    }
}

/// Listens to `/api/v1/studio/events` (server-sent events) for as long as the page is open.
#[cfg(feature = "hydrate")]
pub fn live_updates(refresh: RwSignal<u32>) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new("/api/v1/studio/events") else {
        return;
    };
    let scheduled = Rc::new(Cell::new(false));
    let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        if scheduled.replace(true) {
            return;
        }
        let scheduled = scheduled.clone();
        set_timeout(
            move || {
                scheduled.set(false);
                refresh.update(|n| *n += 1);
            },
            std::time::Duration::from_millis(500),
        );
    });
    // `ready` too: after a reconnect, whatever changed meanwhile shows up.
    for name in ["ready", "video", "removed", "resync"] {
        let _ = source.add_event_listener_with_callback(name, on_change.as_ref().unchecked_ref());
    }
    let alive = send_wrapper::SendWrapper::new((source, on_change));
    on_cleanup(move || alive.0.close());
}

/// A talk's state as a badge (`.state-badge.talk-state-…`).
#[component]
pub fn StateBadge(state: TalkState) -> impl IntoView {
    view! { <span class=format!("state-badge talk-state-{}", state.as_str())>{state.label()}</span> }
}

/// A video's processing status: the words, a progress bar while processing, why it failed.
#[component]
pub fn VideoStatus(video: Option<StudioVideo>) -> impl IntoView {
    let Some(video) = video else {
        return view! { <span class="video-status">"No video yet"</span> }.into_any();
    };
    let state = video.state.as_str();
    // Transcoding, or an import downloading (uploads in the browser report their progress in
    // the uploader instead).
    let progress = (video.state == VideoState::Processing
        || (video.state == VideoState::Uploading && video.progress > 0.0))
        .then(|| video.progress.clamp(0.0, 1.0));
    view! {
        <span class=format!("video-status state state-{state}")>{video.status_text()}</span>
        {progress.map(|p| view! {
            <progress max="1" value=p.to_string() aria-label="Progress"></progress>
        })}
        {video.failure_reason.clone().map(|r| view! { <p class="failure">{r}</p> })}
    }
    .into_any()
}

/// The filter form (GET, so the URL says what is shown and it works without JavaScript), the
/// bulk actions and the table of talks.
#[component]
fn TalkList(home: StudioListing, bulk: ServerAction<BulkTalks>) -> impl IntoView {
    let query = use_query_map();
    let get = move |name: &'static str| query.with_untracked(|q| q.get(name).unwrap_or_default());
    let (q, state, trash) = (get("q"), get("state"), get("trash"));
    let in_trash = !trash.is_empty();
    let filtered = !q.is_empty() || !state.is_empty() || in_trash;
    let selected = RwSignal::new(std::collections::HashSet::<Uuid>::new());
    Effect::new(move |_| {
        if matches!(bulk.value().get(), Some(Ok(_))) {
            selected.set(Default::default());
        }
    });
    let titles: std::collections::HashMap<Uuid, String> =
        home.talks.iter().map(|t| (t.id, t.title.clone())).collect();
    let report = move || {
        query.with(|p| {
            (p.get("notice").as_deref() == Some("bulk")).then(|| {
                let done: usize = p.get("done").and_then(|d| d.parse().ok()).unwrap_or(0);
                let failed = BulkReport::parse_failed(&p.get("failed").unwrap_or_default());
                (done, failed)
            })
        })
    };
    let all_editors = home.all_editors;
    let count = home.talks.len();
    view! {
        <h2 id="talks-heading">{if in_trash { "Talks in the trash" } else { "Talks" }}</h2>
        <form class="studio-filters" role="search" method="get" action="/studio" aria-label="Filter talks">
            <div class="field">
                <label for="filter-q">"Title or address"</label>
                <input id="filter-q" type="search" name="q" value=q.clone() maxlength="200"/>
            </div>
            <div class="field">
                <label for="filter-state">"State"</label>
                <select id="filter-state" name="state">
                    <option value="" selected=state.is_empty()>"Any state"</option>
                    {TalkState::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=state == s.as_str()>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <label class="checkbox">
                <input type="checkbox" name="trash" value="1" checked=in_trash/>
                " In the trash"
            </label>
            <button type="submit" class="button">"Filter"</button>
            {filtered.then(|| view! { <a href="/studio">"Show all talks"</a> })}
        </form>
        <FormMessage result=Signal::derive(move || bulk.value().get())/>
        {move || report().map(|(done, failed)| {
            let titles = titles.clone();
            view! {
                <div class="notice-banner bulk-report" role="status">
                    <p>{match done { 1 => "Done for 1 talk.".to_owned(), n => format!("Done for {n} talks.") }}</p>
                    {(!failed.is_empty()).then(|| view! {
                        <p>"Not done for:"</p>
                        <ul>
                            {failed.into_iter().map(|(id, code)| {
                                let title = titles.get(&id).cloned().unwrap_or_else(|| "a talk".into());
                                let why = AppError::message_for_code(&code).unwrap_or_else(|| "refused".into());
                                view! { <li><strong>{title}</strong>": " {why}</li> }
                            }).collect_view()}
                        </ul>
                    })}
                </div>
            }
        })}
        {if home.talks.is_empty() {
            view! {
                <p class="empty-state">{if filtered { "No talk matches these filters." } else { "No talks yet: upload a recording above." }}</p>
            }.into_any()
        } else {
            view! {
                <ActionForm action=bulk attr:class="bulk-form" attr:aria-labelledby="talks-heading">
                    <input type="hidden" name="q" value=q.clone()/>
                    <input type="hidden" name="state" value=state.clone()/>
                    <input type="hidden" name="trash" value=trash.clone()/>
                    <div class="table-scroll">
                        <table class="data-table talk-table">
                            <caption class="visually-hidden">{format!("{count} talks")}</caption>
                            <thead><tr>
                                <th scope="col"><span class="visually-hidden">"Select"</span></th>
                                <th scope="col">"Talk"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Video"</th>
                                <th scope="col">"Views"</th>
                                {all_editors.then(|| view! { <th scope="col">"Owner"</th> })}
                                <th scope="col">"Updated"</th>
                            </tr></thead>
                            <tbody>
                                {home.talks.into_iter().enumerate().map(|(index, talk)| {
                                    let figures = home.figures.iter()
                                        .find(|(id, _, _)| *id == talk.id)
                                        .map(|(_, views, watch_ms)| (*views, *watch_ms));
                                    view! { <TalkRow talk index selected all_editors figures/> }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <fieldset class="bulk-actions">
                        <legend>"With the selected talks"</legend>
                        <div class="field">
                            <label for="bulk-action">"Action"</label>
                            <select id="bulk-action" name="action">
                                {BULK_ACTIONS.into_iter().map(|(value, label)| view! {
                                    <option value=value>{label}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="bulk-tag">"Tag (for “Add the tag”)"</label>
                            <input id="bulk-tag" type="text" name="tag" list="bulk-tag-names" maxlength="64"/>
                            <datalist id="bulk-tag-names">
                                {home.tags.into_iter().map(|t| view! { <option value=t></option> }).collect_view()}
                            </datalist>
                        </div>
                        <button type="submit" class="button" disabled=move || bulk.pending().get()>"Apply"</button>
                    </fieldset>
                </ActionForm>
            }.into_any()
        }}
    }
}

#[component]
fn TalkRow(
    talk: StudioTalk,
    index: usize,
    selected: RwSignal<std::collections::HashSet<Uuid>>,
    all_editors: bool,
    /// Views and watch time (ms) so far.
    figures: Option<(u64, u64)>,
) -> impl IntoView {
    let id = talk.id;
    let (views, watch_ms) = figures.unwrap_or_default();
    let views_cell = view! {
        <a href=format!("/studio/analytics/talks/{id}") class="talk-views"
            aria-label=format!("{views} views, {} watched: analytics of “{}”",
                ferrotape_model::compute::duration_text(watch_ms as f64 / 1000.0), talk.title)>
            {views.to_string()}
            <span class="talk-meta-line">{ferrotape_model::compute::duration_text(watch_ms as f64 / 1000.0)}</span>
        </a>
    };
    let check_id = format!("select-{id}");
    let speakers = talk
        .speakers
        .iter()
        .map(|s| s.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let updated = talk
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let scheduled = (talk.state == TalkState::Scheduled)
        .then_some(talk.published_at)
        .flatten()
        .map(|at| format!("from {}", crate::pages::talk_editor::utc_minutes(at)));
    view! {
        <tr data-talk-id=id.to_string() data-talk-state=talk.state.as_str()
            data-video-state=talk.video.as_ref().map(|v| v.state.as_str())>
            <td>
                <input type="checkbox" id=check_id.clone() name=format!("ids[{index}]") value=id.to_string()
                    prop:checked=move || selected.with(|s| s.contains(&id))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                    }/>
                <label for=check_id class="visually-hidden">{format!("Select “{}”", talk.title)}</label>
            </td>
            <td>
                <A href=format!("/studio/talks/{id}")>{talk.title.clone()}</A>
                {(!speakers.is_empty()).then(|| view! { <p class="talk-meta-line">{speakers}</p> })}
            </td>
            <td><StateBadge state=talk.state/>{scheduled.map(|s| view! { <p class="talk-meta-line">{s}</p> })}</td>
            <td><VideoStatus video=talk.video.clone()/></td>
            <td>{views_cell}</td>
            {all_editors.then(|| view! { <td>{talk.owner.clone().unwrap_or_else(|| "—".into())}</td> })}
            <td><time datetime=updated.clone()>{updated.get(..10).unwrap_or_default().to_owned()}</time></td>
        </tr>
    }
}

/// The caller's uploads that belong to no talk: each becomes one with a title.
#[component]
fn OrphanVideos(
    list: Vec<StudioVideo>,
    retry: ServerAction<RetryVideo>,
    create: ServerAction<CreateTalk>,
) -> impl IntoView {
    view! {
        <h2 id="videos-heading">"Uploads without a talk"</h2>
        {move || retry.value().get().and_then(Result::err).map(|err| view! {
            <p class="error-banner" role="alert">{err.to_string()}</p>
        })}
        {if list.is_empty() {
            view! { <p class="empty-state">"Every upload belongs to a talk."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                <table class="video-table" aria-labelledby="videos-heading">
                    <thead>
                        <tr>
                            <th scope="col">"File"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Length"</th>
                            <th scope="col">"Uploaded"</th>
                            <th scope="col">"Talk"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {list.into_iter().map(|video| {
                            let state = video.state.as_str();
                            let retry_form = video.can_retry.then(|| {
                                let name = video.name.clone();
                                view! {
                                    <ActionForm action=retry attr:class="inline-form">
                                        <input type="hidden" name="video_id" value=video.id.to_string()/>
                                        <button type="submit" class="button small">
                                            "Retry" <span class="visually-hidden">" processing " {name}</span>
                                        </button>
                                    </ActionForm>
                                }
                            });
                            let can_create = matches!(video.state, VideoState::Ready | VideoState::Processing);
                            let title_id = format!("orphan-title-{}", video.id);
                            let suggested = video.name.rsplit_once('.').map_or(video.name.clone(), |(stem, _)| stem.to_owned());
                            view! {
                                <tr data-video-id=video.id.to_string() data-state=state>
                                    <td>{video.name.clone()}</td>
                                    <td><VideoStatus video=Some(video.clone())/>{retry_form}</td>
                                    <td>{video.duration_ms.map(|ms| ferrotape_model::time_format::clock((ms / 1000) as u64)).unwrap_or_default()}</td>
                                    <td><time datetime=video.created_at.clone()>{video.created_at.get(..10).unwrap_or_default().to_owned()}</time></td>
                                    <td>
                                        {can_create.then(|| view! {
                                            <ActionForm action=create attr:class="inline-form create-talk-form">
                                                <input type="hidden" name="video_id" value=video.id.to_string()/>
                                                <label for=title_id.clone() class="visually-hidden">{format!("Title of the talk from {}", video.name)}</label>
                                                <input id=title_id type="text" name="title" required maxlength="300" value=suggested/>
                                                <button type="submit" class="button small">"Create talk"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            }.into_any()
        }}
    }
}

/// What a guarded page shows instead of its content.
#[component]
pub fn AccessRefused(err: AppError, next: &'static str) -> impl IntoView {
    match err {
        AppError::Unauthenticated => view! {
            <p class="error-banner" role="alert">
                "Log in to open this page. "
                <A href=format!("/login?next={next}")>"Log in"</A>
            </p>
        }
        .into_any(),
        other => view! { <p class="error-banner" role="alert">{other.to_string()}</p> }.into_any(),
    }
}
