//! `ferrotape-worker`: runs jobs against a shared Postgres, on as many machines as needed.

use std::process::ExitCode;

use clap::Parser;
use ferrotape_store::config::{CommonArgs, DatabaseSource};
use ferrotape_store::db;
use ferrotape_store::startup;
use sqlx::postgres::PgConnectOptions;

/// Ferrotape job worker: claims transcode, subtitle and import jobs from the shared queue.
///
/// Needs DATABASE_URL pointing at the same Postgres as the server. (In the embedded mode the
/// server runs a worker in-process and no separate worker is needed.)
#[derive(Debug, Parser)]
#[command(name = "ferrotape-worker", version)]
struct Cli {
    /// Optional TOML file with the same settings as the flags (keys are the flag names).
    #[arg(long, env = "FERROTAPE_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,

    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    worker: ferrotape_worker::WorkerArgs,
}

fn main() -> ExitCode {
    // The worker starts this program again to run Whisper in a process of its own.
    if let Some(code) = ferrotape_worker::transcribe::decoder::child_main_if_asked() {
        return code;
    }
    let cli: Cli = startup::parse_args("ferrotape-worker");
    startup::init_logging("ferrotape-worker", &cli.common);
    let DatabaseSource::External { url } = cli.common.database_source() else {
        eprintln!(
            "ferrotape-worker: DATABASE_URL is not set. A separate worker must share the server's \
             Postgres; in the embedded mode the server already runs a worker in-process."
        );
        return ExitCode::from(2);
    };
    let options: PgConnectOptions = match url.parse() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("ferrotape-worker: DATABASE_URL is not a valid PostgreSQL URL: {err}");
            return ExitCode::from(2);
        }
    };
    // Local storage only works for workers that share the server's disk (one machine, or a
    // network file system); S3 is the way to spread workers over machines.
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async move {
        let media = match cli.common.open_media().await {
            Ok(media) => media.shared(),
            Err(err) => {
                eprintln!("ferrotape-worker: {err}");
                return ExitCode::from(2);
            }
        };
        let pool = match db::connect(options, cli.common.db_max_connections).await {
            Ok(pool) => pool,
            Err(err) => {
                tracing::error!(%err, "cannot connect to the database");
                return ExitCode::FAILURE;
            }
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shutdown = ferrotape_worker::shutdown_signal();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let config = ferrotape_worker::WorkerConfig::from(&cli.worker);
        ferrotape_worker::run(pool, media, config, stopped).await;
        ExitCode::SUCCESS
    })
}
