//! Runs and their logs. Every transition is one committed statement.

use lever_plugin::LogLine;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::status::{sql, sql_list};
use crate::{Store, StoreError, now_ms, parse_json};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Waiting for a timer (retry backoff, poll); holds no worker.
    Waiting,
    /// Paused for a human (a step with `onFailure: manual`).
    Paused,
    /// Undoing completed steps.
    RollingBack,
    /// Every completed step with a rollback was undone.
    RolledBack,
    /// A rollback failed; something is left behind.
    RollbackFailed,
    /// Cancelled on request (after rolling back).
    Cancelled,
    /// Waiting for approvers (the whole run, or the step about to start); holds no worker.
    AwaitingApproval,
    /// An approver rejected it, or its approval expired; nothing ran past the gate.
    Rejected,
}

impl RunStatus {
    /// Every status: those of a run in flight, then those it ends in.
    pub const ALL: [RunStatus; 12] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::AwaitingApproval,
        RunStatus::Paused,
        RunStatus::RollingBack,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Rejected,
        RunStatus::RolledBack,
        RunStatus::RollbackFailed,
    ];

    /// The statuses of a run not finished yet.
    pub const IN_FLIGHT: [RunStatus; 6] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::AwaitingApproval,
        RunStatus::Paused,
        RunStatus::RollingBack,
    ];

    /// The statuses a run ends in (the insights' rollup counts a run once it reaches one; the
    /// migration's triggers name the same list).
    pub const FINISHED: [RunStatus; 6] = [
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Rejected,
        RunStatus::RolledBack,
        RunStatus::RollbackFailed,
    ];

    /// The stored and reported spelling (one place for the database and the API).
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Waiting => "waiting",
            RunStatus::Paused => "paused",
            RunStatus::RollingBack => "rolling-back",
            RunStatus::RolledBack => "rolled-back",
            RunStatus::RollbackFailed => "rollback-failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::AwaitingApproval => "awaiting-approval",
            RunStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        crate::status::parse(&Self::ALL, s, "runs.status")
    }

    /// Whether the run is over.
    pub fn is_final(&self) -> bool {
        Self::FINISHED.contains(self)
    }
}

/// A run's template secrets as stored: one value (a JSON object of name to value) sealed by
/// the secrets store under `name`, which the sealing bound to it.
#[derive(Debug, Clone)]
pub struct RunSecrets {
    /// The name in `secrets`: `lever/run-secrets/` and a fresh id.
    pub name: String,
    /// The sealed value.
    pub sealed: String,
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
    /// Template name and version, for a template run.
    pub template: Option<(String, i64)>,
    /// Client-chosen key: submitting it again returns the same run.
    pub idempotency_key: Option<String>,
    /// The run this one was resubmitted from.
    pub resubmitted_from: Option<String>,
    /// Step ids of a template run, in order.
    pub steps: Vec<String>,
    /// What the approval policy decided; `None` records no route (internal runs).
    pub approval: Option<crate::NewApproval>,
    /// The team the run acts for (the `owner` it names, else the requester's team).
    pub owner_team: Option<String>,
    /// The plugin versions it was previewed with (template runs), committed with it.
    pub pins: Vec<Pin>,
    /// Its template secrets, sealed by the caller, stored with it.
    pub secrets: Option<RunSecrets>,
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
    /// Template name, for a template run.
    pub template: Option<String>,
    /// Template version, for a template run.
    pub template_version: Option<i64>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// The run this one was resubmitted from.
    pub resubmitted_from: Option<String>,
    /// A cancel was asked for: the engine stops at the next step boundary.
    pub cancel_requested: bool,
    /// `automatic` or `approval`, as the policy decided at submit.
    pub approval_route: Option<String>,
    /// The policy version that decided.
    pub policy_version: Option<String>,
    /// The node executing it (its lease), while one does.
    pub lease_owner: Option<String>,
    /// When that lease runs out unrenewed (ms).
    pub lease_expires_at: Option<i64>,
    /// The fencing token of the last claim: incremented by each, and required by every write
    /// the claiming node makes for the run ([`crate::Claim`]).
    pub lease_token: i64,
    /// The team the run acts for: what it creates is theirs (`docs/resources.md`).
    pub owner_team: Option<String>,
    /// The plugin versions it was previewed and routed with, which every execution runs.
    pub pins: Vec<Pin>,
    /// The name its template secrets are sealed under in `secrets`, while it may use them
    /// (deleted when it finishes).
    pub secrets_ref: Option<String>,
}

