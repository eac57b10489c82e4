//! `/studio`: the editors' workspace: upload recordings and follow them through processing.

use ferrotape_model::VideoState;
use ferrotape_model::studio::StudioVideo;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::AppError;
use crate::api::admin::studio_overview;
use crate::api::studio::{ImportFromUrl, RetryVideo, studio_videos};
use crate::components::form::FormMessage;
use crate::components::uploader::Uploader;

/// How often the list refreshes while something is uploading or processing, should the
/// event stream be unavailable (a proxy that buffers it, say).
#[cfg(feature = "hydrate")]
const FALLBACK_REFRESH_MS: u64 = 10_000;

#[component]
pub fn StudioPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| studio_overview());
    let refresh = RwSignal::new(0u32);
    let retry = ServerAction::<RetryVideo>::new();
    let import = ServerAction::<ImportFromUrl>::new();
    let videos = Resource::new(
        move || (refresh.get(), retry.version().get(), import.version().get()),
        |_| studio_videos(),
    );
    let on_finished = Callback::new(move |()| refresh.update(|n| *n += 1));

    // Live progress: every event from the studio's stream refreshes the list, at most every
    // half second; a slow poll covers a stream that cannot get through.
    #[cfg(feature = "hydrate")]
    {
        use leptos::leptos_dom::helpers::set_interval_with_handle;
        live_updates(refresh);
        let busy = move || {
            videos.get().and_then(Result::ok).is_some_and(|list| {
                list.iter()
                    .any(|v| matches!(v.state, VideoState::Uploading | VideoState::Processing))
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
                <nav aria-label="Studio"><A href="/studio/api-keys">"API keys"</A></nav>
            </header>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(user) => view! {
                            <p>{format!("Welcome, {}.", user.display_name)}</p>
                            <Uploader on_finished/>
                            <ImportForm import/>
                            <h2 id="videos-heading">"Your videos"</h2>
                            {move || retry.value().get().and_then(Result::err).map(|err| view! {
                                <p class="error-banner" role="alert">{err.to_string()}</p>
                            })}
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    match videos.await {
                                        Ok(list) => view! { <VideoTable list retry/> }.into_any(),
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
fn live_updates(refresh: RwSignal<u32>) {
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

#[component]
fn VideoTable(list: Vec<StudioVideo>, retry: ServerAction<RetryVideo>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"Nothing uploaded yet."</p> }.into_any();
    }
    view! {
        <table class="video-table" aria-labelledby="videos-heading">
            <thead>
                <tr>
                    <th scope="col">"File"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Length"</th>
                    <th scope="col">"Uploaded"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|video| {
                    let state = video.state.as_str();
                    let status = video.status_text();
                    let reason = video.failure_reason.clone();
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
                    // Transcoding, or an import downloading (uploads in the browser report
                        // their progress in the uploader instead).
                    let progress = (video.state == VideoState::Processing
                        || (video.state == VideoState::Uploading && video.progress > 0.0))
                        .then(|| video.progress.clamp(0.0, 1.0));
                    view! {
                        <tr data-video-id=video.id.to_string() data-state=state>
                            <td>{video.name.clone()}</td>
                            <td>
                                <span class=format!("state state-{state}")>{status}</span>
                                {progress.map(|p| view! {
                                    <progress max="1" value=p.to_string() aria-label="Progress"></progress>
                                })}
                                {reason.map(|r| view! { <p class="failure">{r}</p> })}
                                {retry_form}
                            </td>
                            <td>{video.duration_ms.map(|ms| ferrotape_model::time_format::clock((ms / 1000) as u64)).unwrap_or_default()}</td>
                            <td><time datetime=video.created_at.clone()>{video.created_at.get(..10).unwrap_or_default().to_owned()}</time></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
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
