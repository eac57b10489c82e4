//! Command line and configuration of the `ferrotape` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use ferrotape_store::config::CommonArgs;

/// Ferrotape: a self-hosted video platform for talks.
///
/// With no settings it runs the embedded mode: a private PostgreSQL under ./data/postgres,
/// media under ./data/media, the job worker in-process, the site on http://127.0.0.1:3000.
/// Every flag can also come from its environment variable or from a TOML file given with
/// --config (keys are the flag names, for example `bind = "0.0.0.0:8080"`).
#[derive(Debug, Parser)]
#[command(name = "ferrotape", version)]
pub struct Cli {
    /// Optional TOML file with the same settings as the flags.
    #[arg(long, env = "FERROTAPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub accounts: AccountArgs,

    #[command(flatten)]
    pub uploads: UploadArgs,

    #[command(flatten)]
    pub analytics: AnalyticsArgs,

    /// Settings of the in-process worker (the same as `ferrotape-worker`'s).
    #[command(flatten)]
    pub worker: ferrotape_worker::WorkerArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address and port the site listens on.
    #[arg(
        long,
        env = "FERROTAPE_BIND",
        value_name = "ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub bind: SocketAddr,

    /// Directory with the built browser bundle (pkg/) and public assets, as written by
    /// `cargo leptos build`.
    #[arg(
        long,
        env = "FERROTAPE_SITE_ROOT",
        value_name = "DIR",
        default_value = "target/site"
    )]
    pub site_root: PathBuf,

    /// How long an anonymous viewer may be served a copy of a public page (catalog, watch,
    /// speaker, embed) instead of a fresh render, in milliseconds; 0 turns the cache off.
    /// Signed-in users always get fresh pages.
    #[arg(
        long,
        env = "FERROTAPE_PAGE_CACHE_MS",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub page_cache_ms: u64,

    /// The most bytes of rendered pages the page cache keeps, all tenants together; past it
    /// the oldest pages go first.
    #[arg(
        long,
        env = "FERROTAPE_PAGE_CACHE_MAX_BYTES",
        value_name = "BYTES",
        default_value_t = 64 * 1024 * 1024
    )]
    pub page_cache_max_bytes: usize,

    /// The most bytes of local media files `/media` keeps in memory, least recently used out
    /// first; a kept file is served while it is still the file on disk (one stat per request);
    /// 0 keeps none.
    #[arg(
        long,
        env = "FERROTAPE_MEDIA_CACHE_BYTES",
        value_name = "BYTES",
        default_value_t = crate::media_files::DEFAULT_MAX_BYTES
    )]
    pub media_cache_bytes: usize,

    /// Bearer token /metrics requires (`Authorization: Bearer …`). Without it and without
    /// --metrics-bind, /metrics answers only direct loopback peers (not requests relayed by a
    /// proxy).
    #[arg(
        long,
        env = "FERROTAPE_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,

    /// Serve /metrics on this address only (for example a private interface), not on the
    /// site's; anyone reaching it may read it unless --metrics-token is set too.
    #[arg(long, env = "FERROTAPE_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,

    /// Secret an ingest server not on this machine presents as `?secret=` to the live
    /// webhooks (`/api/v1/live/hooks/…`); without it only direct loopback peers may call them.
    #[arg(
        long,
        env = "FERROTAPE_LIVE_HOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub live_hook_secret: Option<String>,

    /// Run the RTMP ingest (nginx with the RTMP module) under the data dir. `auto` runs it in
    /// the embedded mode when nginx and its RTMP module are installed; `on` refuses to start
    /// without them.
    #[arg(
        long,
        env = "FERROTAPE_LIVE_INGEST",
        value_name = "MODE",
        default_value = "auto"
    )]
    pub live_ingest: WorkerMode,

    /// Where the supervised ingest listens for RTMP pushes (OBS: `rtmp://<this>/live`).
    #[arg(
        long,
        env = "FERROTAPE_RTMP_BIND",
        value_name = "ADDR",
        default_value = "127.0.0.1:1935"
    )]
    pub rtmp_bind: SocketAddr,

    /// The nginx the ingest runs.
    #[arg(
        long,
        env = "FERROTAPE_NGINX",
        value_name = "PATH",
        default_value = "nginx"
    )]
    pub nginx: PathBuf,

    /// nginx's RTMP module.
    #[arg(
        long,
        env = "FERROTAPE_RTMP_MODULE",
        value_name = "PATH",
        default_value = crate::live::ingest::DEBIAN_RTMP_MODULE
    )]
    pub rtmp_module: PathBuf,

    /// Where the live transcoder reads allowed pushes back from, without the key:
    /// `rtmp://ingest.internal:1935/live` for an external nginx-rtmp or MediaMTX (it must let
    /// this machine play). Unset: the supervised ingest's address when it runs, else pushes
    /// are authenticated but not transcoded.
    #[arg(long, env = "FERROTAPE_LIVE_PULL", value_name = "URL")]
    pub live_pull: Option<String>,

    /// `ladder`: up to three encoded renditions with 1 s segments; `passthrough`: the source
    /// as pushed, for machines that cannot encode in real time.
    #[arg(
        long,
        env = "FERROTAPE_LIVE_MODE",
        value_name = "MODE",
        default_value = "ladder"
    )]
    pub live_mode: crate::live::transcoder::LiveMode,

    /// How far back live viewers can seek, in seconds (the playlists' DVR window).
    #[arg(
        long,
        env = "FERROTAPE_LIVE_DVR_SECS",
        value_name = "SECS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u32).range(10..=21600)
    )]
    pub live_dvr_secs: u32,

    /// How long a stream whose push stopped waits for its publisher to come back into the same
    /// session (and playlists) before it ends and its recording becomes a draft talk.
    #[arg(
        long,
        env = "FERROTAPE_LIVE_RECONNECT_SECS",
        value_name = "SECS",
        default_value_t = ferrotape_model::live::RECONNECT_WINDOW_SECS as u32,
        value_parser = clap::value_parser!(u32).range(1..=3600)
    )]
    pub live_reconnect_secs: u32,

    /// The RTMP application streams publish to: `rtmp://<host>/<app>/<stream key>`.
    #[arg(
        long,
        env = "FERROTAPE_LIVE_APP",
        value_name = "NAME",
        default_value = "live"
    )]
    pub live_app: String,

    /// Run the job worker inside the server. `auto` runs it in the embedded mode (no
    /// DATABASE_URL) and leaves it to `ferrotape-worker` machines otherwise.
    #[arg(
        long,
        env = "FERROTAPE_IN_PROCESS_WORKER",
        value_name = "MODE",
        default_value = "auto"
    )]
    pub in_process_worker: WorkerMode,

    /// Seconds to wait for open requests to finish after SIGTERM/SIGINT.
    #[arg(
        long,
        env = "FERROTAPE_SHUTDOWN_GRACE_SECS",
        value_name = "SECS",
        default_value_t = 10
    )]
    pub shutdown_grace_secs: u64,

    /// Seconds a response may wait for its client to take any byte before the connection is
    /// closed (a client that stopped reading, or reads a byte at a time).
    #[arg(
        long,
        env = "FERROTAPE_SEND_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = crate::connections::DEFAULT_SEND_TIMEOUT.as_secs()
    )]
    pub send_timeout_secs: u64,

    /// Seconds a client may take to send a request's head (request line and headers) once it
    /// starts one, or to start one on a new connection; slower ones are disconnected.
    #[arg(
        long,
        env = "FERROTAPE_HEADER_READ_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = crate::connections::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub header_read_timeout_secs: u64,
}

