//! The steps of template runs and the events of every run. Each change is committed before
//! the engine moves on, so a restarted server knows exactly which steps completed.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms, parse_json};

/// Where a step is in its run. One place spells it, for the database and for every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Not started yet (or reset for a retry).
    #[default]
    Pending,
    /// An attempt is executing.
    Running,
    /// Waiting for a `waitFor` condition, asking again at intervals.
    Polling,
    /// Waiting for a retry's backoff or a poll interval; holds no worker.
    Waiting,
    /// Done, with an output.
    Succeeded,
    /// Its last attempt failed.
    Failed,
    /// Skipped (its `if` was false, someone skipped it, or a failure policy said so).
    Skipped,
    /// Paused with an input edited by a person, to be retried with it.
    Edited,
    /// Being undone.
    RollingBack,
    /// Undone.
    RolledBack,
    /// Its undo failed: something is left behind.
    RollbackFailed,
}

impl StepStatus {
    /// Every status, in the order a step may go through them.
    pub const ALL: [StepStatus; 11] = [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::Polling,
        StepStatus::Waiting,
        StepStatus::Succeeded,
        StepStatus::Failed,
        StepStatus::Skipped,
        StepStatus::Edited,
        StepStatus::RollingBack,
        StepStatus::RolledBack,
        StepStatus::RollbackFailed,
    ];

    /// The stored and reported spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Polling => "polling",
            StepStatus::Waiting => "waiting",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Edited => "edited",
            StepStatus::RollingBack => "rolling-back",
            StepStatus::RolledBack => "rolled-back",
            StepStatus::RollbackFailed => "rollback-failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        crate::status::parse(&Self::ALL, s, "run_steps.status")
    }

    /// Done as far as the run goes on: succeeded or skipped.
    pub fn is_done(self) -> bool {
        matches!(self, StepStatus::Succeeded | StepStatus::Skipped)
    }
}

/// One step of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// Step id.
    pub id: String,
    /// Position in the template.
    pub position: i64,
    /// Where it is.
    pub status: StepStatus,
    /// Attempts started so far.
    pub attempts: i64,
    /// Rendered input of the last attempt.
    pub input: Option<serde_json::Value>,
    /// Output, once succeeded.
    pub output: Option<serde_json::Value>,
    /// Error (`{"kind", "message"}`) of the last failure.
    pub error: Option<serde_json::Value>,
    /// While `polling` (a `waitFor`), when to give up (ms).
    pub poll_deadline: Option<i64>,
    /// Last change (ms).
    pub updated_at: i64,
}

/// One stored event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Increasing id: a client resumes with `after=ID`.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// `step-started`, `log`, `progress`, `retrying`, `step-succeeded`, `step-failed`,
    /// `step-skipped`, `rolled-back`, `run-paused`, `run-finished`...
    pub kind: String,
    /// The step, when the event is about one.
    pub step_id: Option<String>,
    /// Details.
    pub data: serde_json::Value,
    /// When (ms).
    pub at_ms: i64,
}

/// A change to one step.
#[derive(Debug, Clone, Default)]
pub struct StepUpdate<'a> {
    /// New status.
    pub status: StepStatus,
    /// New attempt count, if it changes.
    pub attempts: Option<i64>,
    /// Rendered input, if it changes.
    pub input: Option<&'a serde_json::Value>,
    /// Output, if any.
    pub output: Option<&'a serde_json::Value>,
    /// Error, if any (replaces the previous one; `None` clears it).
    pub error: Option<&'a serde_json::Value>,
    /// Poll deadline while `polling` (`None` clears it).
    pub poll_deadline: Option<i64>,
}

/// The columns [`step`] reads, in its order.
pub(crate) const STEP_COLUMNS: &str =
    "step_id, position, status, attempts, input, output, error, poll_deadline, updated_at";

