//! `/library`: the viewer's continue watching, watch later and history, with removal and
//! "Clear history".
//!
//! A signed-in viewer's lists render on the server (and work without JavaScript: the buttons
//! are forms that come back here). An anonymous viewer's library belongs to this browser's id
//! in localStorage, which the server cannot see, so the page asks for it once hydrated.

use ferrotape_model::library::{Library, LibraryEntry, OwnerKind};
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use uuid::Uuid;

use crate::api::library::load_library;
use crate::components::library::LibraryCard;

/// Where the page's forms come back to.
const HERE: &str = "/library";

#[component]
pub fn LibraryPage() -> impl IntoView {
    // The browser's anonymous id: unknown on the server and while hydrating, read right after.
    let viewer = RwSignal::new(None::<String>);
    // Bumped after a change, to read the lists again.
    let version = RwSignal::new(0_u32);
    #[cfg(feature = "hydrate")]
    crate::components::viewer_identity::once_live(move || {
        if let Some(id) = crate::components::viewer_identity::stored_viewer_id() {
            viewer.set(Some(id.to_string()));
        }
    });
    let library = Resource::new(
        move || (viewer.get(), version.get()),
        |(viewer, _)| load_library(viewer),
    );
    let changed = Callback::new(move |()| version.update(|v| *v += 1));
    view! {
        <Title text="Your library"/>
        <Meta name="robots" content="noindex"/>
        <section class="library" aria-labelledby="library-heading">
            <h1 id="library-heading">"Your library"</h1>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading your library…"</p> }>
                {move || Suspend::new(async move {
                    match library.await {
                        Ok(library) => view! { <LibraryView library viewer changed/> }.into_any(),
                        Err(err) => view! {
                            <p class="error-banner" role="alert">
                                "Your library could not be loaded: " {err.to_string()}
                            </p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LibraryView(
    library: Library,
    viewer: RwSignal<Option<String>>,
    changed: Callback<()>,
) -> impl IntoView {
    let Library {
        owner,
        continue_watching,
        watch_later,
        history,
    } = library;
    let whose = match owner {
        OwnerKind::Account => "Your library follows your account to every device you log in on.",
        OwnerKind::Browser => {
            "This library is kept for this browser. Log in and it joins your account."
        }
        OwnerKind::Nobody => {
            "Talks you watch and save appear here. Nothing is kept for this browser (it has \
             played nothing here yet, or it asks sites not to track it); log in to keep a \
             library with your account."
        }
    };
    let empty = continue_watching.is_empty() && watch_later.is_empty() && history.is_empty();
    let has_history = !history.is_empty();
    view! {
        <p class="library-intro">{whose}</p>
        {(empty && owner != OwnerKind::Nobody).then(|| view! {
            <p class="library-empty">"Nothing here yet: " <a href="/">"find a talk to watch"</a> "."</p>
        })}
        <ListSection id="library-continue" title="Continue watching" entries=continue_watching
            action=|_| None viewer changed/>
        <ListSection id="library-watch-later" title="Watch later" entries=watch_later
            action=|talk| Some(Action::Unsave(talk)) viewer changed/>
        <ListSection id="library-history" title="History" entries=history
            action=|talk| Some(Action::Remove(talk)) viewer changed/>
        {has_history.then(|| view! {
            <LibraryButton action=Action::Clear viewer changed/>
        })}
    }
}

/// One list of the page, when it has talks; each card with its button, if `action` gives one.
#[component]
fn ListSection(
    id: &'static str,
    title: &'static str,
    entries: Vec<LibraryEntry>,
    action: fn(Uuid) -> Option<Action>,
    viewer: RwSignal<Option<String>>,
    changed: Callback<()>,
) -> impl IntoView {
    (!entries.is_empty()).then(|| {
        let heading = format!("{id}-heading");
        let labelled_by = heading.clone();
        view! {
            <section class="library-list" id=id aria-labelledby=labelled_by>
                <h2 id=heading>{title}</h2>
                <ul class="talk-grid">
                    {entries.into_iter().map(|entry| {
                        let button = action(entry.talk.id)
                            .map(|action| view! { <LibraryButton action viewer changed/> });
                        view! { <LibraryCard entry>{button}</LibraryCard> }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}

/// What a button of the page does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Off the watch-later list.
    Unsave(Uuid),
    /// Out of the history.
    Remove(Uuid),
    /// The whole history forgotten.
    Clear,
}

impl Action {
    fn endpoint(self) -> &'static str {
        match self {
            Action::Unsave(_) => "/api/library/watch-later",
            Action::Remove(_) => "/api/library/remove",
            Action::Clear => "/api/library/clear",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Action::Unsave(_) => "Remove from Watch later",
            Action::Remove(_) => "Remove from history",
            Action::Clear => "Clear history",
        }
    }

    fn talk(self) -> Option<Uuid> {
        match self {
            Action::Unsave(talk) | Action::Remove(talk) => Some(talk),
            Action::Clear => None,
        }
    }
}

/// A button as a form: posted plainly without JavaScript (the server function comes back
/// here), sent in place once hydrated, then the lists are read again.
#[component]
fn LibraryButton(
    action: Action,
    viewer: RwSignal<Option<String>>,
    changed: Callback<()>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            event.prevent_default();
            if action == Action::Clear
                && !window()
                    .confirm_with_message("Forget every talk in your history? Watch later stays.")
                    .unwrap_or(false)
            {
                return;
            }
            let viewer = viewer.get_untracked();
            leptos::task::spawn_local(async move {
                use crate::api::library::{clear_history, remove_from_history, set_watch_later};
                let done = match action {
                    Action::Unsave(talk) => set_watch_later(talk.to_string(), false, viewer, None)
                        .await
                        .map(|_| ()),
                    Action::Remove(talk) => remove_from_history(talk.to_string(), viewer, None)
                        .await
                        .map(|_| ()),
                    Action::Clear => clear_history(viewer, None).await.map(|_| ()),
                };
                match done {
                    Ok(()) => changed.run(()),
                    Err(err) => message.set(format!("Not done: {err}")),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, viewer, changed);
    };
    let class = if action == Action::Clear {
        "button small danger"
    } else {
        "button small"
    };
    view! {
        <form class="library-action" method="post" action=action.endpoint() on:submit=on_submit>
            {action.talk().map(|talk| view! { <input type="hidden" name="talk" value=talk.to_string()/> })}
            {matches!(action, Action::Unsave(_)).then(|| view! { <input type="hidden" name="saved" value="false"/> })}
            <input type="hidden" name="next" value=HERE/>
            <button type="submit" class=class>{action.label()}</button>
            <span role="status">{move || message.get()}</span>
        </form>
    }
}
