//! `/`: the catalog of published talks with search (`q`, Postgres full text with highlighted
//! matches), tag and speaker filters and pagination; every state has a stable URL. The search
//! form is a plain GET form, so it works with JavaScript off.

use ferrotape_model::{CatalogQuery, CatalogResults};
use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::api::load_catalog;
use crate::components::talk_card::TalkCard;
use crate::islands::ContinueWatchingIsland;
use crate::origin::site_origin;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let params = use_query_map();
    let query = move || {
        params.with(|p| {
            CatalogQuery {
                q: p.get("q"),
                tag: p.get("tag"),
                speaker: p.get("speaker"),
                page: CatalogQuery::page_from(p.get("page").as_deref()),
            }
            .normalized()
        })
    };
    let page = Resource::new(query, load_catalog);
    view! {
        <section class="catalog" aria-labelledby="catalog-heading">
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading talks…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <CatalogView page/> }.into_any(),
                        Err(err) => view! {
                            <Title text="Talks"/>
                            <h1 id="catalog-heading">"Talks"</h1>
                            <p class="error-banner" role="alert">"The talks could not be loaded: " {err.to_string()}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CatalogView(page: CatalogResults) -> impl IntoView {
    let query = page.query.clone();
    let searching = query.is_filtered();
    let title = match &query.q {
        Some(q) => format!("Search: {q}"),
        None => "Talks".to_owned(),
    };
    let canonical = format!("{}{}", site_origin(), query.href(query.page));
    let summary = result_summary(&page);
    let empty_catalog = page.total == 0 && !searching;
    view! {
        <Title text=title/>
        <Meta name="description" content="Talks and videos, streamed adaptively."/>
        <Link rel="canonical" href=canonical/>
        <h1 id="catalog-heading">"Talks"</h1>
        <SearchForm page=page.clone()/>
        {(!searching && query.page <= 1).then(|| view! { <crate::pages::live::LiveNow/> })}
        {(!searching && query.page <= 1 && !empty_catalog).then(|| view! { <ContinueWatchingIsland/> })}
        {if empty_catalog {
            view! { <EmptyCatalog/> }.into_any()
        } else if page.hits.is_empty() && page.total > 0 {
            let last = query.href(page.pages());
            view! {
                <p class="catalog-summary" role="status">
                    "This page is past the end of the results. "
                    <a href=last>"Go to the last page"</a>
                </p>
            }.into_any()
        } else {
            view! {
                <p class="catalog-summary" role="status">{summary}</p>
                <TalkGrid page=page.clone()/>
                <Pagination page/>
            }.into_any()
        }}
    }
}

/// "3 talks match “rust” tagged Video", or "No talks match …".
fn result_summary(page: &CatalogResults) -> String {
    let query = &page.query;
    let mut conditions = Vec::new();
    if let Some(q) = &query.q {
        conditions.push(format!("“{q}”"));
    }
    if let Some(tag) = &query.tag {
        let name = page
            .tags
            .iter()
            .find(|t| &t.slug == tag)
            .map_or(tag.as_str(), |t| t.name.as_str());
        conditions.push(format!("tagged {name}"));
    }
    if let Some(speaker) = &query.speaker {
        let name = page
            .speakers
            .iter()
            .find(|s| &s.slug == speaker)
            .map_or(speaker.as_str(), |s| s.name.as_str());
        conditions.push(format!("by {name}"));
    }
    let matching = if conditions.is_empty() {
        String::new()
    } else {
        format!(
            " {} {}",
            if page.total == 1 { "matches" } else { "match" },
            conditions.join(" ")
        )
    };
    match page.total {
        0 => format!("No talks{matching}."),
        1 => format!("1 talk{matching}."),
        n => format!("{n} talks{matching}."),
    }
}

#[component]
fn SearchForm(page: CatalogResults) -> impl IntoView {
    let query = page.query.clone();
    let tag = query.tag.clone().unwrap_or_default();
    let speaker = query.speaker.clone().unwrap_or_default();
    view! {
        <form class="catalog-search" role="search" method="get" action="/">
            <label for="catalog-q" class="visually-hidden">"Search talks"</label>
            <input id="catalog-q" type="search" name="q" value=query.q.clone().unwrap_or_default()
                placeholder="Search talks, speakers, tags" maxlength="200"
                autocomplete="off"/>
            <label for="catalog-tag" class="visually-hidden">"Tag"</label>
            <select id="catalog-tag" name="tag">
                <option value="" selected=tag.is_empty()>"All tags"</option>
                {page.tags.iter().map(|t| view! {
                    <option value=t.slug.clone() selected=t.slug == tag>{t.name.clone()}</option>
                }).collect_view()}
            </select>
            <label for="catalog-speaker" class="visually-hidden">"Speaker"</label>
            <select id="catalog-speaker" name="speaker">
                <option value="" selected=speaker.is_empty()>"All speakers"</option>
                {page.speakers.iter().map(|s| view! {
                    <option value=s.slug.clone() selected=s.slug == speaker>{s.name.clone()}</option>
                }).collect_view()}
            </select>
            <button type="submit" class="button">"Search"</button>
            {query.is_filtered().then(|| view! { <a class="catalog-clear" href="/">"Clear"</a> })}
        </form>
    }
}

/// The grid of talk cards of a catalog page (also used by speaker pages).
#[component]
pub fn TalkGrid(page: CatalogResults) -> impl IntoView {
    view! {
        <ul class="talk-grid" role="list">
            {page.hits.into_iter().map(|hit| view! {
                <TalkCard talk=hit.talk marked_title=hit.marked_title marked_excerpt=hit.marked_excerpt spoken=hit.spoken/>
            }).collect_view()}
        </ul>
    }
}

/// The URL of page `page` of a listing at `base` (page 1 is `base` itself).
pub fn paged_href(base: &str, page: u32) -> String {
    if page > 1 {
        format!("{base}?page={page}")
    } else {
        base.to_owned()
    }
}

/// Previous/next links and the page position; `href` builds each page's stable URL.
#[component]
pub fn Pagination(
    page: CatalogResults,
    #[prop(optional, into)] base: Option<String>,
) -> impl IntoView {
    let pages = page.pages();
    let current = page.query.page.min(pages).max(1);
    let href = move |n: u32| match &base {
        Some(base) => paged_href(base, n),
        None => page.query.href(n),
    };
    (pages > 1).then(|| {
        view! {
            <nav class="pagination" aria-label="Pages">
                {(current > 1).then(|| view! { <a rel="prev" href=href(current - 1)>"← Previous"</a> })}
                <span aria-current="page">{format!("Page {current} of {pages}")}</span>
                {(current < pages).then(|| view! { <a rel="next" href=href(current + 1)>"Next →"</a> })}
            </nav>
        }
    })
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
