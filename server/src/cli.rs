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
    /// Insert a handful of demo talks and speakers (idempotent).
    SeedDemo,
    /// Run only the embedded PostgreSQL until SIGTERM; print its URL (tests and tools use it).
    EmbeddedPostgres {
        /// Also write the URL to this file once the database is ready.
        #[arg(long, value_name = "FILE")]
        url_file: Option<PathBuf>,
    },
}
