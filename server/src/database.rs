//! Getting a migrated connection pool in either mode: the embedded cluster or DATABASE_URL.

use ferrotape_store::PgPool;
use ferrotape_store::config::{CommonArgs, DatabaseSource};
use ferrotape_store::db;
use ferrotape_store::embedded::{DATABASE_NAME, EmbeddedError, EmbeddedPostgres};
use sqlx::postgres::PgConnectOptions;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("the embedded PostgreSQL could not start: {0}")]
    Embedded(#[from] EmbeddedError),
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    InvalidUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Where to connect, plus the embedded cluster when this process owns one.
pub struct DatabaseTarget {
    pub options: PgConnectOptions,
    pub embedded: Option<EmbeddedPostgres>,
}

/// Starts the embedded cluster when needed. Blocking; call it on the main thread (see
/// [`EmbeddedPostgres::start`]).
pub fn prepare(common: &CommonArgs) -> Result<DatabaseTarget, DatabaseError> {
    match common.database_source() {
        DatabaseSource::External { url } => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(DatabaseError::InvalidUrl(
                    "it must start with postgres:// or postgresql://".into(),
                ));
            }
            let options = url
                .parse::<PgConnectOptions>()
                .map_err(|e| DatabaseError::InvalidUrl(e.to_string()))?;
            Ok(DatabaseTarget {
                options,
                embedded: None,
            })
        }
        DatabaseSource::Embedded {
            cluster_dir,
            pg_bin_dir,
        } => {
            let cluster = EmbeddedPostgres::start(&cluster_dir, pg_bin_dir.as_deref())?;
            Ok(DatabaseTarget {
                options: cluster.connect_options(DATABASE_NAME),
                embedded: Some(cluster),
            })
        }
    }
}

/// Connects and brings the schema up to date.
pub async fn connect_and_migrate(
    target: &DatabaseTarget,
    max_connections: u32,
) -> Result<PgPool, DatabaseError> {
    if let Some(cluster) = &target.embedded {
        cluster
            .ensure_database(DATABASE_NAME)
            .await
            .map_err(DatabaseError::Connect)?;
    }
    let pool = db::connect(target.options.clone(), max_connections)
        .await
        .map_err(DatabaseError::Connect)?;
    db::migrate(&pool).await?;
    Ok(pool)
}
