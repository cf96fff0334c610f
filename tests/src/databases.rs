//! Fresh databases for store tests: an SQLite file in a temp dir, or a new PostgreSQL
//! database on the server `LEVER_TEST_POSTGRES` names.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

/// Where the PostgreSQL tests find their server.
pub fn postgres_admin_url() -> String {
    std::env::var("LEVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database that lives as long as this value.
pub struct TestDatabase {
    /// Its sqlx URL.
    pub url: String,
    _dir: Option<TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// A new SQLite file.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("lever.db").display());
        Self {
            url,
            _dir: Some(dir),
            postgres_name: None,
        }
    }

    /// A new, empty PostgreSQL database. Panics, saying how to fix it, when no server answers.
    pub async fn postgres() -> Self {
        let admin = postgres_admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL tests need a server, and none answered at {admin}: {e}. \
                 Start one, or set LEVER_TEST_POSTGRES=postgres://USER@HOST:PORT/DB to point the tests at one."
            )
        });
        let name = format!("lever_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Self {
            url: format!("{base}/{name}"),
            _dir: None,
            postgres_name: Some(name),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // Best effort, on its own thread: Drop cannot await and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A name no other test (or earlier CI run) uses: `prefix` plus eight hex digits, within the
/// templates' `^[a-z][a-z0-9-]{2,30}$`.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Whether the local PostgreSQL server has database `object` (`<name>_<env>`, as the built-in
/// provider names it).
pub async fn provisioned_exists(object: &str) -> bool {
    let mut admin = PgConnection::connect(&postgres_admin_url())
        .await
        .expect("connect to PostgreSQL as admin");
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(object)
        .fetch_one(&mut admin)
        .await
        .expect("query pg_database")
}

/// Drops what the built-in provider created for `object`, so tests leave the server clean.
pub async fn drop_provisioned(object: &str) {
    let mut admin = PgConnection::connect(&postgres_admin_url())
        .await
        .expect("connect to PostgreSQL as admin");
    let _ = sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{object}\" WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await;
    let _ = sqlx::query(&format!("DROP ROLE IF EXISTS \"{object}\""))
        .execute(&mut admin)
        .await;
}