/// One plugin step's action pinned at submit: what the requester and the approver saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Pin {
    /// The action as the template writes it (`debug:log`).
    pub action: String,
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The SHA-256 of its component.
    pub digest: String,
}

/// One stored log line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LogRecord {
    /// Position in the run's log.
    pub seq: i64,
    /// The line.
    #[serde(flatten)]
    pub line: LogLine,
}

pub(crate) const COLUMNS: &str = "id, action, action_version, status, input, output, error, requester, environment, attempt, created_at, \
                       updated_at, template, template_version, idempotency_key, resubmitted_from, cancel_requested, \
                       approval_route, policy_version, lease_owner, lease_expires_at, owner_team, pins, secrets_ref, lease_token";

pub(crate) fn record(row: &AnyRow) -> Result<RunRecord, StoreError> {
    let optional =
        |i: usize, what: &'static str| -> Result<Option<serde_json::Value>, StoreError> {
            row.try_get::<Option<String>, _>(i)?
                .map(|t| parse_json(what, &t))
                .transpose()
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
        template: row.try_get(12)?,
        template_version: row.try_get(13)?,
        idempotency_key: row.try_get(14)?,
        resubmitted_from: row.try_get(15)?,
        cancel_requested: row.try_get::<i64, _>(16)? != 0,
        approval_route: row.try_get(17)?,
        policy_version: row.try_get(18)?,
        lease_owner: row.try_get(19)?,
        lease_expires_at: row.try_get(20)?,
        owner_team: row.try_get(21)?,
        pins: row
            .try_get::<Option<String>, _>(22)?
            .map(|t| parse_json("runs.pins", &t))
            .transpose()?
            .unwrap_or_default(),
        secrets_ref: row.try_get(23)?,
        lease_token: row.try_get(24)?,
    })
}

/// The guarded status change of [`Store::set_run_status`], on the pool or in a transaction:
/// how many rows changed (none when the run is in none of `from`).
pub(crate) async fn status_update<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    id: &str,
    from: &[RunStatus],
    to: RunStatus,
    output: Option<&serde_json::Value>,
    error: Option<&serde_json::Value>,
    now: i64,
) -> Result<u64, StoreError> {
    let allowed = crate::status::sql_list(from);
    let sql = format!(
        "UPDATE runs SET status = $2, output = COALESCE($3, output), error = $4, updated_at = $5 WHERE id = $1 AND status IN {allowed}"
    );
    Ok(sqlx::query(&sql)
        .bind(id)
        .bind(to.as_str())
        .bind(output.map(|o| o.to_string()))
        .bind(error.map(|e| e.to_string()))
        .bind(now)
        .execute(executor)
        .await?
        .rows_affected())
}

