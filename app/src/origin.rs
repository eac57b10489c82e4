//! The site's origin (`https://host`) for absolute URLs in the page head, such as canonical
//! links (search engines want them absolute): on the server the request's trusted origin (see
//! `server/src/request_context.rs`), in the browser the page's own.

/// `scheme://host[:port]` without a trailing slash; empty if it cannot be known.
pub fn site_origin() -> String {
    #[cfg(feature = "ssr")]
    {
        crate::server_context::request_context()
            .map(|context| context.client.origin)
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        leptos::prelude::window()
            .location()
            .origin()
            .unwrap_or_default()
    }
}
