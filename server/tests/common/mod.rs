//! Integration-test harness: boots the real router against a fresh database.
//!
//! Each test gets its own database, cloned from a template that is migrated once per set of
//! migrations (`CREATE DATABASE … TEMPLATE` takes milliseconds), and dropped when the
//! `TestApp` goes away. The cluster comes from `FERROTAPE_TEST_DATABASE_URL`, which `make test`
//! sets to a private embedded PostgreSQL.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ferrotape_server::state::AppState;
use ferrotape_store::PgPool;
use ferrotape_store::db::{self, MIGRATOR};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub pool: PgPool,
    database: String,
    admin: PgConnectOptions,
    _media: tempfile::TempDir,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
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
pub async fn fresh_database() -> (PgPool, String, PgConnectOptions) {
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
    let pool = db::connect(admin.clone().database(&database), 5)
        .await
        .unwrap();
    (pool, database, admin)
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let (pool, database, admin) = fresh_database().await;
        let media_dir = tempfile::tempdir().unwrap();
        let state = AppState {
            leptos_options: LeptosOptions::builder()
                .output_name("ferrotape")
                .site_root("target/site")
                .build(),
            db: pool.clone(),
            media: ferrotape_store::media::LocalMedia::open(media_dir.path()).unwrap(),
        };
        TestApp {
            router: ferrotape_server::router::build(state),
            pool,
            database,
            admin,
            _media: media_dir,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(
            Request::builder()
                .method(Method::GET)
                .uri(path)
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

impl Drop for TestApp {
    fn drop(&mut self) {
        // Drop is synchronous and runs inside the test's runtime, whose reactor owns the pool's
        // sockets: use a fresh connection on a thread and runtime of our own, and let
        // `WITH (FORCE)` end the pool's sessions.
        let admin = self.admin.clone();
        let database = self.database.clone();
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