pub(crate) fn step(row: &AnyRow) -> Result<StepRecord, StoreError> {
    let json = |i: usize, what: &'static str| -> Result<Option<serde_json::Value>, StoreError> {
        row.try_get::<Option<String>, _>(i)?
            .map(|t| parse_json(what, &t))
            .transpose()
    };
    Ok(StepRecord {
        id: row.try_get(0)?,
        position: row.try_get(1)?,
        status: StepStatus::parse(&row.try_get::<String, _>(2)?)?,
        attempts: row.try_get(3)?,
        input: json(4, "run_steps.input")?,
        output: json(5, "run_steps.output")?,
        error: json(6, "run_steps.error")?,
        poll_deadline: row.try_get(7)?,
        updated_at: row.try_get(8)?,
    })
}

impl Store {
    /// The steps of a run, in template order.
    pub async fn run_steps(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM run_steps WHERE run_id = $1 ORDER BY position"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(step)
        .collect()
    }

    /// Step `step_id` of run `run_id`, if the run has one by that id.
    pub async fn run_step(
        &self,
        run_id: &str,
        step_id: &str,
    ) -> Result<Option<StepRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM run_steps WHERE run_id = $1 AND step_id = $2"
        ))
        .bind(run_id)
        .bind(step_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(step)
        .transpose()
    }

    /// Changes one step, and records `event` about it, in one transaction.
    pub async fn update_step(
        &self,
        run_id: &str,
        step_id: &str,
        update: &StepUpdate<'_>,
        event: Option<(&str, &serde_json::Value)>,
    ) -> Result<(), StoreError> {
        self.update_step_behind(None, run_id, step_id, update, event)
            .await
    }

    /// [`Store::update_step`] by the node executing the run, under its claim: refused with
    /// [`StoreError::LeaseLost`], and nothing written, once another claim replaced it.
    pub async fn update_claimed_step(
        &self,
        claim: &crate::RunClaim,
        run_id: &str,
        step_id: &str,
        update: &StepUpdate<'_>,
        event: Option<(&str, &serde_json::Value)>,
    ) -> Result<(), StoreError> {
        self.update_step_behind(Some(claim), run_id, step_id, update, event)
            .await
    }

    async fn update_step_behind(
        &self,
        claim: Option<&crate::RunClaim>,
        run_id: &str,
        step_id: &str,
        update: &StepUpdate<'_>,
        event: Option<(&str, &serde_json::Value)>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        if let Some(claim) = claim {
            crate::leases::guard(&mut tx, run_id, claim, None).await?;
        }
        write_step(&mut tx, run_id, step_id, update, now).await?;
        if let Some((kind, data)) = event {
            insert_event(&mut tx, run_id, kind, Some(step_id), data, now).await?;
            self.announce_events(&mut tx, run_id).await?;
        }
        tx.commit().await?;
        if event.is_some() {
            self.events_were_committed(run_id);
        }
        Ok(())
    }

    /// Records an event.
    pub async fn append_event(
        &self,
        run_id: &str,
        kind: &str,
        step_id: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.append_event_behind(None, run_id, kind, step_id, data)
            .await
    }

    /// [`Store::append_event`] by the node executing the run, under its claim: refused with
    /// [`StoreError::LeaseLost`] once another claim replaced it.
    pub async fn append_claimed_event(
        &self,
        claim: &crate::RunClaim,
        run_id: &str,
        kind: &str,
        step_id: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.append_event_behind(Some(claim), run_id, kind, step_id, data)
            .await
    }

    async fn append_event_behind(
        &self,
        claim: Option<&crate::RunClaim>,
        run_id: &str,
        kind: &str,
        step_id: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        if let Some(claim) = claim {
            crate::leases::guard(&mut tx, run_id, claim, None).await?;
        }
        insert_event(&mut tx, run_id, kind, step_id, data, now_ms()).await?;
        self.announce_events(&mut tx, run_id).await?;
        tx.commit().await?;
        self.events_were_committed(run_id);
        Ok(())
    }

    /// Events of a run after id `after`, oldest first.
    pub async fn run_events(
        &self,
        run_id: &str,
        after: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query("SELECT id, run_id, kind, step_id, data, at_ms FROM run_events WHERE run_id = $1 AND id > $2 ORDER BY id")
            .bind(run_id)
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(EventRecord {
                    id: row.try_get(0)?,
                    run_id: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    step_id: row.try_get(3)?,
                    data: parse_json("run_events.data", &row.try_get::<String, _>(4)?)?,
                    at_ms: row.try_get(5)?,
                })
            })
            .collect()
    }
}

