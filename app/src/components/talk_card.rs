//! One talk in the catalog grid.

use ferrotape_model::catalog::{SpokenMatch, marked_segments};
use ferrotape_model::{TalkSummary, time_format};
use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::speaker_links::SpeakerLinks;

/// Text with search matches wrapped in `<mark>`; everything else stays plain (escaped) text.
fn marked(text: &str) -> impl IntoView + use<> {
    marked_segments(text)
        .into_iter()
        .map(|(is_match, run)| {
            if is_match {
                view! { <mark>{run}</mark> }.into_any()
            } else {
                run.into_any()
            }
        })
        .collect_view()
}

/// A card's poster frame, or the title's first letter while the talk has none.
pub fn poster_image(poster_url: Option<String>, title: &str) -> impl IntoView + use<> {
    match poster_url {
        Some(poster) => {
            view! { <img src=poster alt="" loading="lazy" decoding="async"/> }.into_any()
        }
        None => view! {
            <span class="talk-card-initial">{title.chars().next().map(String::from)}</span>
        }
        .into_any(),
    }
}

#[component]
pub fn TalkCard(
    talk: TalkSummary,
    /// The title with search matches marked, when the catalog is searched.
    #[prop(optional_no_strip)]
    marked_title: Option<String>,
    /// A description excerpt with search matches marked.
    #[prop(optional_no_strip)]
    marked_excerpt: Option<String>,
    /// The transcript line the search matched, linked to its moment.
    #[prop(optional_no_strip)]
    spoken: Option<SpokenMatch>,
) -> impl IntoView {
    let href = format!("/talks/{}", talk.slug);
    let date = talk.recorded_on.unwrap_or(talk.published_at.date());
    let duration = talk.duration_seconds.map(|secs| {
        view! {
            <span class="talk-card-duration">
                <span aria-hidden="true">{time_format::clock(secs)}</span>
                <span class="visually-hidden">{time_format::spoken(secs)}</span>
            </span>
        }
    });
    let title = match marked_title {
        Some(text) => marked(&text).into_any(),
        None => talk.title.clone().into_any(),
    };
    view! {
        <li class="talk-card">
            <A href=href attr:class="talk-card-link">
                <div class="talk-card-poster" aria-hidden="true">{poster_image(talk.poster_url.clone(), &talk.title)}</div>
                {duration}
                <h2 class="talk-card-title">{title}</h2>
            </A>
            <p class="talk-card-speakers">
                <SpeakerLinks speakers=talk.speakers/>
            </p>
            {marked_excerpt.map(|text| view! { <p class="talk-card-excerpt">{marked(&text)}</p> })}
            {spoken.map(|line| {
                let at = format!("/talks/{}?t={}", talk.slug, time_format::share_time(line.start_seconds));
                view! {
                    <p class="talk-card-spoken">
                        <a href=at>
                            <span class="talk-card-spoken-time">
                                "Said at " {time_format::clock(line.start_seconds)}
                            </span>
                            " “" {marked(&line.marked_line)} "”"
                        </a>
                    </p>
                }
            })}
            <p class="talk-card-date">
                <time datetime=date.to_string()>{time_format::date(date)}</time>
            </p>
        </li>
    }
}
