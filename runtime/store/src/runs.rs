//! Runs and their logs. Every transition is one committed statement.

use lever_sandbox::LogLine;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms, parse_json};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Accepted, waiting for a worker.
    Pending,
    /// A worker is executing it.
    Running,
    /// Finished with an output.
    Succeeded,
    /// Finished with an error.
    Failed,
}

impl RunStatus {
    /// The stored and reported spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => RunStatus::Pending,
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            other => return Err(StoreError::Corrupt { what: "runs.status", error: format!("unknown status `{other}`") }),
        })
    }

    /// Whether the run is over.
    pub fn is_final(&self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// What a new run needs.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Action name.
    pub action: String,
    /// Resolved action version.
    pub action_version: String,
    /// Validated input.
    pub input: serde_json::Value,
    /// Who asked.
    pub requester: String,
    /// Target environment.
    pub environment: String,
}

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// Action name.
    pub action: String,
    /// Action version.
    pub action_version: String,
    /// Status.
    pub status: RunStatus,
    /// Input.
    pub input: serde_json::Value,
    /// Output, once succeeded.
    pub output: Option<serde_json::Value>,
    /// Error (`{"kind", "message"}`), once failed.
    pub error: Option<serde_json::Value>,
    /// Who asked.
    pub requester: String,
    /// Target environment.
    pub environment: String,
    /// How many times a worker started it (more than 1 after a crash).
    pub attempt: i64,
    /// Created at (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// One stored log line.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    /// Position in the run's log.
    pub seq: i64,
    /// The line.
    #[serde(flatten)]
    pub line: LogLine,
}

const COLUMNS: &str =
    "id, action, action_version, status, input, output, error, requester, environment, attempt, created_at, updated_at";

fn record(row: &AnyRow) -> Result<RunRecord, StoreError> {
    let optional = |i: usize, what: &'static str| -> Result<Option<serde_json::Value>, StoreError> {
        row.try_get::<Option<String>, _>(i)?.map(|t| parse_json(what, &t)).transpose()
    };
    Ok(RunRecord {
        id: row.try_get(0)?,
        action: row.try_get(1)?,
        action_version: row.try_get(2)?,
        status: RunStatus::parse(&row.try_get::<String, _>(3)?)?,
        input: parse_json("runs.input", &row.try_get::<String, _>(4)?)?,
        output: optional(5, "runs.output")?,
        error: optional(6, "runs.error")?,
        requester: row.try_get(7)?,
        environment: row.try_get(8)?,
        attempt: row.try_get(9)?,
        created_at: row.try_get(10)?,
        updated_at: row.try_get(11)?,
    })
}

impl Store {
    /// Inserts a `pending` run and returns it.
    pub async fn create_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO runs (id, action, action_version, status, input, requester, environment, attempt, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, 0, $7, $7)",
        )
        .bind(&id)
        .bind(&run.action)
        .bind(&run.action_version)
        .bind(run.input.to_string())
        .bind(&run.requester)
        .bind(&run.environment)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(self.run(&id).await?.expect("the run just inserted exists"))
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
        sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?.as_ref().map(record).transpose()
    }

    /// The most recent runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs ORDER BY created_at DESC, id DESC LIMIT $1");
        sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?.iter().map(record).collect()
    }

    /// Ids of runs not finished (`pending` or `running`), oldest first: what a restarted
    /// server must pick up again.
    pub async fn unfinished_runs(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM runs WHERE status IN ('pending', 'running') ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Moves a run to `running` and counts the attempt; fails if it is already finished.
    pub async fn start_run(&self, id: &str) -> Result<RunRecord, StoreError> {
        let changed = sqlx::query(
            "UPDATE runs SET status = 'running', attempt = attempt + 1, updated_at = $2 \
             WHERE id = $1 AND status IN ('pending', 'running')",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        let run = self.run(id).await?.ok_or_else(|| StoreError::StaleStatus {
            id: id.into(),
            expected: "pending".into(),
            actual: "missing".into(),
        })?;
        if changed == 0 {
            return Err(StoreError::StaleStatus { id: id.into(), expected: "pending".into(), actual: run.status.as_str().into() });
        }
        Ok(run)
    }

    /// Records the end of a `running` run, with its output or its error.
    pub async fn finish_run(
        &self,
        id: &str,
        outcome: Result<&serde_json::Value, &serde_json::Value>,
    ) -> Result<(), StoreError> {
        let (status, output, error) = match outcome {
            Ok(output) => (RunStatus::Succeeded, Some(output.to_string()), None),
            Err(error) => (RunStatus::Failed, None, Some(error.to_string())),
        };
        let changed = sqlx::query("UPDATE runs SET status = $2, output = $3, error = $4, updated_at = $5 WHERE id = $1 AND status = 'running'")
            .bind(id)
            .bind(status.as_str())
            .bind(output)
            .bind(error)
            .bind(now_ms())
            .execute(&self.pool)
            .await?
            .rows_affected();
        if changed == 0 {
            let actual = self.run(id).await?.map(|r| r.status.as_str().to_string()).unwrap_or_else(|| "missing".into());
            return Err(StoreError::StaleStatus { id: id.into(), expected: "running".into(), actual });
        }
        Ok(())
    }

    /// Appends lines to a run's log, in one transaction.
    pub async fn append_logs(&self, run_id: &str, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?;
        for (i, line) in lines.iter().enumerate() {
            sqlx::query("INSERT INTO run_logs (run_id, seq, at_ms, source, level, message) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(run_id)
                .bind(next + 1 + i as i64)
                .bind(line.at_ms)
                .bind(&line.source)
                .bind(&line.level)
                .bind(&line.message)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A run's log, in order.
    pub async fn run_logs(&self, run_id: &str) -> Result<Vec<LogRecord>, StoreError> {
        let rows = sqlx::query("SELECT seq, at_ms, source, level, message FROM run_logs WHERE run_id = $1 ORDER BY seq")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(LogRecord {
                    seq: row.try_get(0)?,
                    line: LogLine { at_ms: row.try_get(1)?, source: row.try_get(2)?, level: row.try_get(3)?, message: row.try_get(4)? },
                })
            })
            .collect()
    }
}
