//! Test support (feature `test-support`, for the workspace's tests only): a fresh, migrated
//! database per test, cloned from a template that is migrated once per set of migrations
//! (`CREATE DATABASE … TEMPLATE` takes milliseconds) and dropped when the handle goes away. The
//! cluster comes from `FERROTAPE_TEST_DATABASE_URL`, which `make test` sets to a private
//! embedded PostgreSQL.

use std::hash::{DefaultHasher, Hash, Hasher};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgPool};

use crate::db::{self, MIGRATOR};

/// A database of its own for one test; dropped (connections and all) with this handle.
pub struct TestDatabase {
    pub pool: PgPool,
    pub name: String,
    admin: PgConnectOptions,
}

impl TestDatabase {
    /// A fresh, migrated, empty database (only the default tenant exists).
    pub async fn create() -> TestDatabase {
        let (pool, name, admin) = fresh_database().await;
        TestDatabase { pool, name, admin }
    }

    /// A URL of this database, for running the binaries against it.
    pub fn url(&self) -> String {
        let url = std::env::var("FERROTAPE_TEST_DATABASE_URL").unwrap();
        let (base, query) = url.split_once('?').unwrap_or((&url, ""));
        let (server, _) = base.rsplit_once('/').unwrap();
        format!("{server}/{}?{query}", self.name)
    }
}

fn admin_options() -> PgConnectOptions {
    let url = std::env::var("FERROTAPE_TEST_DATABASE_URL").expect(
        "FERROTAPE_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a \
         private PostgreSQL, or point it at a cluster where you may create databases",
    );
    url.parse::<PgConnectOptions>()
        .expect("FERROTAPE_TEST_DATABASE_URL is not a valid URL")
}

/// The template's name changes whenever a migration does, so a stale template is never used.
fn template_name() -> String {
    let mut hasher = DefaultHasher::new();
    for migration in MIGRATOR.iter() {
        migration.version.hash(&mut hasher);
        migration.checksum.hash(&mut hasher);
    }
    format!("ferrotape_template_{:016x}", hasher.finish())
}

/// Runs one statement on an admin connection; a failure names the statement.
async fn exec(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn ensure_template(admin: &PgConnectOptions) -> String {
    let name = template_name();
    let mut conn = sqlx::PgConnection::connect_with(&admin.clone().database("postgres"))
        .await
        .unwrap();
    // Test processes run in parallel: one builds the template, the others wait for it.
    exec(&mut conn, "SELECT pg_advisory_lock(7357)").await;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !exists {
        let building = format!("{name}_building");
        exec(&mut conn, &format!("DROP DATABASE IF EXISTS {building}")).await;
        exec(&mut conn, &format!("CREATE DATABASE {building}")).await;
        let pool = db::connect(admin.clone().database(&building), 2)
            .await
            .unwrap();
        db::migrate(&pool).await.unwrap();
        pool.close().await;
        exec(
            &mut conn,
            &format!("ALTER DATABASE {building} RENAME TO {name}"),
        )
        .await;
    }
    exec(&mut conn, "SELECT pg_advisory_unlock(7357)").await;
    conn.close().await.unwrap();
    name
}

/// A fresh, migrated, empty database (only the default tenant exists).
async fn fresh_database() -> (PgPool, String, PgConnectOptions) {
    let admin = admin_options();
    let template = ensure_template(&admin).await;
    let database = format!("ferrotape_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect_with(&admin.clone().database("postgres"))
        .await
        .unwrap();
    exec(
        &mut conn,
        &format!("CREATE DATABASE {database} TEMPLATE {template}"),
    )
    .await;
    conn.close().await.unwrap();
    // Room for the three LISTEN connections, the analytics writer and a few requests.
    let pool = db::connect(admin.clone().database(&database), 10)
        .await
        .unwrap();
    (pool, database, admin)
}

/// The address tests pretend the site runs at (Host and Origin of every request).
pub const SITE: &str = "127.0.0.1:3000";

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop is synchronous and runs inside the test's runtime, whose reactor owns the pool's
        // sockets: use a fresh connection on a thread and runtime of our own, and let
        // `WITH (FORCE)` end the pool's sessions.
        let admin = self.admin.clone();
        let database = self.name.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    if let Ok(mut conn) =
                        sqlx::PgConnection::connect_with(&admin.database("postgres")).await
                    {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                })
        })
        .join();
    }
}