/// Accounts, mail and the HTTP facts the server cannot guess.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountArgs {
    /// SMTP server for account mail, for example `smtp://user:pass@mail.example.com:587?tls=required`
    /// or `smtps://…`. Unset: mail is kept in the outbox (shown at /admin/outbox and logged).
    #[arg(
        long,
        env = "FERROTAPE_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,

    /// Sender of account mail.
    #[arg(
        long,
        env = "FERROTAPE_MAIL_FROM",
        value_name = "MAILBOX",
        default_value = "Ferrotape <no-reply@localhost>"
    )]
    pub mail_from: String,

    /// Key that signs access tokens (at least 32 bytes). Unset: a random key is created in
    /// the database on first start and shared by every server using that database.
    #[arg(
        long,
        env = "FERROTAPE_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,

    /// The site's public URL (`https://talks.example.org`): links in mail for the default
    /// tenant point here. Unset: the address the server listens on.
    #[arg(long, env = "FERROTAPE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Reverse proxies (IP addresses or CIDR ranges, comma-separated) whose X-Forwarded-For,
    /// X-Forwarded-Proto, X-Forwarded-Host and X-Tenant-ID headers are believed.
    #[arg(long, env = "FERROTAPE_TRUSTED_PROXIES", value_name = "CIDRS", value_delimiter = ',',
          value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Behind a front server that serves the media directory at this internal location (the
    /// shipped `deploy/nginx/ferrotape.conf` uses `/_ferrotape_media/`): a `/media` request
    /// relayed by a trusted proxy (FERROTAPE_TRUSTED_PROXIES) is checked here as always and,
    /// when it may be served, answered with `X-Accel-Redirect: <prefix><key>` and its
    /// `Content-Type` and `Cache-Control`, and the front server sends the file. Local storage
    /// only; direct requests still get the bytes from this server.
    #[arg(long, env = "FERROTAPE_MEDIA_ACCEL_REDIRECT", value_name = "PREFIX",
          value_parser = parse_accel_prefix)]
    pub media_accel_redirect: Option<String>,

    /// `Secure` flag on session cookies: `auto` sets it except for plain HTTP on loopback.
    #[arg(
        long,
        env = "FERROTAPE_COOKIE_SECURE",
        value_name = "MODE",
        default_value = "auto"
    )]
    pub cookie_secure: CookieSecure,

    /// Minutes an access token lives (a refresh renews it silently).
    #[arg(long, env = "FERROTAPE_ACCESS_TOKEN_MINUTES", value_name = "MIN", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub access_token_minutes: u64,

    /// Days a login lasts without use.
    #[arg(long, env = "FERROTAPE_SESSION_DAYS", value_name = "DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=365))]
    pub session_days: u64,
}

