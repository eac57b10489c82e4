//! `/embed/{id}`: the player alone, for third-party iframes (the server lets any site frame
//! this path). Query options: `t` (start time), `autoplay=1` (starts muted, as browsers
//! require). The postMessage API is in `components::player` and docs/EMBEDDING.md.

use ferrotape_model::seo::watch_url;
use ferrotape_model::{WatchData, time_format};
use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::AppError;
use crate::api::talks::get_embed;
use crate::components::player::PreloadPlayerEngine;
use crate::islands::{PlayerIsland, PlayerProps};

#[component]
pub fn EmbedPage() -> impl IntoView {
    let params = use_params_map();
    let talk = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        get_embed,
    );
    view! {
        <Meta name="robots" content="noindex"/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match talk.await {
                    Ok(data) => view! { <EmbeddedPlayer data/> }.into_any(),
                    Err(AppError::NotFound) => view! {
                        <Title text="Not found"/>
                        <p class="embed-message" role="alert">"This talk is not available."</p>
                    }.into_any(),
                    Err(err) => view! {
                        <Title text="Error"/>
                        <p class="embed-message" role="alert">"This talk could not be loaded: " {err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EmbeddedPlayer(data: WatchData) -> impl IntoView {
    let WatchData { talk, origin } = data;
    let query = use_query_map();
    let (start_at, autoplay) = query.with_untracked(|q| {
        (
            q.get("t").and_then(|t| time_format::parse_start_time(&t)),
            matches!(q.get("autoplay").as_deref(), Some("1" | "true")),
        )
    });
    let page = watch_url(&origin, &talk.summary.slug);
    let title = talk.summary.title.clone();
    view! {
        <Title text=title.clone()/>
        <Link rel="canonical" href=page.clone()/>
        <div class="embed">
            {match talk.video {
                Some(video) => {
                    let props = PlayerProps {
                        video,
                        title: title.clone(),
                        duration_hint: talk.summary.duration_seconds,
                        start_at: start_at.unwrap_or(0),
                        embedded: true,
                        autoplay_muted: autoplay,
                        chapters: talk.chapters.clone(),
                        // The embed is the player alone; the transcript stays on the page.
                        transcript: Vec::new(),
                        talk: Some(talk.summary.id),
                    };
                    let position = RwSignal::new(props.start_at as f64);
                    view! { <PreloadPlayerEngine/> <PlayerIsland props position/> }.into_any()
                }
                None => view! {
                    <p class="embed-message" role="status">"This talk's video is not ready yet."</p>
                }.into_any(),
            }}
            <a class="embed-title" href=page target="_blank" rel="noopener">{title}</a>
        </div>
    }
}
