//! The app shell around every page: header with navigation, footer.

use ferrotape_model::{Role, SessionUser};
use leptos::prelude::*;
use leptos_router::components::A;

use crate::SITE_NAME;
use crate::api::accounts::LogOut;
use crate::session::{Session, shows};

#[component]
pub fn SiteHeader() -> impl IntoView {
    // On narrow screens the navigation collapses behind a menu button. Without JavaScript
    // the button is hidden and the navigation stays visible (see style/main.css).
    let (menu_open, set_menu_open) = signal(false);
    let session = Session::get();
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"▶"</span>
                <span class="brand-name">{SITE_NAME}</span>
            </A>
            <button
                type="button"
                class="menu-toggle"
                aria-controls="site-nav"
                aria-expanded=move || menu_open.get().to_string()
                on:click=move |_| set_menu_open.update(|open| *open = !*open)
            >
                <span class="visually-hidden">"Menu"</span>
                <span aria-hidden="true">"☰"</span>
            </button>
            <nav id="site-nav" class="site-nav" class:open=move || menu_open.get() aria-label="Main">
                <ul>
                    <li><A href="/">"Talks"</A></li>
                    <li><A href="/library">"Library"</A></li>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            let user = session.user.await.ok().flatten();
                            view! { <AccountLinks user session/> }
                        })}
                    </Transition>
                </ul>
            </nav>
        </header>
    }
}

/// What the navigation offers depends on the role; the server enforces it regardless.
#[component]
fn AccountLinks(user: Option<SessionUser>, session: Session) -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    Effect::new(move |_| {
        if matches!(log_out.value().get(), Some(Ok(_))) {
            session.changed();
        }
    });
    let studio = shows(&user, Role::Editor);
    let admin = shows(&user, Role::Admin);
    match user {
        Some(user) => view! {
            {studio.then(|| view! { <li><A href="/studio">"Studio"</A></li> })}
            {admin.then(|| view! {
                <li><A href="/admin/users">"Users"</A></li>
                <li><A href="/admin/jobs">"Jobs"</A></li>
                <li><A href="/admin/events">"Events"</A></li>
                <li><A href="/admin/compute">"Compute"</A></li>
                <li><A href="/admin/outbox">"Outbox"</A></li>
            })}
            <li><A href="/account">{user.display_name}</A></li>
            <li>
                <ActionForm action=log_out attr:class="inline-form">
                    <button type="submit" class="link-button">"Log out"</button>
                </ActionForm>
            </li>
        }
        .into_any(),
        None => view! {
            <li><A href="/login">"Log in"</A></li>
            <li><A href="/signup">"Sign up"</A></li>
        }
        .into_any(),
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>{SITE_NAME}" — self-hosted talks and video."</p>
        </footer>
    }
}