/// The player's analytics beacons (server only).
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyticsArgs {
    /// The most analytics events a server holds in memory while the database takes them;
    /// when it is full, beacons are refused with 503 and Retry-After (the player sends them
    /// again), so none is lost.
    #[arg(long, env = "FERROTAPE_ANALYTICS_BUFFER_EVENTS", value_name = "N",
          default_value_t = crate::analytics::AnalyticsSettings::default().buffer_events)]
    pub analytics_buffer_events: u32,

    /// Beacon batches one client network (an IPv4 address, an IPv6 /64) may post per second,
    /// with bursts of five times as many; past it they are refused with 429. A watch page
    /// posts one batch every 10 s, so the default leaves room for a large office behind one
    /// address.
    #[arg(long, env = "FERROTAPE_ANALYTICS_BATCHES_PER_SECOND", value_name = "N",
          default_value_t = crate::analytics::AnalyticsSettings::default().batches_per_second)]
    pub analytics_batches_per_second: u32,
}

impl AnalyticsArgs {
    pub fn settings(&self) -> crate::analytics::AnalyticsSettings {
        crate::analytics::AnalyticsSettings {
            buffer_events: self.analytics_buffer_events,
            batches_per_second: self.analytics_batches_per_second,
        }
    }
}

/// Quotas on uploads (server only).
#[derive(Debug, Clone, clap::Args)]
pub struct UploadArgs {
    /// Uploads one user may have open (started, neither completed nor cancelled) at once; one
    /// more is refused with 429 `too_many_open_uploads`. 0: no limit.
    #[arg(long, env = "FERROTAPE_MAX_OPEN_UPLOADS_PER_USER", value_name = "N",
          default_value_t = crate::settings::DEFAULT_MAX_OPEN_UPLOADS_PER_USER)]
    pub max_open_uploads_per_user: u32,

    /// Storage quota of each tenant in GB (10^9 bytes), counting its uploaded sources and open
    /// uploads; an upload that would exceed it is refused with 413 `storage_quota_exceeded`.
    /// 0: no quota.
    #[arg(
        long,
        env = "FERROTAPE_TENANT_STORAGE_QUOTA_GB",
        value_name = "GB",
        default_value_t = 0
    )]
    pub tenant_storage_quota_gb: u64,
}

