//! One talk in the catalog grid.

use ferrotape_model::{TalkSummary, time_format};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn TalkCard(talk: TalkSummary) -> impl IntoView {
    let href = format!("/talks/{}", talk.slug);
    let speakers = talk.speaker_names();
    let date = talk.recorded_on.unwrap_or(talk.published_at.date());
    let duration = talk.duration_seconds.map(|secs| {
        view! {
            <span class="talk-card-duration">
                <span aria-hidden="true">{time_format::clock(secs)}</span>
                <span class="visually-hidden">{time_format::spoken(secs)}</span>
            </span>
        }
    });
    view! {
        <li class="talk-card">
            <A href=href attr:class="talk-card-link">
                <div class="talk-card-poster" aria-hidden="true">
                    <span class="talk-card-initial">{talk.title.chars().next().map(String::from)}</span>
                </div>
                {duration}
                <h2 class="talk-card-title">{talk.title.clone()}</h2>
            </A>
            <p class="talk-card-speakers">{speakers}</p>
            <p class="talk-card-date">
                <time datetime=date.to_string()>{time_format::date(date)}</time>
            </p>
        </li>
    }
}
