//! Integration-test harness: boots the real router against a fresh database.
//!
//! Each test gets its own database (`ferrotape_store::test_support`), dropped when the
//! `TestApp` goes away.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod beacons;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use ferrotape_accounts::{Accounts, AccountsConfig};
use ferrotape_model::Role;
use ferrotape_server::cli::CookieSecure;
use ferrotape_server::settings::HttpSettings;
use ferrotape_server::state::{AppState, AppStateInner};
use ferrotape_store::PgPool;
use ferrotape_store::test_support::TestDatabase;
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    /// What the separate metrics listener (`FERROTAPE_METRICS_BIND`) would serve.
    pub metrics_listener: Router,
    pub pool: PgPool,
    pub accounts: Accounts,
    database: TestDatabase,
    /// The media directory (local storage) and the store over it, for workers and checks.
    pub media_dir: tempfile::TempDir,
    /// The site root (built assets): empty unless a test puts files there.
    pub site_dir: tempfile::TempDir,
    pub media: Arc<dyn ferrotape_store::media::MediaStore>,
    /// The beacon pipeline (its counters, and `shut_down` as the server calls it).
    pub analytics: Arc<ferrotape_server::analytics::Analytics>,
    /// Where the pipeline spools what it cannot write at shutdown.
    pub analytics_spool: tempfile::TempDir,
    _stop_background: tokio::sync::watch::Sender<bool>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// How a `TestApp` differs from the default one (mail held, no trusted proxies, local storage,
/// the system's media tools, no page cache, default upload limits, /metrics for loopback).
#[derive(Default)]
struct TestOptions {
    accounts: AccountsConfig,
    trusted_proxies: Vec<ipnet::IpNet>,
    storage: Option<ferrotape_store::media::OpenedMedia>,
    tools: Option<ferrotape_worker::MediaTools>,
    page_cache_ttl: Duration,
    uploads: ferrotape_server::settings::UploadSettings,
    metrics_access: ferrotape_server::metrics_access::MetricsAccess,
    imports: ferrotape_store::import_policy::ImportPolicy,
    analytics: ferrotape_server::analytics::AnalyticsSettings,
    media_accel_redirect: Option<String>,
}

/// The address tests pretend the site runs at (Host and Origin of every request).
pub const SITE: &str = "127.0.0.1:3000";
/// What the test apps take as `FERROTAPE_LIVE_HOOK_SECRET`.
pub const LIVE_HOOK_SECRET: &str = "a live hook secret for the tests";

