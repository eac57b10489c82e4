//! `/talks/{slug}`: the talk page. The player arrives with the viewer issue; for now it shows
//! the talk's metadata and the state of its video.

use ferrotape_model::{TalkDetail, VideoState, time_format};
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::AppError;
use crate::api::get_talk;
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
                    Ok(detail) => view! { <TalkView detail/> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(err) => view! {
                        <Title text="Error"/>
                        <p class="error-banner" role="alert">"This talk could not be loaded: " {err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TalkView(detail: TalkDetail) -> impl IntoView {
    let TalkDetail {
        summary,
        description,
        video_state,
    } = detail;
    let speakers = summary.speaker_names();
    let date = summary.recorded_on.unwrap_or(summary.published_at.date());
    let status = match video_state {
        Some(VideoState::Ready) => "The player arrives in the next release.",
        Some(VideoState::Processing) | Some(VideoState::Uploading) => {
            "This talk's video is still being processed."
        }
        Some(VideoState::Failed) => "This talk's video could not be processed.",
        None => "No video has been uploaded for this talk yet.",
    };
    let summary_text: String = description.chars().take(200).collect();
    view! {
        <Title text=summary.title.clone()/>
        <Meta name="description" content=summary_text/>
        <article class="talk" aria-labelledby="talk-title">
            <div class="player-placeholder" role="img" aria-label="Video player placeholder">
                <p>{status}</p>
            </div>
            <h1 id="talk-title">{summary.title.clone()}</h1>
            <p class="talk-meta">
                <span class="talk-speakers">{speakers}</span>
                " · "
                <time datetime=date.to_string()>{time_format::date(date)}</time>
                {summary.duration_seconds.map(|secs| view! { " · " {time_format::clock(secs)} })}
            </p>
            <div class="talk-description">
                {description.split("\n\n").map(|para| view! { <p>{para.to_owned()}</p> }).collect_view()}
            </div>
        </article>
    }
}
