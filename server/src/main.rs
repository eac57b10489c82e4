//! `ferrotape`: the server binary.

use std::process::ExitCode;
use std::time::Duration;

use ferrotape_model::TenantId;
use ferrotape_server::cli::{Cli, Command, WorkerMode};
use ferrotape_server::database::{self, DatabaseTarget};
use ferrotape_server::state::{AppState, AppStateInner};
use ferrotape_server::{accounts_setup, admin};
use ferrotape_server::{demo, serve};
use ferrotape_store::config::LogFormat;
use ferrotape_store::embedded::DATABASE_NAME;
use ferrotape_store::startup;

// glibc's malloc took ~9 % of a media request's CPU in `perf`, with its arena locks contended
// between the runtime's threads; mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The worker starts this program again to run Whisper in a process of its own.
    if let Some(code) = ferrotape_worker::transcribe::decoder::child_main_if_asked() {
        return code;
    }
    let cli: Cli = startup::parse_args("ferrotape");
    startup::init_logging("ferrotape", &cli.common);
    let log_format = cli.common.log_format;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line either way: structured for log shippers, plain for people.
            match log_format {
                LogFormat::Json => tracing::error!("{message}"),
                LogFormat::Text => eprintln!("ferrotape: {message}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    cli.common.prepare_data_dir().map_err(|e| e.to_string())?;
    match cli.command.clone().unwrap_or(Command::Serve) {
        Command::Serve => serve_site(cli),
        Command::Migrate => with_database(&cli, |_, _| async { Ok(()) }),
        Command::Admin(command) => {
            let config = accounts_setup::accounts_config(&cli.accounts);
            with_database(&cli, |pool, _| async move {
                admin::run(pool, config, command).await
            })
        }
        Command::SeedDemo { no_videos } => with_database(&cli, |pool, _| async move {
            let added = demo::seed(&pool, TenantId::DEFAULT, !no_videos)
                .await
                .map_err(|e| e.to_string())?;
            println!("seed-demo: added {added} demo talks");
            Ok(())
        }),
        Command::ImportVideo { talk, tenant, file } => {
            let tools = ferrotape_worker::WorkerConfig::from(&cli.worker).tools;
            let common = cli.common.clone();
            with_database(&cli, |pool, _| async move {
                let media = common.open_media().await.map_err(|e| e.to_string())?;
                let tenant = tenant.map(TenantId).unwrap_or(TenantId::DEFAULT);
                let imported = ferrotape_server::import::import_video(
                    &pool,
                    media.shared().as_ref(),
                    &tools,
                    tenant,
                    &talk,
                    &file,
                )
                .await?;
                println!(
                    "import-video: video {} ({:.1} s) attached to `{talk}`; transcode job {} queued",
                    imported.video,
                    imported.duration_ms as f64 / 1000.0,
                    imported.job
                );
                Ok(())
            })
        }
        Command::EmbeddedPostgres { url_file } => {
            let target = database::prepare(&cli.common).map_err(|e| e.to_string())?;
            let cluster = target
                .embedded
                .as_ref()
                .ok_or("embedded-postgres cannot be used with DATABASE_URL set")?;
            let url = cluster.url(DATABASE_NAME);
            runtime()?.block_on(async {
                cluster
                    .ensure_database(DATABASE_NAME)
                    .await
                    .map_err(|e| e.to_string())?;
                let shutdown = ferrotape_worker::shutdown_signal();
                if let Some(file) = &url_file {
                    let partial = file.with_extension("partial");
                    std::fs::write(&partial, &url)
                        .and_then(|()| std::fs::rename(&partial, file))
                        .map_err(|e| e.to_string())?;
                }
                println!("{url}");
                shutdown.await;
                Ok::<(), String>(())
            })?;
            drop(target);
            Ok(())
        }
    }
}

/// Runs `work` with a migrated pool, then shuts everything down in order.
fn with_database<F, Fut>(cli: &Cli, work: F) -> Result<(), String>
where
    F: FnOnce(ferrotape_store::PgPool, &DatabaseTarget) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    // Started on the main thread, which outlives the cluster (see EmbeddedPostgres::start).
    let target = database::prepare(&cli.common).map_err(|e| e.to_string())?;
    let result = runtime()?.block_on(async {
        let pool = database::connect_and_migrate(&target, cli.common.db_max_connections)
            .await
            .map_err(|e| e.to_string())?;
        let result = work(pool.clone(), &target).await;
        pool.close().await;
        result
    });
    if let Some(cluster) = target.embedded {
        cluster.stop().map_err(|e| e.to_string())?;
    }
    result
}

