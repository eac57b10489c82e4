//! `/speakers/{slug}`: a speaker, their bio and their published talks (paginated).

use ferrotape_model::CatalogQuery;
use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::AppError;
use crate::api::speaker_page;
use crate::origin::site_origin;
use crate::pages::catalog::{Pagination, TalkGrid, paged_href};
use crate::pages::not_found::NotFound;

#[component]
pub fn SpeakerPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let data = Resource::new(
        move || {
            (
                params.read().get("slug").unwrap_or_default(),
                CatalogQuery::page_from(query.read().get("page").as_deref()),
            )
        },
        |(slug, page)| speaker_page(slug, page),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading speaker…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((profile, talks)) => {
                        let base = format!("/speakers/{}", profile.slug);
                        let canonical =
                            format!("{}{}", site_origin(), paged_href(&base, talks.query.page));
                        let count = match talks.total {
                            1 => "1 talk".to_owned(),
                            n => format!("{n} talks"),
                        };
                        let description = if profile.bio.trim().is_empty() {
                            format!("Talks by {}", profile.name)
                        } else {
                            profile.bio.chars().take(200).collect()
                        };
                        view! {
                            <Title text=profile.name.clone()/>
                            <Meta name="description" content=description/>
                            <Link rel="canonical" href=canonical/>
                            <section class="speaker" aria-labelledby="speaker-name">
                                {profile.photo_url.clone().map(|src| view! {
                                    <img class="speaker-photo" src=src alt=profile.name.clone()
                                        width="200" height="200"/>
                                })}
                                <h1 id="speaker-name">{profile.name.clone()}</h1>
                                {(!profile.bio.trim().is_empty()).then(|| view! {
                                    <div class="speaker-bio">
                                        {profile.bio.split("\n\n").map(|p| view! { <p>{p.to_owned()}</p> }).collect_view()}
                                    </div>
                                })}
                                <h2>{count}</h2>
                                <TalkGrid page=talks.clone()/>
                                <Pagination page=talks base/>
                            </section>
                        }.into_any()
                    }
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(err) => view! {
                        <Title text="Error"/>
                        <p class="error-banner" role="alert">"This speaker could not be loaded: " {err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
