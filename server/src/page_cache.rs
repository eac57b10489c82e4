//! A short-lived cache of the public pages anonymous viewers get (catalog, watch, speaker and
//! embed pages): "micro-caching". A talk that goes viral sends thousands of identical requests a
//! second; rendering each one costs several database round trips and a server-side render, while
//! a copy at most a second old costs a hash lookup. Anyone signed in (any cookie) always gets a
//! fresh render, so editors see their changes at once.
//!
//! Entries are keyed by tenant, origin (absolute URLs in the page depend on it) and the page's
//! normalised address (`islands::public_page_address`: the path and only the query parameters
//! the page reads, in canonical form), so `?x=1`, `?x=2`, … share one entry. Only complete
//! 200/404 HTML responses without `Set-Cookie` are kept; the cache sits inside the compression
//! layer, so one entry serves every `Accept-Encoding`. The cache holds at most
//! `max_bytes` of pages (`FERROTAPE_PAGE_CACHE_MAX_BYTES`); past it the oldest entries go.
//!
//! Each copy served gets a fresh script nonce: the one Leptos wrote into the stored page is
//! replaced in its `nonce="…"` attributes and reported onwards for the Content-Security-Policy
//! (`security_headers`), so no two responses share a nonce.
//!
//! When an entry expires, the next request gets the expired copy and sets off one render in the
//! background; until it lands, everyone keeps getting the copy ("stale while revalidate").
//! Without it, every concurrent viewer would render at the same instant once a second, and
//! even one viewer waiting for a render would be the slowest response. A copy more than
//! `MAX_STALE` past its expiry is never served: that request renders and waits. Requests that
//! must wait for a render of the same page wait for one render, not one each (a cold page hit
//! by 50 viewers at once renders once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use ferrotape_accounts::RequestContext;
use ferrotape_app::CSP_NONCE_HEADER;
use ferrotape_app::islands::{is_public_page, public_page_address};
use tokio::sync::OwnedMutexGuard;

/// Tells how a public page was served: `hit` (a fresh copy), `stale` (an expired copy while a
/// render refreshes it) or `miss` (rendered for this request).
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("x-ferrotape-cache");
/// Pages larger than this are served but not kept.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// The default bound of all kept pages together.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// What an entry costs beyond its body (key, headers, bookkeeping), roughly.
const ENTRY_OVERHEAD: usize = 1024;
/// How long after expiry a copy may still be served while one request renders a new one.
const MAX_STALE: Duration = Duration::from_secs(10);
/// A render that has not finished in this time no longer stops others from trying.
const RENDER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant: uuid::Uuid,
    origin: String,
    address: String,
}

/// A rendered page.
#[derive(Clone)]
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Page {
    fn cost(&self, key: &Key) -> usize {
        self.body.len() + key.address.len() + key.origin.len() + ENTRY_OVERHEAD
    }

    /// This copy with a fresh script nonce in place of the stored one (see the module doc).
    fn with_fresh_nonce(mut self) -> Page {
        let nonce_header = HeaderName::from_static(CSP_NONCE_HEADER);
        let Some(old) = self
            .headers
            .get(&nonce_header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return self;
        };
        let Ok(html) = std::str::from_utf8(&self.body) else {
            // Not text: keep the nonce out of the header, so no script of it runs.
            self.headers.remove(&nonce_header);
            return self;
        };
        let fresh = leptos::nonce::Nonce::new().to_string();
        let body = html.replace(&format!("nonce=\"{old}\""), &format!("nonce=\"{fresh}\""));
        self.body = Bytes::from(body);
        match HeaderValue::from_str(&fresh) {
            Ok(value) => self.headers.insert(nonce_header, value),
            Err(_) => self.headers.remove(&nonce_header),
        };
        self
    }
}

/// The pages kept and their total cost.
#[derive(Default)]
struct Entries {
    pages: HashMap<Key, Entry>,
    bytes: usize,
}

struct Entry {
    stored: Instant,
    /// When a request set out to render a fresh copy of this expired entry.
    render_started: Option<Instant>,
    page: Page,
}

