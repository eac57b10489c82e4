//! The viewer's library on the pages: the home page's "Continue watching" row and the watch
//! page's "Watch later" button (islands of the public pages, filled in by the browser because
//! those pages are the same for every anonymous viewer), and the cards the library page lists.
//!
//! Links are plain `<a>`: the viewer bundle hydrates these without the app's router.

use ferrotape_model::library::LibraryEntry;
use ferrotape_model::time_format;
use leptos::prelude::*;
use uuid::Uuid;

use crate::components::speaker_links::SpeakerLinks;
use crate::components::talk_card::poster_image;

/// How many talks the home page's row shows.
#[cfg(feature = "hydrate")]
const ROW_LENGTH: usize = 8;

/// "Watched", "Stopped at 12:34 of 30:00", or "Not started yet".
pub fn progress_text(entry: &LibraryEntry) -> String {
    if entry.at_end || (entry.watched && entry.resume_seconds().is_none()) {
        return "Watched".to_owned();
    }
    match (entry.resume_seconds(), entry.talk.duration_seconds) {
        (Some(at), Some(total)) => format!(
            "Stopped at {} of {}",
            time_format::clock(at),
            time_format::clock(total)
        ),
        (Some(at), None) => format!("Stopped at {}", time_format::clock(at)),
        (None, _) => "Not started yet".to_owned(),
    }
}

/// One talk of a library list: poster with a progress bar, title, speakers, where the viewer
/// is; `children` (the library page's buttons) under it.
#[component]
pub fn LibraryCard(
    entry: LibraryEntry,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let href = entry.href();
    let state = progress_text(&entry);
    let bar = entry.progress_percent().filter(|p| *p > 0).map(|percent| {
        view! {
            <span class="library-progress" aria-hidden="true">
                <span style=format!("width: {percent}%")></span>
            </span>
        }
    });
    let duration = entry.talk.duration_seconds.map(|secs| {
        view! {
            <span class="talk-card-duration">
                <span aria-hidden="true">{time_format::clock(secs)}</span>
                <span class="visually-hidden">{time_format::spoken(secs)}</span>
            </span>
        }
    });
    let talk = entry.talk;
    view! {
        <li class="talk-card library-card">
            <a href=href class="talk-card-link">
                <div class="talk-card-poster" aria-hidden="true">{poster_image(talk.poster_url.clone(), &talk.title)}{bar}</div>
                {duration}
                <h3 class="talk-card-title">{talk.title.clone()}</h3>
            </a>
            <p class="talk-card-speakers"><SpeakerLinks speakers=talk.speakers/></p>
            <p class="talk-card-date library-state">{state}</p>
            {children.map(|children| children())}
        </li>
    }
}

/// The home page's "Continue watching" row: empty as the server renders it, filled in once
/// hydrated with the talks this viewer started and did not finish.
#[component]
pub fn ContinueWatching() -> impl IntoView {
    let entries = RwSignal::new(Vec::<LibraryEntry>::new());
    #[cfg(feature = "hydrate")]
    crate::components::viewer_identity::once_live(move || {
        use crate::components::viewer_identity::stored_viewer_id;
        // Without an id this browser has played nothing here, signed in or not (plays under
        // Global Privacy Control keep no progress): nothing to ask for.
        let Some(viewer) = stored_viewer_id() else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Ok(list) =
                crate::api::library::load_continue_watching(Some(viewer.to_string())).await
            {
                entries.set(list.into_iter().take(ROW_LENGTH).collect());
            }
        });
    });
    move || {
        let list = entries.get();
        (!list.is_empty()).then(|| {
            view! {
                <section class="library-row" aria-labelledby="continue-watching-heading">
                    <div class="library-row-heading">
                        <h2 id="continue-watching-heading">"Continue watching"</h2>
                        <a href="/library">"Your library"</a>
                    </div>
                    <ul class="talk-grid">
                        {list.into_iter().map(|entry| view! { <LibraryCard entry/> }).collect_view()}
                    </ul>
                </section>
            }
        })
    }
}

/// The watch page's "Watch later" toggle. A plain form (posts the server function and comes
/// back, or goes to the login page when nobody is signed in) until hydrated; then it shows
/// whether the talk is saved and toggles in place. Anonymous viewers save into this browser's
/// library.
#[component]
pub fn WatchLaterButton(talk: Uuid, next: String) -> impl IntoView {
    let saved = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let message = RwSignal::new(String::new());
    // Set once the saved state is known: the button then tells the truth (tests wait for it).
    let known = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    crate::components::viewer_identity::once_live(move || {
        use crate::components::viewer_identity::stored_viewer_id;
        leptos::task::spawn_local(async move {
            let viewer = stored_viewer_id().map(|id| id.to_string());
            if let Ok(progress) =
                crate::api::library::load_talk_progress(talk.to_string(), viewer).await
            {
                saved.set(progress.watch_later);
            }
            known.set(true);
        });
    });
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::AppError;
            use crate::components::viewer_identity::viewer_id;
            event.prevent_default();
            if busy.get_untracked() {
                return;
            }
            let want = !saved.get_untracked();
            let viewer = viewer_id().map(|id| id.to_string());
            busy.set(true);
            leptos::task::spawn_local(async move {
                match crate::api::library::set_watch_later(talk.to_string(), want, viewer, None)
                    .await
                {
                    Ok(now) => {
                        saved.set(now);
                        message.set(if now {
                            "Saved to your Watch later list.".into()
                        } else {
                            "Removed from your Watch later list.".into()
                        });
                    }
                    Err(AppError::Unauthenticated) => message.set(
                        "Log in to save talks: this browser keeps no library (it asks sites not to track it)."
                            .into(),
                    ),
                    Err(err) => message.set(format!("Not saved: {err}")),
                }
                busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    view! {
        <form class="watch-later" method="post" action="/api/library/watch-later" on:submit=on_submit>
            <input type="hidden" name="talk" value=talk.to_string()/>
            <input type="hidden" name="saved" value=move || (!saved.get()).to_string()/>
            <input type="hidden" name="next" value=next/>
            <button
                type="submit"
                class="button watch-later-button"
                aria-pressed=move || saved.get().to_string()
                aria-busy=move || busy.get().to_string()
                data-known=move || known.get().to_string()
            >
                "Watch later"
            </button>
            <span class="watch-later-status" role="status">{move || message.get()}</span>
        </form>
    }
}
