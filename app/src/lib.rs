//! Ferrotape's user interface: the HTML shell, the router, pages, components and the server
//! functions they call. Compiled twice: with `ssr` into the server, with `hydrate` into wasm.

// Deeply nested views (tables of rows of cells) need more than the default 128 when their
// types are laid out in release builds.
#![recursion_limit = "512"]

pub mod api;
pub mod components;
pub mod error;
pub mod islands;
#[cfg(feature = "ssr")]
pub mod markdown;
pub mod origin;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server_context;
pub mod session;

use leptos::prelude::*;
use leptos_meta::{Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use crate::components::layout::{SiteFooter, SiteHeader};
use crate::pages::account::AccountPage;
use crate::pages::admin::{AdminOutboxPage, AdminUsersPage};
use crate::pages::auth::{
    ForgotPasswordPage, LoginPage, ResetPasswordPage, SignUpPage, VerifyEmailPage,
};
use crate::pages::embed::EmbedPage;
use crate::pages::jobs::AdminJobsPage;
use crate::pages::speaker::SpeakerPage;
use crate::pages::talk_editor::TalkEditorPage;
use crate::pages::{catalog::CatalogPage, not_found::NotFound, studio::StudioPage, talk::TalkPage};
use crate::session::Session;

pub use error::AppError;

/// The product name, shown in titles and the header.
pub const SITE_NAME: &str = "Ferrotape";

/// Response header in which the shell tells the server the nonce its `<script>` tags carry;
/// the server turns it into the page's Content-Security-Policy and never sends it on.
pub const CSP_NONCE_HEADER: &str = "x-ferrotape-csp-nonce";

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // Public viewer pages load the small islands bundle; the rest the whole app.
    report_script_nonce();
    let mut options = options;
    if let Some(bundle) = request_path().as_deref().and_then(islands::bundle_for_path) {
        options.output_name = bundle.into();
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark"/>
                <meta name="theme-color" content="#0f1115"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Leptos puts a fresh nonce on every script it writes (hydration, resources, `<Script>`);
/// the server needs it for the page's `script-src` (server only).
fn report_script_nonce() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) = http::HeaderValue::from_str(&nonce)
    {
        response.insert_header(http::HeaderName::from_static(CSP_NONCE_HEADER), value);
    }
}

/// The path of the request being rendered (server only).
fn request_path() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_owned())
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// "Talk title · Ferrotape". On the server the result is HTML-escaped because leptos_meta
/// 0.8 writes the `<title>` text into the page verbatim (a title containing `</title><script>`
/// would otherwise inject markup); in the browser it becomes `document.title`, plain text.
fn page_title(title: String) -> String {
    let full = if title.is_empty() {
        SITE_NAME.to_owned()
    } else {
        format!("{title} · {SITE_NAME}")
    };
    if cfg!(feature = "ssr") {
        escape_html_text(&full)
    } else {
        full
    }
}

fn escape_html_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            _ => escaped.push(ch),
        }
    }
    escaped
}

/// The site's header, footer and skip link: everywhere except inside the embedded player.
#[component]
fn SiteChrome(children: ChildrenFn) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let embedded = move || location.pathname.with(|path| path.starts_with("/embed/"));
    view! { <Show when=move || !embedded()>{children()}</Show> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Session::provide();

    // Marks the page as interactive once the wasm has hydrated it. CSS uses it to switch on
    // controls that need JavaScript; tests use it to know hydration finished.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="ferrotape" href="/pkg/ferrotape.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=page_title/>
        <Router>
            <SiteChrome>
                <a class="skip-link" href="#main">"Skip to content"</a>
                <SiteHeader/>
            </SiteChrome>
            <main id="main" class="site-main" tabindex="-1">
                <Routes fallback=NotFound>
                    // Async: the whole page (head included) is rendered before it is sent, so
                    // it works with JavaScript off and crawlers see the content.
                    <Route path=path!("/") view=CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/talks/:slug") view=TalkPage ssr=SsrMode::Async/>
                    <Route path=path!("/embed/:id") view=EmbedPage ssr=SsrMode::Async/>
                    <Route path=path!("/speakers/:slug") view=SpeakerPage ssr=SsrMode::Async/>
                    <Route path=path!("/live/:id") view=crate::pages::live::LivePage ssr=SsrMode::Async/>
                    <Route path=path!("/library") view=crate::pages::library::LibraryPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio") view=StudioPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/talks/:id") view=TalkEditorPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/talks/:id/subtitles") view=crate::pages::subtitle_editor::SubtitleEditorPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/analytics") view=crate::pages::analytics::AnalyticsPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/analytics/talks/:id") view=crate::pages::analytics::TalkAnalyticsPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/api-keys") view=crate::pages::api_keys::ApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/live") view=crate::pages::live::StreamsStudioPage ssr=SsrMode::Async/>
                    <Route path=path!("/studio/live/:id") view=crate::pages::live::StreamStudioPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/outbox") view=AdminOutboxPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/jobs") view=AdminJobsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/events") view=crate::pages::platform_events::AdminEventsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/compute") view=crate::pages::compute::AdminComputePage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <SiteChrome>
                <SiteFooter/>
            </SiteChrome>
        </Router>
    }
}