/// What a request should do about a page.
enum Lookup {
    Fresh(Page),
    /// Expired, and a render is under way.
    Stale(Page),
    /// Expired: serve it and render a fresh copy in the background.
    Revalidate(Page),
    /// Nothing servable: render and wait.
    Render,
}

/// The cache; `ttl` zero turns it off.
pub struct PageCache {
    ttl: Duration,
    max_bytes: usize,
    entries: Mutex<Entries>,
    /// One lock per page being rendered for waiting viewers.
    renders: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl PageCache {
    pub fn new(ttl: Duration) -> PageCache {
        PageCache::with_max_bytes(ttl, DEFAULT_MAX_BYTES)
    }

    /// A cache keeping at most `max_bytes` of pages.
    pub fn with_max_bytes(ttl: Duration, max_bytes: usize) -> PageCache {
        PageCache {
            ttl,
            max_bytes,
            entries: Mutex::new(Entries::default()),
            renders: Mutex::new(HashMap::new()),
        }
    }

    /// The bytes the kept pages take (as counted against `max_bytes`).
    pub fn bytes(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    fn fresh(&self, key: &Key) -> Option<Page> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .pages
            .get(key)
            .filter(|entry| entry.stored.elapsed() < self.ttl)
            .map(|entry| entry.page.clone())
    }

    /// Waits until no other request renders `key`; the guard lets this one render it. After
    /// `RENDER_TIMEOUT` (a database in trouble) it gives up waiting: `None`, render regardless,
    /// rather than queue every viewer behind renders that keep failing.
    async fn render_turn(&self, key: &Key) -> Option<OwnedMutexGuard<()>> {
        let lock = {
            let mut renders = self.renders.lock().unwrap_or_else(|e| e.into_inner());
            renders.entry(key.clone()).or_default().clone()
        };
        tokio::time::timeout(RENDER_TIMEOUT, lock.lock_owned())
            .await
            .ok()
    }

    /// Ends a render turn; the lock goes once nobody waits for it.
    fn end_turn(&self, key: &Key, turn: Option<OwnedMutexGuard<()>>) {
        drop(turn);
        let mut renders = self.renders.lock().unwrap_or_else(|e| e.into_inner());
        if renders
            .get(key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            renders.remove(key);
        }
    }

    fn lookup(&self, key: &Key) -> Lookup {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.pages.get_mut(key) else {
            return Lookup::Render;
        };
        let age = entry.stored.elapsed();
        if age < self.ttl {
            return Lookup::Fresh(entry.page.clone());
        }
        let someone_renders = entry
            .render_started
            .is_some_and(|started| started.elapsed() < RENDER_TIMEOUT);
        if someone_renders && age < self.ttl + MAX_STALE {
            return Lookup::Stale(entry.page.clone());
        }
        entry.render_started = Some(Instant::now());
        if age < self.ttl + MAX_STALE {
            Lookup::Revalidate(entry.page.clone())
        } else {
            Lookup::Render
        }
    }

    /// Drops a page: what its address answers now is not a page to keep.
    fn forget(&self, key: &Key) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = entries.pages.remove(key) {
            entries.bytes = entries.bytes.saturating_sub(old.page.cost(key));
        }
    }