impl UploadArgs {
    pub fn settings(&self) -> crate::settings::UploadSettings {
        let limit = |n: u64| (n > 0).then_some(n);
        crate::settings::UploadSettings {
            quotas: ferrotape_store::uploads::UploadQuotas {
                open_per_user: limit(u64::from(self.max_open_uploads_per_user)).map(|n| n as u32),
                tenant_storage_bytes: limit(self.tenant_storage_quota_gb)
                    .map(|gb| gb.saturating_mul(1_000_000_000)),
            },
            ..crate::settings::UploadSettings::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CookieSecure {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkerMode {
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the site (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Insert a handful of demo talks and speakers, and queue a short generated video for each
    /// demo talk without one (a worker makes and transcodes them); idempotent.
    SeedDemo {
        /// Only the talks: queue no videos.
        #[arg(long)]
        no_videos: bool,
    },
    /// Attach a video file on this machine to a talk: it is stored, probed and queued for
    /// transcoding (a running server or ferrotape-worker does the work).
    ImportVideo {
        /// The talk's slug.
        #[arg(long)]
        talk: String,
        /// The tenant (default: the default tenant).
        #[arg(long)]
        tenant: Option<uuid::Uuid>,
        /// The video file.
        file: PathBuf,
    },
    /// Administration: users and tenants.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run only the embedded PostgreSQL until SIGTERM; print its URL (tests and tools use it).
    EmbeddedPostgres {
        /// Also write the URL to this file once the database is ready.
        #[arg(long, value_name = "FILE")]
        url_file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create a confirmed user. The password is read from FERROTAPE_NEW_USER_PASSWORD or,
    /// when unset, from the first line of standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// viewer, editor or admin.
        #[arg(long, default_value = "viewer", value_parser = parse_role)]
        role: ferrotape_model::Role,
        /// Tenant slug (the default tenant when unset).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Create a tenant, optionally mapping host names to it.
    CreateTenant {
        /// Lower-case letters, digits and dashes.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// Host names (without port) whose requests belong to this tenant.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// Map another host name to an existing tenant.
    AddHost {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        host: String,
    },
}

fn parse_role(value: &str) -> Result<ferrotape_model::Role, String> {
    ferrotape_model::Role::parse(value)
        .ok_or_else(|| format!("`{value}` is not a role; use viewer, editor or admin"))
}

/// An address (`10.0.0.5`) or a range (`10.0.0.0/8`).
/// An internal location: an absolute path ending in `/`, of characters a URI path may hold.
fn parse_accel_prefix(text: &str) -> Result<String, String> {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-.~".contains(&b));
    if text.starts_with('/') && text.ends_with('/') && plain && !text.contains("..") {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not an internal location such as /_ferrotape_media/ (a path that starts and ends with /)"
        ))
    }
}

fn parse_proxy(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{value}` is not an IP address or CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn upload_quotas_come_from_flags_and_zero_means_no_limit() {
        let defaults = Cli::try_parse_from(["ferrotape"])
            .unwrap()
            .uploads
            .settings();
        assert_eq!(defaults.quotas.open_per_user, Some(10));
        assert_eq!(defaults.quotas.tenant_storage_bytes, None);
        let set = Cli::try_parse_from([
            "ferrotape",
            "--max-open-uploads-per-user",
            "0",
            "--tenant-storage-quota-gb",
            "5",
        ])
        .unwrap()
        .uploads
        .settings();
        assert_eq!(set.quotas.open_per_user, None);
        assert_eq!(set.quotas.tenant_storage_bytes, Some(5_000_000_000));
    }
}
