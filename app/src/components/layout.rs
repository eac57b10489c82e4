//! The app shell around every page: header with navigation, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::SITE_NAME;

#[component]
pub fn SiteHeader() -> impl IntoView {
    // On narrow screens the navigation collapses behind a menu button. Without JavaScript
    // the button is hidden and the navigation stays visible (see style/main.css).
    let (menu_open, set_menu_open) = signal(false);
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
                </ul>
            </nav>
        </header>
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