fn serve_site(cli: Cli) -> Result<(), String> {
    // Bind before anything slow so "port in use" fails fast and clearly.
    let listener = std::net::TcpListener::bind(cli.server.bind).map_err(|e| {
        format!(
            "cannot listen on {}: {e} (set FERROTAPE_BIND or --bind to another address)",
            cli.server.bind
        )
    })?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let metrics_listener = match cli.server.metrics_bind {
        Some(address) => {
            let metrics = std::net::TcpListener::bind(address).map_err(|e| {
                format!("cannot listen on {address} for /metrics: {e} (FERROTAPE_METRICS_BIND)")
            })?;
            metrics.set_nonblocking(true).map_err(|e| e.to_string())?;
            Some(metrics)
        }
        None => None,
    };
    let metrics_token = cli.server.metrics_token.clone();
    let live_hooks = std::sync::Arc::new(ferrotape_server::api::live_hooks::LiveHooks::new(
        cli.server.live_hook_secret.as_deref(),
        &cli.server.live_app,
    ));
    let leptos_options = serve::leptos_options(&cli.server);
    let embedded = cli
        .common
        .database_url
        .as_deref()
        .is_none_or(|url| url.trim().is_empty());
    let in_process_worker = match cli.server.in_process_worker {
        WorkerMode::On => true,
        WorkerMode::Off => false,
        WorkerMode::Auto => embedded,
    };
    let ingest = live_ingest(&cli, embedded, &live_hooks)?;

    let grace = Duration::from_secs(cli.server.shutdown_grace_secs);
    let timeouts = ferrotape_server::connections::Timeouts {
        send: Duration::from_secs(cli.server.send_timeout_secs),
        header_read: Duration::from_secs(cli.server.header_read_timeout_secs),
    };
    let live_reconnect_secs = i64::from(cli.server.live_reconnect_secs);
    let page_cache_ttl = Duration::from_millis(cli.server.page_cache_ms);
    let page_cache_max_bytes = cli.server.page_cache_max_bytes;
    let media_cache_bytes = cli.server.media_cache_bytes;
    let in_process_worker = in_process_worker.then(|| {
        let mut config = ferrotape_worker::WorkerConfig {
            shutdown_grace: grace,
            ..ferrotape_worker::WorkerConfig::from(&cli.worker)
        };
        // The server's worker finds the provisioned model in the server's own data dir.
        if cli.worker.whisper_model.is_none() {
            config.transcribe.model =
                ferrotape_worker::transcribe::whisper::default_model_path(&cli.common.data_dir);
        }
        config
    });
    let accounts_config = ferrotape_accounts::AccountsConfig {
        // Only the embedded default logs held mail with its links: there the log is the
        // newcomer's inbox; anywhere else logs are shared.
        log_held_mail: embedded,
        ..accounts_setup::accounts_config(&cli.accounts)
    };
    let http = accounts_setup::http_settings(&cli.accounts, cli.server.bind)?;
    let tools = ferrotape_worker::WorkerConfig::from(&cli.worker).tools;
    let live_transcoders = live_transcoders(&cli, ingest.as_ref(), &tools);
    let live_ingest = ingest
        .as_ref()
        .map(|ingest| ferrotape_model::live::IngestAddress {
            port: ingest.rtmp_bind.port(),
            app: ingest.app.clone(),
        });
    let imports = std::sync::Arc::new(
        ferrotape_worker::WorkerConfig::from(&cli.worker)
            .import
            .policy,
    );
    let common = cli.common.clone();
    let uploads = cli.uploads.settings();
    let analytics = cli.analytics.settings();
    with_database(&cli, |db, _| async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let served_media = common.open_media().await.map_err(|e| e.to_string())?;
        let media = served_media.shared();
        tracing::info!(storage = media.backend(), "media storage ready");
        let accounts = ferrotape_accounts::Accounts::new(db.clone(), accounts_config)
            .await
            .map_err(|e| e.to_string())?;
        if accounts.holds_mail() {
            let also = if embedded { " and in this log" } else { "" };
            tracing::info!(
                "no SMTP server configured (FERROTAPE_SMTP_URL): account mail is kept at /admin/outbox{also}"
            );
        }
        let analytics = ferrotape_server::analytics::Analytics::start(
            db.clone(),
            &analytics,
            ferrotape_server::analytics::spool::Spool::in_data_dir(&common.data_dir),
        );
        let state = AppState::new(AppStateInner {
            analytics,
            leptos_options,
            db,
            media,
            served_media,
            tools,
            uploads,
            imports,
            accounts,
            http: std::sync::Arc::new(http),
            job_events: ferrotape_server::job_events::JobEvents::new(),
            video_events: ferrotape_server::video_events::VideoEvents::new(),
            platform_events: ferrotape_server::platform_events::PlatformEvents::new(),
            page_cache: std::sync::Arc::new(
                ferrotape_server::page_cache::PageCache::with_max_bytes(
                    page_cache_ttl,
                    page_cache_max_bytes,
                ),
            ),
            host_tenants: std::sync::Arc::default(),
            media_files: std::sync::Arc::new(ferrotape_server::media_files::MediaFiles::new(
                media_cache_bytes,
            )),
            media_visibility: std::sync::Arc::new(
                ferrotape_server::media_visibility::MediaVisibility::new(),
            ),
            metrics_access: std::sync::Arc::new(
                ferrotape_server::metrics_access::MetricsAccess::new(
                    metrics_token.as_deref(),
                    metrics_listener.is_some(),
                ),
            ),
            live_hooks,
            live_transcoders,
            live_viewers: std::sync::Arc::default(),
            live_ingest,
        });
        if let Some(metrics) = metrics_listener {
            let metrics = tokio::net::TcpListener::from_std(metrics).map_err(|e| e.to_string())?;
            tokio::spawn(serve::metrics_listener(metrics, state.clone(), timeouts));
        }
        serve::run(
            listener,
            state,
            in_process_worker,
            ingest,
            live_reconnect_secs,
            grace,
            timeouts,
        )
        .await
        .map_err(|e| e.to_string())
    })
}

