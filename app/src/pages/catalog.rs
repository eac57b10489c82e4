//! `/`: the catalog grid of published talks.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::list_talks;
use crate::components::talk_card::TalkCard;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let talks = Resource::new(|| (), |_| list_talks());
    view! {
        <Title text="Talks"/>
        <section class="catalog" aria-labelledby="catalog-heading">
            <h1 id="catalog-heading">"Talks"</h1>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading talks…"</p> }>
                {move || Suspend::new(async move {
                    match talks.await {
                        Ok(list) if list.is_empty() => EmptyCatalog().into_any(),
                        Ok(list) => view! {
                            <ul class="talk-grid" role="list">
                                {list.into_iter().map(|talk| view! { <TalkCard talk/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(err) => view! {
                            <p class="error-banner" role="alert">"The talks could not be loaded: " {err.to_string()}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Shown on a fresh install: tells an editor how to get the first talk in.
#[component]
fn EmptyCatalog() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"No talks published yet"</h2>
            <p>
                "Editors publish talks from the Studio: upload a recording, add its speakers and "
                "tags, and it appears here once it has been transcoded."
            </p>
            <p>
                "Trying Ferrotape out? Load a few demo talks with "
                <code>"ferrotape seed-demo"</code>
                " (or " <code>"cargo run -p ferrotape-server -- seed-demo"</code> ")."
            </p>
        </div>
    }
}