/// Writes `update` to one step's row in `tx`.
pub(crate) async fn write_step(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    step_id: &str,
    update: &StepUpdate<'_>,
    now: i64,
) -> Result<(), StoreError> {
    write_step_behind(tx, run_id, step_id, update, now, false)
        .await
        .map(drop)
}

const UPDATE_STEP: &str = "UPDATE run_steps SET status = $3, attempts = COALESCE($4, attempts), input = COALESCE($5, input), \
     output = $6, error = $7, updated_at = $8, poll_deadline = $9 WHERE run_id = $1 AND step_id = $2";

/// [`write_step`], only while no cancel was asked for when `unless_cancelled`, in the same
/// statement: answers the rows changed (0 when a cancel was asked for, or the step has no row).
pub(crate) async fn write_step_behind(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    step_id: &str,
    update: &StepUpdate<'_>,
    now: i64,
    unless_cancelled: bool,
) -> Result<u64, StoreError> {
    let behind;
    let sql = if unless_cancelled {
        behind = format!(
            "{UPDATE_STEP} AND EXISTS (SELECT 1 FROM runs WHERE id = $1 AND cancel_requested = 0)"
        );
        &behind
    } else {
        UPDATE_STEP
    };
    let query = sqlx::query(sql)
        .bind(run_id)
        .bind(step_id)
        .bind(update.status.as_str())
        .bind(update.attempts)
        .bind(update.input.map(|v| v.to_string()))
        .bind(update.output.map(|v| v.to_string()))
        .bind(update.error.map(|v| v.to_string()))
        .bind(now)
        .bind(update.poll_deadline);
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

pub(crate) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    kind: &str,
    step_id: Option<&str>,
    data: &serde_json::Value,
    at_ms: i64,
) -> Result<(), StoreError> {
    let event = NewEvent {
        kind,
        step_id,
        data: std::borrow::Cow::Borrowed(data),
    };
    insert_events(tx, run_id, std::slice::from_ref(&event), at_ms).await
}

/// An event a transition adds, kept until [`insert_events`] writes them together.
#[derive(Debug)]
pub(crate) struct NewEvent<'a> {
    pub(crate) kind: &'a str,
    pub(crate) step_id: Option<&'a str>,
    /// Borrowed from the transition where it holds the event, owned where the write makes it.
    pub(crate) data: std::borrow::Cow<'a, serde_json::Value>,
}

/// Rows one multi-row `INSERT` carries at most (5 parameters each, far below both databases'
/// bounds on parameters).
pub(crate) const ROWS_PER_INSERT: usize = 100;

/// Appends `events` to run `run_id`'s events, in their order, in as few statements as
/// [`ROWS_PER_INSERT`] allows: each statement is a round trip to the database (on SQLite, to
/// sqlx's worker thread), which costs more than the insert itself.
pub(crate) async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    events: &[NewEvent<'_>],
    at_ms: i64,
) -> Result<(), StoreError> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO run_events (run_id, kind, step_id, data, at_ms) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(run_id)
                .bind(event.kind)
                .bind(event.step_id)
                .bind(event.data.to_string())
                .bind(at_ms);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `($1, $2, …), ($k+1, …)`: `rows` tuples of `columns` numbered parameters.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let numbers: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", numbers.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The catalog entities succeeded steps registered (`entityRef` in their output, as
    /// Backstage's `catalog:register` answers), newest first, without repeats.
    pub async fn registered_entities(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT output FROM run_steps WHERE status = {} AND output LIKE '%entityRef%' ORDER BY updated_at DESC LIMIT $1",
            crate::status::sql(StepStatus::Succeeded)
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<String> = Vec::new();
        for text in rows {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if let Some(entity) = value.get("entityRef").and_then(serde_json::Value::as_str)
                && !out.iter().any(|e| e == entity)
            {
                out.push(entity.to_string());
            }
        }
        Ok(out)
    }
}