/// The supervised RTMP ingest's settings, when it runs: `auto` in the embedded mode when nginx
/// and its RTMP module are installed, `on` always (or a clear error).
fn live_ingest(
    cli: &Cli,
    embedded: bool,
    hooks: &ferrotape_server::api::live_hooks::LiveHooks,
) -> Result<Option<ferrotape_server::live::ingest::IngestSettings>, String> {
    use ferrotape_server::live::ingest;
    let wanted = match cli.server.live_ingest {
        WorkerMode::On => true,
        WorkerMode::Off => false,
        WorkerMode::Auto => embedded,
    };
    if !wanted {
        return Ok(None);
    }
    if let Some(missing) = ingest::missing_parts(&cli.server.nginx, &cli.server.rtmp_module) {
        if cli.server.live_ingest == WorkerMode::On {
            return Err(format!(
                "FERROTAPE_LIVE_INGEST=on, but {missing}: install the Debian packages nginx and \
                 libnginx-mod-rtmp (make run does), or set FERROTAPE_NGINX / FERROTAPE_RTMP_MODULE"
            ));
        }
        tracing::info!(
            "live streaming ingest off: {missing} (install nginx and libnginx-mod-rtmp)"
        );
        return Ok(None);
    }
    // nginx calls this server on the address it listens on, loopback for a wildcard.
    let mut hooks_at = cli.server.bind;
    if hooks_at.ip().is_unspecified() {
        hooks_at.set_ip(match hooks_at {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(Some(ingest::IngestSettings {
        nginx: cli.server.nginx.clone(),
        module: cli.server.rtmp_module.clone(),
        prefix: cli.common.data_dir.join("live").join("nginx"),
        rtmp_bind: cli.server.rtmp_bind,
        hooks_origin: format!("http://{hooks_at}"),
        hook_secret: hooks.ingest_secret().to_owned(),
        app: cli.server.live_app.clone(),
    }))
}

/// The live transcoder, reading pushes from `FERROTAPE_LIVE_PULL` or the supervised ingest.
fn live_transcoders(
    cli: &Cli,
    ingest: Option<&ferrotape_server::live::ingest::IngestSettings>,
    tools: &ferrotape_worker::MediaTools,
) -> Option<std::sync::Arc<ferrotape_server::live::transcoder::LiveTranscoders>> {
    use ferrotape_server::live::transcoder::{LiveTranscoders, TranscoderSettings};
    let pull_base =
        cli.server.live_pull.clone().or_else(|| {
            ingest.map(|ingest| format!("rtmp://{}/{}", ingest.rtmp_bind, ingest.app))
        })?;
    Some(LiveTranscoders::new(TranscoderSettings {
        ffmpeg: tools.ffmpeg.clone(),
        ffprobe: tools.ffprobe.clone(),
        pull_base,
        root: cli.common.data_dir.join("live").join("hls"),
        mode: cli.server.live_mode,
        dvr_secs: cli.server.live_dvr_secs,
    }))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
