//! The durable store: sqlx over SQLite (the embedded default, WAL) or PostgreSQL, with the
//! same migration versions for both (`migrations/sqlite`, `migrations/postgres`).
//!
//! Every write that changes what a client can observe is committed before the call returns,
//! so a status the API reports has always reached the database first.

mod approvals;
mod audit;
mod audit_anchor;
mod clock;
mod events;
mod group_commit;
mod inbox;
mod insights;
mod leases;
mod plugins;
mod policies;
mod ratings;
mod resources;
mod run_pages;
mod runs;
mod sessions;
mod state;
mod status;
mod step_http;
mod steps;
mod templates;
mod tokens;
mod transitions;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use approvals::{
    ApprovalMeasures, DecideOutcome, DecisionRecord, GateState, NewApproval, NewStage,
    NotificationRecord, StageMeasure, StageRecord, StageStatus, StageTimer,
};
pub use audit::{AuditEntry, AuditRecord, AuditVerification};
pub use audit_anchor::{ANCHOR_FILE, Anchor, AuditAnchor};
pub use clock::{Clock, ManualClock, SystemClock};
pub use inbox::{InboxEntry, InboxLink, NewInboxEntry};
pub use insights::{
    DurationStats, FailedRun, FailureKind, RatingFact, RatingSummary, RunAggregates, RunScope,
    StageWaits, duration_bin, duration_bin_value,
};
pub use leases::{Lease, RunClaim};
pub use plugins::{PluginRecord, PublishOutcome};
pub use policies::PolicyRecord;
pub use ratings::RatingRecord;
pub use resources::{Claim, NewResource, ResourceFilter, ResourceRecord, state as resource_state};
pub use run_pages::{RunOrder, RunPageFilter};
pub use runs::{LogRecord, NewRun, Pin, RunRecord, RunSecrets, RunStatus};
pub use sessions::{OidcLoginRecord, SessionRecord};
pub use steps::{EventRecord, StepRecord, StepStatus, StepUpdate};
pub use templates::{NewBundle, NewTemplate, NewTemplateFile, TemplateRecord};
pub use tokens::TokenRecord;
pub use transitions::{StepChange, StepEnd, StepStart};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one Lever understands.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl(String),
    /// `name@version` already exists with different bytes.
    #[error(
        "{name}@{version} is already published with different content (sha256 {existing}); versions are immutable, publish a new version"
    )]
    VersionConflict {
        /// Plugin name.
        name: String,
        /// Its version.
        version: String,
        /// The digest already stored.
        existing: String,
    },
    /// `name@version` exists with the same bytes but other grants or limits than asked for.
    #[error(
        "{name}@{version} is already published from these bytes with {grants} and limits {limits}; a published version keeps its grants and limits: publish these as a new version (bump the version in the plugin's manifest) to change them"
    )]
    SettingsConflict {
        /// Plugin name.
        name: String,
        /// Its version.
        version: String,
        /// The grants the published version has.
        grants: String,
        /// Its limits, as JSON.
        limits: String,
    },
    /// A status transition that is not allowed from the current state.
    #[error("run {id} is {actual}, expected {expected}")]
    StaleStatus {
        /// The run.
        id: String,
        /// What the caller expected.
        expected: String,
        /// What it is.
        actual: String,
    },
    /// A request the current state does not allow (a decision on a closed stage, a second
    /// decision by the same person).
    #[error("{0}")]
    Refused(String),
    /// Migration failure.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored JSON column did not parse.
    #[error("corrupt stored value in {what}: {error}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// Parser message.
        error: String,
    },
    /// This node's lease on a run ran out and another node claimed it: this node must stop
    /// executing the run.
    #[error("run {0} is now held by another node")]
    LeaseLost(String),
    /// A file beside the database (the audit anchor) could not be written.
    #[error("{0}")]
    Io(String),
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// Writes: on SQLite one connection of its own, so writers queue in process.
    writer: AnyPool,
    backend: Backend,
    /// How committed run events reach the event streams of this process.
    events: std::sync::Arc<events::Delivery>,
    /// On SQLite, the queue that commits many runs' transitions together.
    group: Option<std::sync::Arc<group_commit::GroupCommit>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`), creating an SQLite file if
    /// needed, and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options =
            AnyConnectOptions::from_str(&url)?.log_statements(tracing::log::LevelFilter::Trace);
        let pool = pool_options(backend, 8)
            .connect_with(options.clone())
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        // SQLite has one writer at a time: writes queue for the one write connection in
        // process, in order, instead of meeting SQLite's lock and its busy handler, which
        // sleeps 1, 2, 5, 10… ms between tries. PostgreSQL writes share the pool.
        let writer = match backend {
            Backend::Sqlite => pool_options(backend, 1).connect_with(options).await?,
            Backend::Postgres => pool.clone(),
        };
        let events = std::sync::Arc::new(events::Delivery::default());
        if backend == Backend::Postgres {
            events::listen(&url, &events);
        }
        Ok(Self {
            pool,
            writer,
            backend,
            events,
            group: (backend == Backend::Sqlite).then(std::sync::Arc::default),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// The pool settings: `sqlite_connections` on SQLite (16 on PostgreSQL), and each SQLite
/// connection's pragmas.
fn pool_options(backend: Backend, sqlite_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(match backend {
            Backend::Sqlite => sqlite_connections,
            Backend::Postgres => 16,
        })
        .acquire_timeout(Duration::from_secs(30))
        // An SQLite connection is a file in this process: it cannot go stale as a socket can,
        // so it is not pinged on every acquire (a round trip to its worker thread, before each
        // transaction and each read). PostgreSQL connections keep the check.
        .test_before_acquire(backend == Backend::Postgres)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL: readers run beside the writer, and a commit appends to the log
                    // instead of rewriting pages. `synchronous = NORMAL`: in WAL mode a commit
                    // does not wait for fsync (the log is synced at checkpoints), so a power
                    // loss may lose the last transactions but never corrupts the file; a
                    // process crash loses nothing. busy_timeout: a writer from another process
                    // (`lever run` on the same data dir) waits instead of failing.
                    // cache_size: 8 MiB of pages per connection at most (the default is 2 MiB), so the
                    // hot tables stay in memory. temp_store: sorts and temporary indexes in
                    // memory.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                         PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        error: e.to_string(),
    })
}

impl Store {
    /// Answers when the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers and holds every migration this build knows; the reason
    /// when not (the readiness probe).
    pub async fn ready(&self) -> Result<(), String> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let expected = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| format!("the database does not answer: {e}"))?;
        match applied {
            Some(version) if version >= expected => Ok(()),
            other => Err(format!(
                "the database is at migration {} but this build needs {expected}",
                other.unwrap_or(0)
            )),
        }
    }
}

impl Store {
    /// A transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later cannot
    /// wait for the lock and fails at once with "database is locked" under contention.
    async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }
}
