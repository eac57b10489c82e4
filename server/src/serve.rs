//! Serving: the Leptos options, the in-process worker and graceful shutdown.

use std::path::Path;
use std::time::Duration;

use leptos::config::Env;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::ServerArgs;
use crate::router;
use crate::state::AppState;

/// The name cargo-leptos gives the bundle (`[[workspace.metadata.leptos]] name`).
pub const OUTPUT_NAME: &str = "ferrotape";

pub fn leptos_options(args: &ServerArgs) -> LeptosOptions {
    for name in [OUTPUT_NAME, ferrotape_app::islands::VIEWER_BUNDLE] {
        let bundle = args.site_root.join("pkg").join(format!("{name}.wasm"));
        if !bundle.exists() {
            tracing::warn!(
                missing = %bundle.display(),
                "a browser bundle is missing: pages render but stay static. Build it with \
                 scripts/build-site.sh (make run does) or set FERROTAPE_SITE_ROOT"
            );
        }
    }
    LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(path_str(&args.site_root))
        .site_pkg_dir("pkg")
        .site_addr(args.bind)
        .env(Env::PROD)
        .build()
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Serves /metrics alone on its own listener (`FERROTAPE_METRICS_BIND`) for as long as the
/// process runs, with the same connection timeouts as the site.
pub async fn metrics_listener(
    listener: TcpListener,
    state: AppState,
    timeouts: crate::connections::Timeouts,
) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "metrics on http://{address}/metrics");
    }
    let app = crate::metrics::listener_router(state);
    crate::connections::serve(listener, timeouts, app, std::future::pending()).await;
}

/// Serves until SIGINT/SIGTERM, then stops accepting, lets open requests finish for up to
/// `grace`, and stops the in-process worker, the RTMP ingest and mail delivery. A connection
/// whose client takes no byte for the send timeout, or sends no whole request head within the
/// header read timeout, is closed (`connections`).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    in_process_worker: Option<ferrotape_worker::WorkerConfig>,
    ingest: Option<crate::live::ingest::IngestSettings>,
    live_reconnect_secs: i64,
    grace: Duration,
    timeouts: crate::connections::Timeouts,
) -> std::io::Result<()> {
    let shutdown = ferrotape_worker::shutdown_signal();
    let (stop_background, background_stopped) = watch::channel(false);
    let worker = in_process_worker.map(|config| {
        tokio::spawn(ferrotape_worker::run(
            state.db.clone(),
            state.media.clone(),
            config,
            background_stopped.clone(),
        ))
    });
    let job_events = tokio::spawn(
        state
            .job_events
            .clone()
            .run(state.db.clone(), background_stopped.clone()),
    );
    let video_events = tokio::spawn(
        state
            .video_events
            .clone()
            .run(state.db.clone(), background_stopped.clone()),
    );
    let platform_events = tokio::spawn(
        state
            .platform_events
            .clone()
            .run(state.db.clone(), background_stopped.clone()),
    );
    let rollups = tokio::spawn(crate::analytics::rollup::run(
        state.db.clone(),
        background_stopped.clone(),
    ));
    let ingest = ingest.map(|settings| {
        tokio::spawn(crate::live::ingest::run(
            state.db.clone(),
            settings,
            background_stopped.clone(),
        ))
    });
    let reconnects = tokio::spawn(crate::live::reconnects::run(
        state.db.clone(),
        live_reconnect_secs,
        background_stopped.clone(),
    ));
    let live_viewers = tokio::spawn(
        state
            .live_viewers
            .clone()
            .run(state.db.clone(), background_stopped.clone()),
    );
    let live_transcoders = state.live_transcoders.clone();
    let recordings = tokio::spawn(crate::live::recordings::run(
        state.clone(),
        background_stopped.clone(),
    ));
    // Mail delivery and rate-limit housekeeping run in every server.
    let accounts_background =
        tokio::spawn(state.accounts.clone().run_background(background_stopped));

    let (shutdown_started, mut shutdown_seen) = watch::channel(false);
    let state_analytics = state.analytics.clone();
    let app = router::build(state);
    tracing::info!(address = %listener.local_addr()?, "listening on http://{}", listener.local_addr()?);
    let server = crate::connections::serve(listener, timeouts, app, async move {
        shutdown.await;
        let _ = shutdown_started.send(true);
    });
    let drain_deadline = async move {
        let _ = shutdown_seen.wait_for(|started| *started).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        () = drain_deadline => tracing::warn!(?grace, "open connections did not finish in time; closing them"),
    }

    // Every accepted beacon is written, or spooled for the next start, before we exit.
    state_analytics.shut_down(grace).await;
    let _ = stop_background.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    let _ = accounts_background.await;
    let _ = job_events.await;
    let _ = rollups.await;
    let _ = reconnects.await;
    let _ = live_viewers.await;
    let _ = recordings.await;
    if let Some(transcoders) = live_transcoders {
        transcoders.stop_all();
    }
    if let Some(ingest) = ingest {
        let _ = ingest.await;
    }
    let _ = video_events.await;
    let _ = platform_events.await;
    Ok(())
}
