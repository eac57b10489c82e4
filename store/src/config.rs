//! Configuration shared by the `ferrotape` server and `ferrotape-worker` binaries.
//!
//! Precedence, highest first: command-line flags, environment variables (`FERROTAPE_*`,
//! `DATABASE_URL`), the optional TOML file (`--config` / `FERROTAPE_CONFIG`), built-in defaults.
//! The defaults give the embedded mode: data under `./data`, an embedded PostgreSQL cluster,
//! local file storage.

use std::path::{Path, PathBuf};

use clap::{ValueEnum, builder::PossibleValue};
use thiserror::Error;

#[derive(Debug, Clone, clap::Args, Default)]
pub struct CommonArgs {
    /// Directory for the embedded database (`postgres/`) and local media (`media/`).
    #[arg(
        long,
        env = "FERROTAPE_DATA_DIR",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// PostgreSQL connection URL. When unset, an embedded cluster under DATA_DIR/postgres is
    /// created and started by the server.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where media objects live. Default: `s3` when FERROTAPE_S3_BUCKET is set, else `local`.
    #[arg(long, env = "FERROTAPE_STORAGE", value_name = "KIND")]
    pub storage: Option<StorageKind>,

    #[command(flatten)]
    pub s3: crate::s3::S3Args,

    /// Directory holding PostgreSQL's `initdb` and `postgres` (embedded mode). Found
    /// automatically under /usr/lib/postgresql when unset.
    #[arg(long, env = "FERROTAPE_PG_BIN_DIR", value_name = "DIR")]
    pub pg_bin_dir: Option<PathBuf>,

    /// Maximum connections in the database pool.
    #[arg(long, env = "FERROTAPE_DB_MAX_CONNECTIONS", value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Log line format.
    #[arg(
        long,
        env = "FERROTAPE_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Log filter in tracing's EnvFilter syntax, for example `info,ferrotape=debug`.
    #[arg(
        long,
        env = "FERROTAPE_LOG",
        value_name = "FILTER",
        default_value = "info,sqlx::postgres::notice=warn"
    )]
    pub log: String,
}

/// Object storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    #[default]
    Local,
    S3,
}

impl ValueEnum for StorageKind {
    fn value_variants<'a>() -> &'a [Self] {
        &[StorageKind::Local, StorageKind::S3]
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            StorageKind::Local => {
                Some(PossibleValue::new("local").help("files under DATA_DIR/media"))
            }
            StorageKind::S3 => Some(PossibleValue::new("s3").help("an S3 bucket (FERROTAPE_S3_*)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Where the database comes from, decided once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseSource {
    /// A private cluster under this directory, started and stopped by this process.
    Embedded {
        cluster_dir: PathBuf,
        pg_bin_dir: Option<PathBuf>,
    },
    External {
        url: String,
    },
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML: {message}")]
    FileInvalid { path: PathBuf, message: String },
    #[error("unknown setting `{key}` in {path}; known settings: {known}")]
    UnknownKey {
        key: String,
        path: PathBuf,
        known: String,
    },
    #[error("the data directory {path} cannot be used: {reason}")]
    DataDir { path: PathBuf, reason: String },
}

impl CommonArgs {
    pub fn database_source(&self) -> DatabaseSource {
        match self.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => DatabaseSource::External {
                url: url.to_owned(),
            },
            _ => DatabaseSource::Embedded {
                cluster_dir: self.data_dir.join("postgres"),
                pg_bin_dir: self.pg_bin_dir.clone(),
            },
        }
    }

    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }

    pub fn storage_kind(&self) -> StorageKind {
        self.storage.unwrap_or(if self.s3.s3_bucket.is_some() {
            StorageKind::S3
        } else {
            StorageKind::Local
        })
    }

    /// Opens the configured media storage (for S3: checks the bucket, creating it if missing).
    pub async fn open_media(&self) -> Result<crate::media::OpenedMedia, crate::media::MediaError> {
        Ok(match self.storage_kind() {
            StorageKind::Local => {
                crate::media::OpenedMedia::Local(crate::media::LocalMedia::open(&self.media_dir())?)
            }
            StorageKind::S3 => {
                crate::media::OpenedMedia::S3(crate::s3::S3Media::connect(&self.s3).await?)
            }
        })
    }

    /// Creates the data directory if needed and proves it is writable, so a bad path fails at
    /// start-up with its name instead of later inside an upload.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        prepare_writable_dir(&self.data_dir)
    }
}

pub fn prepare_writable_dir(dir: &Path) -> Result<(), ConfigError> {
    let fail = |reason: String| ConfigError::DataDir {
        path: dir.to_owned(),
        reason,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(fail("it exists and is not a directory".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(".ferrotape-write-probe");
    std::fs::write(&probe, b"ok").map_err(|e| fail(format!("not writable: {e}")))?;
    std::fs::remove_file(&probe).map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Loads the optional TOML config file into the process environment, so that clap's `env`
/// handling validates file values exactly like environment values (same parsers, same error
/// messages). Parse with a command built afterwards (see `startup::parse_args`): clap captures
/// env values when a command is built. Keys are the long flag names (`data_dir` or
/// `data-dir`); variables already set in the environment win. Must run before any other thread starts (it calls `set_var`).
pub fn load_config_file(command: &clap::Command) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) =
        config_path_from_args().or_else(|| std::env::var_os("FERROTAPE_CONFIG").map(PathBuf::from))
    else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::FileUnreadable {
        path: path.clone(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::FileInvalid {
        path: path.clone(),
        message: e.message().to_owned(),
    })?;
    let settings: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            Some((
                arg.get_long()?.replace('-', "_"),
                arg.get_env()?.to_str()?.to_owned(),
            ))
        })
        .filter(|(key, _)| key != "config")
        .collect();
    for (key, value) in table {
        let normalized = key.replace('-', "_");
        let Some((_, env_name)) = settings.iter().find(|(k, _)| *k == normalized) else {
            let known = settings
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError::UnknownKey {
                key,
                path: path.clone(),
                known,
            });
        };
        let value = match value {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        if std::env::var_os(env_name).is_none() {
            // SAFETY: called from `main` before the runtime or any other thread exists.
            unsafe { std::env::set_var(env_name, value) };
        }
    }
    Ok(Some(path))
}

/// `--config PATH` or `--config=PATH`, read before clap so the file can feed clap's defaults.
fn config_path_from_args() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_database_url_means_embedded() {
        let args = CommonArgs {
            database_url: Some("  ".into()),
            data_dir: "d".into(),
            ..Default::default()
        };
        assert_eq!(
            args.database_source(),
            DatabaseSource::Embedded {
                cluster_dir: PathBuf::from("d/postgres"),
                pg_bin_dir: None
            }
        );
    }

    #[test]
    fn a_file_where_the_data_dir_should_be_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let err = prepare_writable_dir(&file).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