impl TestApp {
    /// The app with mail held in the outbox (no SMTP server).
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(AccountsConfig::default(), Vec::new()).await
    }

    /// The app delivering mail to the SMTP sink `make test` runs (FERROTAPE_TEST_SMTP_URL).
    pub async fn spawn_with_smtp() -> TestApp {
        let config = AccountsConfig {
            smtp_url: Some(mail_sink::smtp_url()),
            ..AccountsConfig::default()
        };
        TestApp::spawn_with(config, Vec::new()).await
    }

    pub async fn spawn_with(config: AccountsConfig, trusted_proxies: Vec<ipnet::IpNet>) -> TestApp {
        TestApp::spawn_options(TestOptions {
            accounts: config,
            trusted_proxies,
            ..TestOptions::default()
        })
        .await
    }

    /// The app with these upload settings (quotas), storage (an S3 bucket; default local) and
    /// media tools.
    pub async fn spawn_with_uploads(
        uploads: ferrotape_server::settings::UploadSettings,
        storage: Option<ferrotape_store::media::OpenedMedia>,
        tools: Option<ferrotape_worker::MediaTools>,
    ) -> TestApp {
        TestApp::spawn_options(TestOptions {
            uploads,
            storage,
            tools,
            ..TestOptions::default()
        })
        .await
    }

    /// The app running these media tools (a missing ffprobe, say).
    pub async fn spawn_with_tools(tools: ferrotape_worker::MediaTools) -> TestApp {
        TestApp::spawn_options(TestOptions {
            tools: Some(tools),
            ..TestOptions::default()
        })
        .await
    }

    /// The app storing media in `storage` (an S3 bucket) instead of a local directory.
    pub async fn spawn_with_storage(storage: ferrotape_store::media::OpenedMedia) -> TestApp {
        TestApp::spawn_options(TestOptions {
            storage: Some(storage),
            ..TestOptions::default()
        })
        .await
    }

    /// The app caching public pages for anonymous viewers for `ttl` (the others render every
    /// page, so a test can change the database and see the change on its next request).
    pub async fn spawn_with_page_cache(ttl: Duration) -> TestApp {
        TestApp::spawn_options(TestOptions {
            page_cache_ttl: ttl,
            ..TestOptions::default()
        })
        .await
    }

    /// The app checking URL imports against `imports` (an allow-list naming a test's server).
    pub async fn spawn_with_imports(
        imports: ferrotape_store::import_policy::ImportPolicy,
    ) -> TestApp {
        TestApp::spawn_options(TestOptions {
            imports,
            ..TestOptions::default()
        })
        .await
    }

    /// The app with the analytics pipeline set up as `analytics` says (a small buffer, a
    /// different rate per client).
    pub async fn spawn_with_analytics(
        analytics: ferrotape_server::analytics::AnalyticsSettings,
    ) -> TestApp {
        TestApp::spawn_options(TestOptions {
            analytics,
            ..TestOptions::default()
        })
        .await
    }

    /// The app behind a front server: `proxies` trusted, `/media` answered to them with
    /// `X-Accel-Redirect` under `prefix`.
    pub async fn spawn_behind_front_server(proxies: Vec<ipnet::IpNet>, prefix: &str) -> TestApp {
        TestApp::spawn_options(TestOptions {
            trusted_proxies: proxies,
            media_accel_redirect: Some(prefix.to_owned()),
            ..TestOptions::default()
        })
        .await
    }

    /// The app with /metrics readable as `metrics_access` says.
    pub async fn spawn_with_metrics_access(
        metrics_access: ferrotape_server::metrics_access::MetricsAccess,
    ) -> TestApp {
        TestApp::spawn_options(TestOptions {
            metrics_access,
            ..TestOptions::default()
        })
        .await
    }

    async fn spawn_options(options: TestOptions) -> TestApp {
        let TestOptions {
            accounts: config,
            trusted_proxies,
            storage,
            tools,
            page_cache_ttl,
            uploads,
            metrics_access,
            imports,
            analytics,
            media_accel_redirect,
        } = options;
        let database = TestDatabase::create().await;
        let pool = database.pool.clone();
        let media_dir = tempfile::tempdir().unwrap();
        let site_dir = tempfile::tempdir().unwrap();
        let accounts = Accounts::new(pool.clone(), config).await.unwrap();
        // Mail delivery runs as in the server; it stops when the TestApp is dropped.
        let (stop_background, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(accounts.clone().run_background(stopped.clone()));
        let job_events = ferrotape_server::job_events::JobEvents::new();
        tokio::spawn(job_events.clone().run(pool.clone(), stopped.clone()));
        let video_events = ferrotape_server::video_events::VideoEvents::new();
        tokio::spawn(video_events.clone().run(pool.clone(), stopped.clone()));
        let platform_events = ferrotape_server::platform_events::PlatformEvents::new();
        tokio::spawn(platform_events.clone().run(pool.clone(), stopped));
        let served_media = storage.unwrap_or_else(|| {
            ferrotape_store::media::OpenedMedia::Local(
                ferrotape_store::media::LocalMedia::open(media_dir.path()).unwrap(),
            )
        });
        let media = served_media.shared();
        let analytics_spool = tempfile::tempdir().unwrap();
        let analytics = ferrotape_server::analytics::Analytics::start(
            pool.clone(),
            &analytics,
            ferrotape_server::analytics::spool::Spool::new(analytics_spool.path().to_owned()),
        );
        let state = AppState::new(AppStateInner {
            analytics: analytics.clone(),
            leptos_options: LeptosOptions::builder()
                .output_name("ferrotape")
                .site_root(site_dir.path().to_string_lossy())
                .build(),
            db: pool.clone(),
            media: media.clone(),
            served_media,
            tools: tools.unwrap_or_default(),
            uploads,
            imports: Arc::new(imports),
            accounts: accounts.clone(),
            http: Arc::new(HttpSettings {
                trusted_proxies,
                default_origin: format!("http://{SITE}"),
                cookie_secure: CookieSecure::Auto,
                media_accel_redirect,
            }),
            job_events: job_events.clone(),
            video_events,
            platform_events,
            page_cache: Arc::new(ferrotape_server::page_cache::PageCache::new(page_cache_ttl)),
            media_files: Arc::default(),
            media_visibility: Arc::new(ferrotape_server::media_visibility::MediaVisibility::new()),
            host_tenants: Arc::default(),
            live_transcoders: None,
            live_viewers: Arc::default(),
            live_ingest: None,
            metrics_access: Arc::new(metrics_access),
            live_hooks: Arc::new(ferrotape_server::api::live_hooks::LiveHooks::new(
                Some(LIVE_HOOK_SECRET),
                "live",
            )),
        });
        TestApp {
            metrics_listener: ferrotape_server::metrics::listener_router(state.clone()),
            router: ferrotape_server::router::build(state),
            pool,
            accounts,
            database,
            media_dir,
            site_dir,
            media,
            analytics,
            analytics_spool,
            _stop_background: stop_background,
        }
    }

    /// A URL of this test's database, for running the binary against it.
    pub fn database_url(&self) -> String {
        self.database.url()
    }

    /// A browser-like client with its own cookie jar and IP address.
    pub fn client(&self, ip: &str) -> Client<'_> {
        Client {
            app: self,
            ip: ip.parse().unwrap(),
            cookies: Default::default(),
        }
    }

    /// A confirmed user created directly (no mail round trip).
    pub async fn user(
        &self,
        tenant: ferrotape_model::TenantId,
        email: &str,
        role: Role,
    ) -> uuid::Uuid {
        self.accounts
            .create_user(tenant, email, "Test User", PASSWORD, role)
            .await
            .unwrap()
            .id
    }

    /// A GET as a browser on `SITE` sends it (with its Host header), without cookies.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(
            Request::builder()
                .method(Method::GET)
                .uri(path)
                .header("host", SITE)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// Calls a server function the way the browser does (form-encoded POST under /api).
    pub async fn call_server_fn(&self, endpoint: &str, form_body: &str) -> TestResponse {
        self.request(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/api/{endpoint}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(Body::from(form_body.to_owned()))
                .unwrap(),
        )
        .await
    }

    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// The path of the system's ffprobe (tests put stand-ins in front of it).
