//! Live streams in the UI: `/live/{id}` (the live watch page: the live player island, the
//! state, the streamer, the viewer count), the catalog's "Live now" row, and the stream
//! studio: `/studio/live` (the editor's streams, a form to create one) and
//! `/studio/live/{id}` (the key, shown on demand, copied with a button, regenerated; the server
//! URL and OBS settings; title and recording switch; the audience; the last recording's draft
//! talk). Every form works without JavaScript.

use ferrotape_model::live::{
    LiveState, OBS_AUDIO_BITRATE_KBPS, OBS_KEYFRAME_INTERVAL_SECS, OBS_VIDEO_BITRATE_KBPS,
    PublicLiveStream,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::AppError;
use crate::api::live::{
    CreateStream, DeleteStream, RegenerateStreamKey, StreamStudio, UpdateStream, load_live_now,
    load_live_stream, load_stream_studio, studio_streams,
};
use crate::components::form::FormMessage;
use crate::components::player::live::viewers_label;
use crate::islands::{LivePlayerIsland, LivePlayerProps};
use crate::pages::not_found::NotFound;
use crate::pages::studio::AccessRefused;

fn state_badge(state: LiveState) -> impl IntoView {
    view! {
        <span class=format!("state-badge live-state-{}", state.as_str())>{state.label()}</span>
    }
}

/// `navigator.clipboard.writeText(text)` where the browser offers it (secure contexts only).
fn write_to_clipboard(text: &str) -> bool {
    use wasm_bindgen::{JsCast, JsValue};
    let navigator: JsValue = window().navigator().into();
    let Ok(clipboard) = js_sys::Reflect::get(&navigator, &"clipboard".into()) else {
        return false;
    };
    if clipboard.is_undefined() || clipboard.is_null() {
        return false;
    }
    js_sys::Reflect::get(&clipboard, &"writeText".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .is_some_and(|write| write.call1(&clipboard, &JsValue::from_str(text)).is_ok())
}

/// `/live/{id}`.
#[component]
pub fn LivePage() -> impl IntoView {
    let params = use_params_map();
    let stream = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        load_live_stream,
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading stream…"</p> }>
            {move || Suspend::new(async move {
                match stream.await {
                    Ok(stream) => view! { <LiveView stream/> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(err) => view! {
                        <Title text="Error"/>
                        <p class="error-banner" role="alert">"This stream could not be loaded: " {err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LiveView(stream: PublicLiveStream) -> impl IntoView {
    let on_air = stream.on_air();
    let props = LivePlayerProps {
        stream: stream.id,
        title: stream.title.clone(),
        master_url: format!("/live/{}/master.m3u8", stream.id),
        live: on_air,
        viewers: stream.viewers,
    };
    let since = stream.live_since.map(|at| {
        let text = at
            .format(time::macros::format_description!(
                "[hour]:[minute] UTC, [year]-[month]-[day]"
            ))
            .unwrap_or_default();
        view! { " · since " <time datetime=at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()>{text}</time> }
    });
    view! {
        <Title text=format!("{} (live)", stream.title)/>
        <article class="watch live-watch" aria-labelledby="stream-title">
            <div class="watch-stage"><LivePlayerIsland props/></div>
            <div class="watch-details">
                <h1 id="stream-title">{stream.title.clone()}</h1>
                <p class="talk-meta">
                    {state_badge(stream.state)}
                    " · " <span class="live-owner">{stream.owner.clone()}</span>
                    {since}
                </p>
                {(!on_air).then(|| view! {
                    <p class="notice">
                        {if stream.state == LiveState::Ended {
                            "This stream has ended. If it was recorded, its video appears in the catalog once the streamer publishes it."
                        } else {
                            "This stream has not started yet."
                        }}
                    </p>
                })}
            </div>
        </article>
    }
}

/// The catalog's "Live now" row: nothing when no stream is on air.
#[component]
pub fn LiveNow() -> impl IntoView {
    let streams = Resource::new(|| (), |()| load_live_now());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let streams = streams.await.unwrap_or_default();
                (!streams.is_empty()).then(|| view! {
                    <section class="live-now" aria-labelledby="live-now-heading">
                        <h2 id="live-now-heading">"Live now"</h2>
                        <ul class="live-now-list">
                            {streams.into_iter().map(|stream| view! {
                                <li class="live-card">
                                    <a href=format!("/live/{}", stream.id)>
                                        <span class="state-badge live-state-live">"Live"</span>
                                        " "
                                        <span class="live-card-title">{stream.title.clone()}</span>
                                    </a>
                                    <span class="talk-meta-line">
                                        {stream.owner.clone()} " · " {viewers_label(stream.viewers)}
                                    </span>
                                </li>
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}

/// `/studio/live`.
#[component]
pub fn StreamsStudioPage() -> impl IntoView {
    let create = ServerAction::<CreateStream>::new();
    let streams = Resource::new(move || create.version().get(), |_| studio_streams());
    let created = Signal::derive(move || create.value().get().map(|r| r.map(|_| ())));
    #[cfg(feature = "hydrate")]
    {
        // Hydrated, a created stream opens its page (a plain form post is redirected there).
        let navigate = leptos_router::hooks::use_navigate();
        Effect::new(move |_| {
            if let Some(Ok(stream)) = create.value().get() {
                navigate(&format!("/studio/live/{}", stream.id), Default::default());
            }
        });
    }
    view! {
        <Title text="Live streams"/>
        <section class="studio live-studio" aria-labelledby="live-heading">
            <p><A href="/studio">"← Studio"</A></p>
            <h1 id="live-heading">"Live streams"</h1>
            <p>"Push from OBS or any RTMP encoder with a stream's key. Viewers watch on the stream's page; when a recorded stream ends, its recording becomes a draft talk."</p>
            <h2 id="create-stream-heading">"New stream"</h2>
            <ActionForm action=create attr:class="inline-form" attr:aria-labelledby="create-stream-heading">
                <label for="stream-title">"Title"</label>
                <input id="stream-title" name="title" required maxlength="200" autocomplete="off"
                    placeholder="Friday keynote"/>
                <label><input type="checkbox" name="record" value="on" checked/>" Record it"</label>
                <button type="submit" class="button">"Create stream"</button>
            </ActionForm>
            <FormMessage result=created/>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match streams.await {
                        Ok(list) if list.is_empty() => view! { <p>"No streams yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <h2 id="streams-heading">"Your streams"</h2>
                            <table aria-labelledby="streams-heading">
                                <thead><tr>
                                    <th scope="col">"Title"</th><th scope="col">"State"</th>
                                    <th scope="col">"Recording"</th><th scope="col">"Viewer page"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|stream| view! {
                                        <tr>
                                            <td><A href=format!("/studio/live/{}", stream.id)>{stream.title.clone()}</A></td>
                                            <td>{state_badge(stream.state)}</td>
                                            <td>{if stream.record { "on" } else { "off" }}</td>
                                            <td><a href=format!("/live/{}", stream.id)>{format!("/live/{}", stream.id)}</a></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio/live"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// `/studio/live/{id}`.
#[component]
pub fn StreamStudioPage() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateStream>::new();
    let regenerate = ServerAction::<RegenerateStreamKey>::new();
    let delete = ServerAction::<DeleteStream>::new();
    let studio = Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                update.version().get(),
                regenerate.version().get(),
            )
        },
        |(id, _, _)| load_stream_studio(id),
    );
    let updated = Signal::derive(move || update.value().get().map(|r| r.map(|_| ())));
    let regenerated = Signal::derive(move || regenerate.value().get());
    let deleted = Signal::derive(move || delete.value().get());
    #[cfg(feature = "hydrate")]
    {
        let navigate = leptos_router::hooks::use_navigate();
        Effect::new(move |_| {
            if let Some(Ok(())) = delete.value().get() {
                navigate("/studio/live", Default::default());
            }
        });
    }
    view! {
        <Title text="Live stream"/>
        <section class="studio live-studio" aria-labelledby="stream-heading">
            <p><A href="/studio/live">"← Live streams"</A></p>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match studio.await {
                        Ok(studio) => view! {
                            <StreamStudioView studio update regenerate delete updated regenerated deleted/>
                        }.into_any(),
                        Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio/live"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn StreamStudioView(
    studio: StreamStudio,
    update: ServerAction<UpdateStream>,
    regenerate: ServerAction<RegenerateStreamKey>,
    delete: ServerAction<DeleteStream>,
    updated: Signal<Option<Result<(), AppError>>>,
    regenerated: Signal<Option<Result<(), AppError>>>,
    deleted: Signal<Option<Result<(), AppError>>>,
) -> impl IntoView {
    let StreamStudio {
        stream,
        key,
        server_url,
        viewers,
        peak_viewers,
        recording_talk,
    } = studio;
    let (regenerate_id, update_id, delete_id) = (
        stream.id.to_string(),
        stream.id.to_string(),
        stream.id.to_string(),
    );
    let on_air = matches!(stream.state, LiveState::Live | LiveState::Reconnecting);
    let shown = RwSignal::new(false);
    let copied = RwSignal::new(None::<&'static str>);
    let copy_key = {
        let key = key.clone();
        move |_| {
            copied.set(Some(if write_to_clipboard(&key) {
                "Key copied to the clipboard."
            } else {
                "This browser does not let the page copy: open the key and copy it by hand."
            }));
        }
    };
    let server = server_url
        .clone()
        .unwrap_or_else(|| "the RTMP URL of your ingest (ask your administrator)".to_owned());
    view! {
        <h1 id="stream-heading">{stream.title.clone()}</h1>
        <p class="talk-meta">
            {state_badge(stream.state)}
            " · " <a href=format!("/live/{}", stream.id)>"Viewer page"</a>
            " · " <span data-figure="studio-viewers">{viewers_label(viewers)}</span>
            {(peak_viewers > 0).then(|| view! { " (peak " {peak_viewers} ")" })}
        </p>
        {recording_talk.map(|talk| view! {
            <p class="notice">"The last recording became a draft talk: "
                <A href=format!("/studio/talks/{talk}")>"edit and publish it"</A>"."</p>
        })}

        <h2 id="push-heading">"Go live"</h2>
        <dl class="stream-settings" aria-labelledby="push-heading">
            <dt>"Server"</dt>
            <dd><code class="stream-server">{server}</code></dd>
            <dt>"Stream key"</dt>
            <dd>
                // The key is in the page (so copying works without a request) but only shown
                // on demand; `<details>` shows it without JavaScript too.
                <details class="stream-key" on:toggle=move |_| shown.update(|s| *s = !*s)>
                    <summary>{move || if shown.get() { "Hide key" } else { "Show key" }}</summary>
                    <code class="secret" data-stream-key>{key.clone()}</code>
                </details>
                <button type="button" class="button" on:click=copy_key>"Copy key"</button>
                <span role="status" class="copy-status">{move || copied.get()}</span>
            </dd>
            <dt>"OBS settings"</dt>
            <dd>
                {format!(
                    "Keyframe interval {OBS_KEYFRAME_INTERVAL_SECS} s, video bitrate up to {OBS_VIDEO_BITRATE_KBPS} kbps (1080p30), audio {OBS_AUDIO_BITRATE_KBPS} kbps AAC, x264 with the veryfast preset and the zerolatency tune."
                )}
            </dd>
        </dl>
        <ActionForm action=regenerate attr:class="inline-form">
            <input type="hidden" name="id" value=regenerate_id/>
            <button type="submit" class="button danger">"Regenerate key"</button>
            <span class="field-hint">"The current key stops working at once; a push made with it is cut."</span>
        </ActionForm>
        <FormMessage result=regenerated/>

        <h2 id="settings-heading">"Settings"</h2>
        <ActionForm action=update attr:class="inline-form" attr:aria-labelledby="settings-heading">
            <input type="hidden" name="id" value=update_id/>
            <label for="stream-title-edit">"Title"</label>
            <input id="stream-title-edit" name="title" required maxlength="200" value=stream.title.clone()/>
            <label><input type="checkbox" name="record" value="on" checked=stream.record/>
                " Record it (the recording becomes a draft talk when the stream ends)"</label>
            <button type="submit" class="button">"Save"</button>
        </ActionForm>
        <FormMessage result=updated/>

        {(!on_air).then(move || view! {
            <ActionForm action=delete attr:class="inline-form">
                <input type="hidden" name="id" value=delete_id/>
                <button type="submit" class="button danger">"Delete stream"</button>
            </ActionForm>
            <FormMessage result=deleted/>
        })}
    }
}