/// `from` as a stale-status error says it: `running or pending`.
pub(crate) fn expected_of(from: &[RunStatus]) -> String {
    from.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

impl Store {
    /// Inserts a run (and its `pending` steps, its approval stages and its audit entry) in one
    /// transaction and returns it: `pending`, or `awaiting-approval` when a stage gates the
    /// whole run (the first tier of those stages opens at once).
    /// With an idempotency key already used, returns that run instead and `false`.
    pub async fn create_run(&self, run: &NewRun) -> Result<(RunRecord, bool), StoreError> {
        if let Some(key) = &run.idempotency_key
            && let Some(existing) = self.run_by_idempotency_key(key).await?
        {
            return Ok((existing, false));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let gated = run
            .approval
            .as_ref()
            .is_some_and(|a| a.stages.iter().any(|s| s.step_id.is_none()));
        let status = if gated {
            RunStatus::AwaitingApproval
        } else {
            RunStatus::Pending
        };
        let mut tx = self.write_transaction().await?;
        // The row answered by the insert itself (`RETURNING`, on both databases): no read after.
        let sql = format!(
            "INSERT INTO runs (id, action, action_version, status, input, requester, environment, attempt, created_at, updated_at, \
             template, template_version, idempotency_key, resubmitted_from, approval_route, policy_version, owner_team, pins, secrets_ref) \
             VALUES ($1, $2, $3, $12, $4, $5, $6, 0, $7, $7, $8, $9, $10, $11, $13, $14, $15, $16, $17) RETURNING {COLUMNS}"
        );
        let inserted = sqlx::query(&sql)
            .bind(&id)
            .bind(&run.action)
            .bind(&run.action_version)
            .bind(run.input.to_string())
            .bind(&run.requester)
            .bind(&run.environment)
            .bind(now)
            .bind(run.template.as_ref().map(|t| t.0.clone()))
            .bind(run.template.as_ref().map(|t| t.1))
            .bind(&run.idempotency_key)
            .bind(&run.resubmitted_from)
            .bind(status.as_str())
            .bind(run.approval.as_ref().map(|a| a.route.clone()))
            .bind(run.approval.as_ref().map(|a| a.policy_version.clone()))
            .bind(&run.owner_team)
            .bind(
                (!run.pins.is_empty())
                    .then(|| serde_json::to_string(&run.pins).expect("pins serialise")),
            )
            .bind(run.secrets.as_ref().map(|s| s.name.clone()))
            .fetch_one(&mut *tx)
            .await;
        let inserted = match inserted {
            Ok(row) => record(&row)?,
            Err(e) => {
                // Another submit with the same key won the race.
                if let (Some(key), sqlx::Error::Database(db)) = (&run.idempotency_key, &e)
                    && db.is_unique_violation()
                {
                    drop(tx);
                    let existing = self
                        .run_by_idempotency_key(key)
                        .await?
                        .ok_or(StoreError::Database(e))?;
                    return Ok((existing, false));
                }
                return Err(e.into());
            }
        };
        // The steps in as few statements as the bound on rows allows: each is a round trip.
        let rows = crate::steps::ROWS_PER_INSERT;
        for (c, chunk) in run.steps.chunks(rows).enumerate() {
            let sql = format!(
                "INSERT INTO run_steps (run_id, step_id, position, status, attempts, updated_at) VALUES {}",
                crate::steps::placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for (i, step) in chunk.iter().enumerate() {
                query = query
                    .bind(&id)
                    .bind(step)
                    .bind((c * rows + i) as i64)
                    .bind("pending")
                    .bind(0_i64)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        // The run's events say which versions it runs, from its first one.
        if !run.pins.is_empty() {
            crate::steps::insert_event(
                &mut tx,
                &id,
                "pinned",
                None,
                &serde_json::json!({"plugins": run.pins}),
                now,
            )
            .await?;
        }
        if let Some(secrets) = &run.secrets {
            crate::state::insert_secret(&mut tx, &secrets.name, &secrets.sealed).await?;
        }
        // After the pins: a stage opened at submission is the run's next event.
        if let Some(approval) = &run.approval {
            crate::approvals::insert_stages(&mut tx, self.backend, &id, approval, &run.requester)
                .await?;
        }
        tx.commit().await?;
        Ok((inserted, true))
    }

    async fn run_by_idempotency_key(&self, key: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE idempotency_key = $1");
        sqlx::query(&sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// Moves a run from one of `from` to `to`, optionally setting its output and error.
    /// Fails with [`StoreError::StaleStatus`] when the run is in none of `from`.
    pub async fn set_run_status(
        &self,
        id: &str,
        from: &[RunStatus],
        to: RunStatus,
        output: Option<&serde_json::Value>,
        error: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let changed = status_update(&self.writer, id, from, to, output, error, now_ms()).await?;
        if changed == 0 {
            return Err(self.stale_status(id, expected_of(from)).await);
        }
        Ok(())
    }

    /// [`Store::set_run_status`] by the node executing the run, under its claim: refused with
    /// [`StoreError::LeaseLost`] once another claim replaced it.
    pub async fn set_claimed_run_status(
        &self,
        claim: &crate::RunClaim,
        id: &str,
        from: &[RunStatus],
        to: RunStatus,
        output: Option<&serde_json::Value>,
        error: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        crate::leases::guard(&mut tx, id, claim, None).await?;
        let changed = status_update(&mut *tx, id, from, to, output, error, now_ms()).await?;
        if changed == 0 {
            drop(tx);
            return Err(self.stale_status(id, expected_of(from)).await);
        }
        tx.commit().await?;
        Ok(())
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// The most recent runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs ORDER BY created_at DESC, id DESC LIMIT $1");
        sqlx::query(&sql)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// The most recent runs one user requested, newest first.
    pub async fn runs_of(&self, requester: &str, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE requester = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        sqlx::query(&sql)
            .bind(requester)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// Ids of runs a worker must pick up (`pending`, `running`, `rolling-back`), oldest first:
    /// what a restarted server resumes. Waiting runs wake at their time; paused runs wait for
    /// a human.
    pub async fn unfinished_runs(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT id FROM runs WHERE status IN {} ORDER BY created_at, id",
            sql_list(&[
                RunStatus::Pending,
                RunStatus::Running,
                RunStatus::RollingBack
            ])
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records the end of a `running` run, with its output or its error.
    pub async fn finish_run(
        &self,
        id: &str,
        outcome: Result<&serde_json::Value, &serde_json::Value>,
    ) -> Result<(), StoreError> {
        match outcome {
            Ok(output) => {
                self.set_run_status(
                    id,
                    &[RunStatus::Running],
                    RunStatus::Succeeded,
                    Some(output),
                    None,
                )
                .await
            }
            Err(error) => {
                self.set_run_status(
                    id,
                    &[RunStatus::Running],
                    RunStatus::Failed,
                    None,
                    Some(error),
                )
                .await
            }
        }
    }

    /// Appends lines to a run's log, in one transaction.
    pub async fn append_logs(&self, run_id: &str, lines: &[LogLine]) -> Result<(), StoreError> {
        self.append_logs_within(run_id, lines, u64::MAX)
            .await
            .map(drop)
    }

    /// Appends log lines while the run's stored log stays within `max_bytes` of messages;
    /// the lines past it are dropped and counted in one note, so a chatty run cannot fill the
    /// database (what is stored already is kept). Answers the lines stored.
    pub async fn append_logs_within(
        &self,
        run_id: &str,
        lines: &[LogLine],
        max_bytes: u64,
    ) -> Result<Vec<LogLine>, StoreError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.write_transaction().await?;
        let kept = self.append_lines(&mut tx, run_id, lines, max_bytes).await?;
        tx.commit().await?;
        Ok(kept)
    }

    /// [`Store::append_logs_within`] in `tx`: one read (the log's last position and size),
    /// then the inserts.
    pub(crate) async fn append_lines(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        run_id: &str,
        lines: &[LogLine],
        max_bytes: u64,
    ) -> Result<Vec<LogLine>, StoreError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let length = match self.backend {
            crate::Backend::Sqlite => "LENGTH(CAST(message AS BLOB))",
            crate::Backend::Postgres => "OCTET_LENGTH(message)",
        };
        let (next, stored): (i64, i64) = sqlx::query_as(&format!(
            "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT), CAST(COALESCE(SUM({length}), 0) AS BIGINT) FROM run_logs WHERE run_id = $1"
        ))
        .bind(run_id)
        .fetch_one(&mut **tx)
        .await?;
        let mut kept: Vec<LogLine> = lines.to_vec();
        if max_bytes != u64::MAX {
            let mut total = stored.max(0) as u64;
            let mut dropped = 0usize;
            kept.retain(|line| {
                if dropped == 0 && total + line.message.len() as u64 <= max_bytes {
                    total += line.message.len() as u64;
                    true
                } else {
                    dropped += 1;
                    false
                }
            });
            if dropped > 0 {
                kept.push(LogLine {
                    at_ms: lines.last().map_or(0, |l| l.at_ms),
                    source: "host".into(),
                    level: "warn".into(),
                    message: format!(
                        "{dropped} log lines were not stored: this run's log reached its limit of {max_bytes} bytes (run_logs.max_bytes_per_run in lever.yaml)"
                    ),
                });
            }
        }
        // Many lines to a statement: each statement is a round trip to the database.
        let rows = crate::steps::ROWS_PER_INSERT;
        for (c, chunk) in kept.chunks(rows).enumerate() {
            let sql = format!(
                "INSERT INTO run_logs (run_id, seq, at_ms, source, level, message) VALUES {}",
                crate::steps::placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for (i, line) in chunk.iter().enumerate() {
                query = query
                    .bind(run_id)
                    .bind(next + 1 + (c * rows + i) as i64)
                    .bind(line.at_ms)
                    .bind(&line.source)
                    .bind(&line.level)
                    .bind(&line.message);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(kept)
    }

    /// How many unfinished runs each status holds (`pending`, `running`, `waiting`…).
    pub async fn unfinished_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let unfinished = sql_list(&RunStatus::IN_FLIGHT);
        let rows = sqlx::query(&format!(
            "SELECT status, COUNT(*) FROM runs WHERE status IN {unfinished} GROUP BY status"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
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
                    line: LogLine {
                        at_ms: row.try_get(1)?,
                        source: row.try_get(2)?,
                        level: row.try_get(3)?,
                        message: row.try_get(4)?,
                    },
                })
            })
            .collect()
    }
}

impl Store {
    /// Asks for run `id` to stop at its next step boundary and roll back.
    pub async fn request_cancel(&self, id: &str) -> Result<bool, StoreError> {
        let changed =
            sqlx::query("UPDATE runs SET cancel_requested = 1, updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now_ms())
                .execute(&self.writer)
                .await?
                .rows_affected();
        Ok(changed > 0)
    }
}

impl Store {
    /// The error for a transition that found run `id` in another status than `expected`.
    pub(crate) async fn stale_status(&self, id: &str, expected: String) -> StoreError {
        match self.run(id).await {
            Ok(run) => {
                let actual = run
                    .map(|r| r.status.as_str().to_string())
                    .unwrap_or_else(|| "missing".into());
                StoreError::StaleStatus {
                    id: id.into(),
                    expected,
                    actual,
                }
            }
            Err(e) => e,
        }
    }

    /// Parks a `running` run as `waiting` until `wake_at` (ms): from then on it is only a row.
    /// Under `claim`, the executing node's: refused with [`StoreError::LeaseLost`] once
    /// another claim replaced it.
    pub async fn park_run(
        &self,
        id: &str,
        wake_at: i64,
        claim: &crate::RunClaim,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        crate::leases::guard(&mut tx, id, claim, None).await?;
        let changed = sqlx::query(&format!("UPDATE runs SET status = {}, wake_at = $2, updated_at = $3 WHERE id = $1 AND status = {}", sql(RunStatus::Waiting), sql(RunStatus::Running)))
            .bind(id)
            .bind(wake_at)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            drop(tx);
            return Err(self.stale_status(id, "running".into()).await);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves every `waiting` run whose time has come back to `pending` and returns their ids,
    /// with the time the next one wakes, if any. `now` is the executor's clock (a manual one
    /// in tests moves parked runs' time forward).
    pub async fn wake_due_runs(&self, now: i64) -> Result<(Vec<String>, Option<i64>), StoreError> {
        let due: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM runs WHERE status = {} AND wake_at <= $1 ORDER BY wake_at LIMIT 500",
            sql(RunStatus::Waiting)
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut woken = Vec::with_capacity(due.len());
        for id in due {
            let changed = sqlx::query(&format!("UPDATE runs SET status = {}, wake_at = NULL, updated_at = $2 WHERE id = $1 AND status = {}", sql(RunStatus::Pending), sql(RunStatus::Waiting)))
                .bind(&id)
                .bind(now)
                .execute(&self.writer)
                .await?
                .rows_affected();
            if changed > 0 {
                woken.push(id);
            }
        }
        let next: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT MIN(wake_at) FROM runs WHERE status = {}",
            sql(RunStatus::Waiting)
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok((woken, next))
    }
}