    /// Stores a fresh render (pages too large to be worth keeping are left out), making room
    /// within `max_bytes`: first pages too old to be served even stale, then the oldest.
    fn keep(&self, key: Key, page: Page) {
        let cost = page.cost(&key);
        if page.body.len() > MAX_PAGE_BYTES || cost > self.max_bytes {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Entries { pages, bytes } = &mut *entries;
        if let Some(old) = pages.remove(&key) {
            *bytes -= old.page.cost(&key);
        }
        if *bytes + cost > self.max_bytes {
            let servable = self.ttl + MAX_STALE;
            pages.retain(|key, entry| {
                let keep = entry.stored.elapsed() < servable;
                if !keep {
                    *bytes -= entry.page.cost(key);
                }
                keep
            });
        }
        if *bytes + cost > self.max_bytes {
            // Oldest first, down to three quarters, so the next pages do not evict one each.
            let mut by_age: Vec<(Instant, Key)> = pages
                .iter()
                .map(|(key, entry)| (entry.stored, key.clone()))
                .collect();
            by_age.sort_by_key(|(stored, _)| *stored);
            let target = (self.max_bytes / 4 * 3).min(self.max_bytes - cost);
            for (_, old_key) in by_age {
                if *bytes <= target {
                    break;
                }
                if let Some(old) = pages.remove(&old_key) {
                    *bytes -= old.page.cost(&old_key);
                }
            }
        }
        *bytes += cost;
        let entry = Entry {
            stored: Instant::now(),
            render_started: None,
            page,
        };
        pages.insert(key, entry);
    }
}

/// The cache key of an anonymous GET of a public page; `None` when the request must be rendered.
fn cacheable(request: &Request) -> Option<Key> {
    let headers = request.headers();
    let anonymous =
        !headers.contains_key(header::COOKIE) && !headers.contains_key(header::AUTHORIZATION);
    if request.method() != Method::GET || !anonymous || !is_public_page(request.uri().path()) {
        return None;
    }
    let context = request.extensions().get::<RequestContext>()?;
    Some(Key {
        tenant: context.tenant.0,
        origin: context.client.origin.clone(),
        address: public_page_address(request.uri().path(), request.uri().query()),
    })
}

fn keepable(response: &Response) -> bool {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let private = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-store") || v.contains("private"));
    matches!(response.status(), StatusCode::OK | StatusCode::NOT_FOUND)
        && html
        && !private
        && !response.headers().contains_key(header::SET_COOKIE)
}

fn respond(page: Page, status: &'static str) -> Response {
    let page = page.with_fresh_nonce();
    let mut response = Response::new(Body::from(page.body));
    *response.status_mut() = page.status;
    *response.headers_mut() = page.headers;
    response
        .headers_mut()
        .insert(CACHE_STATUS, HeaderValue::from_static(status));
    response
}

/// Middleware: serves anonymous public pages from the cache, keeping fresh renders.
pub async fn serve(State(cache): State<Arc<PageCache>>, request: Request, next: Next) -> Response {
    let key = match cacheable(&request) {
        Some(key) if !cache.ttl.is_zero() => key,
        _ => return next.run(request).await,
    };
    match cache.lookup(&key) {
        Lookup::Fresh(page) => respond(page, "hit"),
        Lookup::Stale(page) => respond(page, "stale"),
        Lookup::Revalidate(page) => {
            let cache = cache.clone();
            tokio::spawn(async move {
                match render(next, request).await {
                    Ok(rendered) => cache.keep(key, rendered),
                    // The page moved (a renamed talk answers 301): the old copy must not be
                    // served on. An error keeps it (stale beats failing while the database
                    // is in trouble).
                    Err(response) if response.status().is_redirection() => cache.forget(&key),
                    Err(_) => {}
                }
            });
            respond(page, "stale")
        }
        Lookup::Render => {
            let turn = cache.render_turn(&key).await;
            // The request ahead in the queue may have rendered it meanwhile.
            if let Some(page) = cache.fresh(&key) {
                cache.end_turn(&key, turn);
                return respond(page, "hit");
            }
            let response = match render(next, request).await {
                Ok(page) => {
                    cache.keep(key.clone(), page.clone());
                    respond(page, "miss")
                }
                Err(response) => response,
            };
            cache.end_turn(&key, turn);
            response
        }
    }
}

/// Renders the page: `Ok` with a page worth keeping, `Err` with the response to send as is.
async fn render(next: Next, request: Request) -> Result<Page, Response> {
    let response = next.run(request).await;
    if !keepable(&response) {
        return Err(response);
    }
    // Pages render completely before they are sent (`SsrMode::Async`), so collecting the body
    // holds nothing back from the viewer.
    let (parts, body) = response.into_parts();
    match to_bytes(body, usize::MAX).await {
        Ok(body) => Ok(Page {
            status: parts.status,
            headers: parts.headers,
            body,
        }),
        Err(err) => {
            tracing::error!(%err, "rendering the page failed");
            let mut response = Response::new(Body::from("The page could not be rendered."));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            Err(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_pages_are_cacheable() {
        for path in ["/", "/talks/a-talk", "/speakers/ada", "/embed/123"] {
            assert!(is_public_page(path), "{path}");
        }
        for path in [
            "/studio",
            "/account",
            "/admin/users",
            "/api/talks/catalog",
            "/media/x",
            "/talks",
        ] {
            assert!(!is_public_page(path), "{path}");
        }
    }

    fn key(n: usize) -> Key {
        Key {
            tenant: uuid::Uuid::nil(),
            origin: "http://x".into(),
            address: format!("/?page={n}"),
        }
    }

    fn page() -> Page {
        Page {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"page"),
        }
    }

    #[test]
    fn an_expired_page_is_rendered_once_in_the_background_while_everyone_gets_the_old_copy() {
        let cache = PageCache::new(Duration::from_millis(50));
        assert!(
            matches!(cache.lookup(&key(0)), Lookup::Render),
            "not cached yet"
        );
        cache.keep(key(0), page());
        assert!(matches!(cache.lookup(&key(0)), Lookup::Fresh(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            matches!(cache.lookup(&key(0)), Lookup::Revalidate(_)),
            "the first after expiry gets the old copy and renders a new one"
        );
        for _ in 0..3 {
            assert!(
                matches!(cache.lookup(&key(0)), Lookup::Stale(_)),
                "the others get the old copy"
            );
        }
        cache.keep(key(0), page());
        assert!(matches!(cache.lookup(&key(0)), Lookup::Fresh(_)));
    }

    #[tokio::test]
    async fn viewers_waiting_for_the_same_page_wait_for_one_render() {
        let cache = Arc::new(PageCache::new(Duration::from_secs(60)));
        let first = cache.render_turn(&key(0)).await;
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move {
                let turn = cache.render_turn(&key(0)).await;
                let page = cache.fresh(&key(0));
                cache.end_turn(&key(0), turn);
                page.is_some()
            }
        });
        // Another page is not held up by this render.
        let other = cache.render_turn(&key(1)).await;
        cache.end_turn(&key(1), other);
        cache.keep(key(0), page());
        cache.end_turn(&key(0), first);
        assert!(waiter.await.unwrap(), "the waiter finds the page rendered");
        assert!(
            cache.renders.lock().unwrap().is_empty(),
            "no locks left behind"
        );
    }

    #[test]
    fn the_bytes_kept_are_bounded_and_the_newest_pages_stay() {
        let max = 64 * 1024;
        let cache = PageCache::with_max_bytes(Duration::from_secs(60), max);
        let big = Page {
            body: Bytes::from(vec![b'x'; 3000]),
            ..page()
        };
        for n in 0..1000 {
            cache.keep(key(n), big.clone());
            assert!(cache.bytes() <= max, "after {n} pages: {}", cache.bytes());
        }
        assert!(matches!(cache.lookup(&key(999)), Lookup::Fresh(_)));
        assert!(
            matches!(cache.lookup(&key(0)), Lookup::Render),
            "the oldest went"
        );
        let counted: usize = {
            let entries = cache.entries.lock().unwrap();
            entries.pages.iter().map(|(k, e)| e.page.cost(k)).sum()
        };
        assert_eq!(counted, cache.bytes(), "the running total is exact");
        // Storing a page again replaces it, not counts it twice.
        let before = cache.bytes();
        cache.keep(key(999), big.clone());
        assert_eq!(cache.bytes(), before);
    }

    #[test]
    fn every_copy_served_gets_its_own_nonce() {
        let mut headers = HeaderMap::new();
        headers.insert(CSP_NONCE_HEADER, HeaderValue::from_static("old"));
        let stored = Page {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(
                b"<script nonce=\"old\">a</script><script nonce=\"old\" type=module></script>",
            ),
        };
        let first = stored.clone().with_fresh_nonce();
        let second = stored.with_fresh_nonce();
        let nonce = |page: &Page| page.headers[CSP_NONCE_HEADER].to_str().unwrap().to_owned();
        assert_ne!(nonce(&first), "old");
        assert_ne!(nonce(&first), nonce(&second));
        let body = std::str::from_utf8(&first.body).unwrap();
        assert_eq!(
            body.matches(&format!("nonce=\"{}\"", nonce(&first)))
                .count(),
            2
        );
        assert!(!body.contains("\"old\""));
    }
}
