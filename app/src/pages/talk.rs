//! `/talks/{slug}`: the watch page. Server-rendered with the poster, metadata and the head tags
//! crawlers and link previews read; the player starts once hydrated. `?t=1m23s` (or `#t=83`)
//! starts at that time.

use ferrotape_model::seo::{embed_url, watch_url};
use ferrotape_model::{TalkDetail, VideoState, WatchData, time_format};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::AppError;
use crate::api::get_talk;
use crate::components::speaker_links::SpeakerLinks;
use crate::components::watch_head::WatchHead;
use crate::islands::{
    PlayerIsland, PlayerProps, ShareIsland, ShareProps, WatchLaterIsland, WatchLaterProps,
};
use crate::pages::not_found::NotFound;

#[component]
pub fn TalkPage() -> impl IntoView {
    let params = use_params_map();
    let talk = Resource::new(
        move || params.read().get("slug").unwrap_or_default(),
        get_talk,
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading talk…"</p> }>
            {move || Suspend::new(async move {
                match talk.await {
                    Ok(data) => view! { <WatchView data/> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(AppError::Moved(slug)) => view! { <Moved slug/> }.into_any(),
                    Err(err) => view! {
                        <Title text="Error"/>
                        <p class="error-banner" role="alert">"This talk could not be loaded: " {err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A talk renamed since the link was made. The server answers the page itself with a 301; a
/// client-side navigation lands here and follows it.
#[component]
fn Moved(slug: String) -> impl IntoView {
    let href = format!("/talks/{slug}");
    #[cfg(feature = "hydrate")]
    {
        let navigate = leptos_router::hooks::use_navigate();
        let href = href.clone();
        request_animation_frame(move || {
            navigate(
                &href,
                leptos_router::NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            )
        });
    }
    view! {
        <Title text="Moved"/>
        <p class="notice" role="status">"This talk has moved: " <a href=href>"go to its new page"</a>"."</p>
    }
}

/// What stands in for the player while a talk has no ready video.
fn unavailable_message(state: Option<VideoState>) -> &'static str {
    match state {
        Some(VideoState::Processing) | Some(VideoState::Uploading) => {
            "This talk's video is still being processed. Come back in a few minutes."
        }
        Some(VideoState::Failed) => "This talk's video could not be processed.",
        Some(VideoState::Ready) | None => "No video has been published for this talk yet.",
    }
}

#[component]
fn WatchView(data: WatchData) -> impl IntoView {
    let WatchData { talk, origin } = data;
    let query = use_query_map();
    let start_at = query
        .read_untracked()
        .get("t")
        .and_then(|t| time_format::parse_start_time(&t));
    let position = RwSignal::new(start_at.unwrap_or(0) as f64);
    let TalkDetail {
        summary,
        description_html,
        video_state,
        video,
        chapters,
        event,
        transcript,
        ..
    } = talk.clone();
    let date = summary.recorded_on.unwrap_or(summary.published_at.date());
    let page_url = watch_url(&origin, &summary.slug);
    let embed = embed_url(&origin, talk.summary.id);
    let player = match video {
        Some(video) => {
            let processing = video.processing.then(|| {
                view! {
                    <p class="watch-processing" role="status">
                        "Still processing — more of this talk becomes available as it is transcoded."
                    </p>
                }
            });
            let props = PlayerProps {
                video,
                title: summary.title.clone(),
                duration_hint: summary.duration_seconds,
                start_at: start_at.unwrap_or(0),
                embedded: false,
                autoplay_muted: false,
                chapters,
                transcript,
                talk: Some(summary.id),
            };
            view! { <PlayerIsland props position/> {processing} }.into_any()
        }
        None => view! {
            <div class="player-placeholder" role="status">
                <p>{unavailable_message(video_state)}</p>
            </div>
        }
        .into_any(),
    };
    view! {
        <Title text=summary.title.clone()/>
        <WatchHead talk=talk.clone() origin/>
        <article class="watch" aria-labelledby="talk-title">
            <div class="watch-stage">{player}</div>
            <div class="watch-details">
                <div class="watch-heading">
                    <h1 id="talk-title">{summary.title.clone()}</h1>
                    <div class="watch-actions">
                        <WatchLaterIsland props=WatchLaterProps {
                            talk: summary.id,
                            next: format!("/talks/{}", summary.slug),
                        }/>
                        <ShareIsland
                            props=ShareProps { page_url, embed_url: embed, title: summary.title.clone() }
                            position
                        />
                    </div>
                </div>
                <p class="talk-meta">
                    <span class="talk-speakers">
                        <SpeakerLinks speakers=summary.speakers.clone()/>
                    </span>
                    " · "
                    <time datetime=date.to_string()>{time_format::date(date)}</time>
                    {summary.duration_seconds.map(|secs| view! { " · " {time_format::clock(secs)} })}
                    {(!event.is_empty()).then(|| view! { " · " <span class="talk-event">{event.clone()}</span> })}
                </p>
                // Sanitised on the server (crate::markdown): only harmless elements remain.
                <div class="talk-description" inner_html=description_html></div>
            </div>
        </article>
    }
}