pub fn system_ffprobe() -> String {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v ffprobe"])
        .output()
        .expect("sh runs");
    String::from_utf8(found.stdout).unwrap().trim().to_owned()
}

/// Inserts a talk with speakers into `tenant`; returns its id.
pub async fn insert_talk(
    pool: &PgPool,
    tenant: ferrotape_model::TenantId,
    slug: &str,
    title: &str,
    published_at: Option<time::OffsetDateTime>,
    speakers: &[(&str, &str)],
) -> uuid::Uuid {
    use ferrotape_store::talks;
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for (slug, name) in speakers {
        ids.push(
            talks::upsert_speaker(&mut tx, tenant, slug, name)
                .await
                .unwrap(),
        );
    }
    let talk = talks::NewTalk {
        slug: slug.into(),
        title: title.into(),
        description: format!("About {title}."),
        recorded_on: None,
        published_at,
        speakers: ids,
    };
    let id = talks::create_talk(&mut tx, tenant, &talk).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Gives `talk` a ready video of `duration_ms` (master playlist and poster keys under `t/v/`,
/// the files themselves absent): what the watch page, embed, oEmbed and sitemap read.
pub async fn insert_ready_video(
    pool: &PgPool,
    tenant: ferrotape_model::TenantId,
    talk: uuid::Uuid,
    duration_ms: i64,
) {
    sqlx::query(
        "INSERT INTO videos (tenant_id, talk_id, state, duration_ms, master_key, poster_key, processed_at)
         VALUES ($1, $2, 'ready', $3, 't/v/hls/master.m3u8', 't/v/thumbs/poster.jpg', now())",
    )
    .bind(tenant.0)
    .bind(talk)
    .bind(duration_ms)
    .execute(pool)
    .await
    .unwrap();
}

/// Creates another tenant and returns its id.
pub async fn insert_tenant(pool: &PgPool, slug: &str) -> ferrotape_model::TenantId {
    let id: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id")
            .bind(slug)
            .fetch_one(pool)
            .await
            .unwrap();
    ferrotape_model::TenantId(id)
}

/// The password of users made by `TestApp::user`.
pub const PASSWORD: &str = "correct horse battery staple";

/// Sends requests the way a browser on `SITE` would: Host and Origin set, cookies kept from
/// `Set-Cookie` responses, from one client IP.
pub struct Client<'a> {
    app: &'a TestApp,
    pub ip: IpAddr,
    pub cookies: BTreeMap<String, String>,
}

impl Client<'_> {
    pub fn request(&self, method: Method, path: &str) -> axum::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", SITE)
            .header("origin", format!("http://{SITE}"));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            builder = builder.header("cookie", jar.join("; "));
        }
        builder
    }

    pub async fn send(&mut self, request: Request<Body>) -> TestResponse {
        let mut request = request;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(self.ip, 40000)));
        let response = self.app.request(request).await;
        for cookie in response.headers.get_all("set-cookie") {
            let cookie = cookie.to_str().unwrap();
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        let request = self.request(Method::GET, path).body(Body::empty()).unwrap();
        self.send(request).await
    }

    pub async fn post_json(&mut self, path: &str, body: serde_json::Value) -> TestResponse {
        let request = self
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// A server function called the way the hydrated app does (JSON back).
    pub async fn server_fn(&mut self, endpoint: &str, form: &[(&str, &str)]) -> TestResponse {
        let request = self
            .request(Method::POST, &format!("/api/{endpoint}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(Body::from(form_encode(form)))
            .unwrap();
        self.send(request).await
    }

    /// The same server function posted by a plain HTML form (no JavaScript).
    pub async fn form_post(
        &mut self,
        endpoint: &str,
        form: &[(&str, &str)],
        referer: &str,
    ) -> TestResponse {
        let request = self
            .request(Method::POST, &format!("/api/{endpoint}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", format!("http://{SITE}{referer}"))
            .body(Body::from(form_encode(form)))
            .unwrap();
        self.send(request).await
    }

    /// Logs in through the JSON API; panics unless it works.
    pub async fn log_in(&mut self, email: &str, password: &str) {
        let response = self
            .post_json(
                "/api/v1/auth/login",
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
}

pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }
}

/// The SMTP sink `make test` runs (scripts/smtp-sink.py): every message lands as a file.
pub mod mail_sink {
    use std::time::{Duration, Instant};

    pub fn smtp_url() -> String {
        std::env::var("FERROTAPE_TEST_SMTP_URL").expect(
            "FERROTAPE_TEST_SMTP_URL is not set: run the tests with `make test`, which starts an \
             SMTP sink (scripts/smtp-sink.py)",
        )
    }

    fn dir() -> std::path::PathBuf {
        std::env::var("FERROTAPE_TEST_MAIL_DIR")
            .expect("FERROTAPE_TEST_MAIL_DIR is not set: run the tests with `make test`")
            .into()
    }

    /// Every message delivered to `recipient` so far, oldest first.
    pub fn messages_to(recipient: &str) -> Vec<String> {
        let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir())
            .unwrap()
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let to_header = text.lines().any(|line| {
                    line.to_ascii_lowercase().starts_with("to:") && line.contains(recipient)
                });
                to_header.then(|| (entry.metadata().unwrap().modified().unwrap(), text))
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, text)| text).collect()
    }

    /// Waits (up to 20 s) until `count` messages reached `recipient`; returns the newest.
    /// Async: the mail is delivered by a task on the test's own runtime.
    pub async fn wait_for(recipient: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let messages = messages_to(recipient);
            if messages.len() >= count {
                return messages.last().unwrap().clone();
            }
            assert!(
                Instant::now() < deadline,
                "no mail #{count} reached {recipient}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The link in a message that contains `path` (quoted-printable soft breaks undone).
    pub fn link(message: &str, path: &str) -> String {
        let body = message
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        body.split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(path))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no link to {path} in:\n{message}"))
    }
}
