//! `/account`: who you are logged in as, and "log out everywhere".

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::accounts::LogOutEverywhere;
use crate::components::form::FormMessage;
use crate::session::Session;

#[component]
pub fn AccountPage() -> impl IntoView {
    let session = Session::get();
    let everywhere = ServerAction::<LogOutEverywhere>::new();
    Effect::new(move |_| {
        if matches!(everywhere.value().get(), Some(Ok(_))) {
            session.changed();
        }
    });
    view! {
        <Title text="Your account"/>
        <section class="auth-card" aria-labelledby="account-heading">
            <h1 id="account-heading">"Your account"</h1>
            <FormMessage result=Signal::derive(move || everywhere.value().get())/>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => view! {
                            <dl class="account-facts">
                                <dt>"Name"</dt><dd>{user.display_name}</dd>
                                <dt>"Email"</dt><dd>{user.email}</dd>
                                <dt>"Role"</dt><dd>{user.role.to_string()}</dd>
                            </dl>
                            <ActionForm action=everywhere attr:class="auth-form">
                                <button type="submit" class="button">"Log out on every device"</button>
                            </ActionForm>
                        }.into_any(),
                        _ => view! {
                            <p>"You are not logged in. " <A href="/login?next=/account">"Log in"</A></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
