//! `/studio`: the editors' workspace. Uploads and talk management arrive with the VOD
//! pipeline; the page already enforces who may open it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::AppError;
use crate::api::admin::studio_overview;

#[component]
pub fn StudioPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| studio_overview());
    view! {
        <Title text="Studio"/>
        <section class="studio" aria-labelledby="studio-heading">
            <h1 id="studio-heading">"Studio"</h1>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(user) => view! {
                            <p>{format!("Welcome, {}.", user.display_name)}</p>
                            <p>"Uploading recordings and managing talks and their speakers will live here."</p>
                        }.into_any(),
                        Err(err) => view! { <AccessRefused err next="/studio"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// What a guarded page shows instead of its content.
#[component]
pub fn AccessRefused(err: AppError, next: &'static str) -> impl IntoView {
    match err {
        AppError::Unauthenticated => view! {
            <p class="error-banner" role="alert">
                "Log in to open this page. "
                <A href=format!("/login?next={next}")>"Log in"</A>
            </p>
        }
        .into_any(),
        other => view! { <p class="error-banner" role="alert">{other.to_string()}</p> }.into_any(),
    }
}
