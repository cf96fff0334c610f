//! A step's transitions, folded: what one step attempt leaves when it ends — its log lines, the
//! `log` and `progress` events they make, its row's new status and its event — is written in
//! the same transaction as what the engine does next with the run: the next step's start, behind
//! the fence (this node's lease) and the cancel flag read in that same transaction, or the run's
//! end. A step of a template run on SQLite so costs one write transaction where it cost four
//! (start, log lines, log event, end), and the reads that checked the fence and the cancel flag
//! ride in it. Nothing is reported before it is committed: a client sees the step's end when the
//! transaction that also starts the next step commits, before that step's plugin is called.

use lever_sandbox::LogLine;
use serde_json::{Value, json};

use crate::runs::{COLUMNS, record};
use crate::steps::{insert_event, write_step};
use crate::{Lease, RunRecord, StepUpdate, Store, StoreError, now_ms};

/// What one step attempt leaves when it ends, committed with the transition after it.
#[derive(Debug, Clone, Default)]
pub struct StepEnd {
    /// The step.
    pub step_id: String,
    /// The attempt's log lines, stored while the run's log stays within `log_limit` bytes.
    pub lines: Vec<LogLine>,
    /// The run's log bound in bytes (`run_logs.max_bytes_per_run`).
    pub log_limit: u64,
    /// The step row's change and its event; `None` writes only the log.
    pub change: Option<StepChange>,
}

/// A step row's new status with its output or error, and the event that says so: the owned
/// form of a [`StepUpdate`], kept until the next transition commits it.
#[derive(Debug, Clone, Default)]
pub struct StepChange {
    /// New status.
    pub status: String,
    /// Output, if any.
    pub output: Option<Value>,
    /// Error, if any.
    pub error: Option<Value>,
    /// The event's kind and data.
    pub event: (String, Value),
}

/// What [`Store::start_step`] did.
#[derive(Debug)]
pub enum StepStart {
    /// The step is `running`.
    Started,
    /// A cancel was asked for: the step was not started (the run as read, with the error
    /// a rejection at a gate left).
    Cancelled(Box<RunRecord>),
}

impl Store {
    /// Commits `end` on its own: one transaction.
    pub async fn end_step(&self, run_id: &str, end: &StepEnd) -> Result<Vec<LogLine>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let (kept, evented) = self.write_end(&mut tx, run_id, end, now_ms()).await?;
        if evented {
            self.announce_events(&mut tx, run_id).await?;
        }
        tx.commit().await?;
        if evented {
            self.events_were_committed(run_id);
        }
        Ok(kept)
    }

    /// In one transaction: the previous step's `end` if any; the fence (the run read, and
    /// [`Lease::holds`] checked, in this transaction) and the cancel flag; then, unless the run
    /// was cancelled, step `step_id`'s start with its `event`. A lost lease rolls everything
    /// back ([`StoreError::LeaseLost`]): the node that holds the run now decides its steps.
    pub async fn start_step(
        &self,
        run_id: &str,
        lease: &Lease,
        end: Option<&StepEnd>,
        step_id: &str,
        started: &StepUpdate<'_>,
        event: (&str, &Value),
    ) -> Result<StepStart, StoreError> {
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        let mut evented = false;
        if let Some(end) = end {
            evented = self.write_end(&mut tx, run_id, end, now).await?.1;
        }
        let run = sqlx::query(&format!("SELECT {COLUMNS} FROM runs WHERE id = $1"))
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(record)
            .transpose()?
            .filter(|run| lease.holds(run))
            .ok_or_else(|| StoreError::LeaseLost(run_id.to_string()))?;
        let outcome = if run.cancel_requested {
            StepStart::Cancelled(Box::new(run))
        } else {
            write_step(&mut tx, run_id, step_id, started, now).await?;
            insert_event(&mut tx, run_id, event.0, Some(step_id), event.1, now).await?;
            evented = true;
            StepStart::Started
        };
        if evented {
            self.announce_events(&mut tx, run_id).await?;
        }
        tx.commit().await?;
        if evented {
            self.events_were_committed(run_id);
        }
        Ok(outcome)
    }

    /// Writes `end` in `tx`: the lines kept within the log bound, and whether any event was
    /// added.
    pub(crate) async fn write_end(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        run_id: &str,
        end: &StepEnd,
        now: i64,
    ) -> Result<(Vec<LogLine>, bool), StoreError> {
        let kept = self
            .append_lines(tx, run_id, &end.lines, end.log_limit)
            .await?;
        let step = Some(end.step_id.as_str());
        let mut evented = false;
        let (progress, logs): (Vec<_>, Vec<_>) = kept.iter().partition(|l| l.level == "progress");
        if !logs.is_empty() {
            let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
            insert_event(tx, run_id, "log", step, &json!({"lines": messages}), now).await?;
            evented = true;
        }
        for line in progress {
            // `percent% message`, as the progress host import writes it.
            let (percent, message) = line.message.split_once("% ").unwrap_or(("", &line.message));
            let data = json!({"percent": percent.parse::<u8>().ok(), "message": message});
            insert_event(tx, run_id, "progress", step, &data, now).await?;
            evented = true;
        }
        if let Some(change) = &end.change {
            let update = StepUpdate {
                status: &change.status,
                output: change.output.as_ref(),
                error: change.error.as_ref(),
                ..Default::default()
            };
            write_step(tx, run_id, &end.step_id, &update, now).await?;
            insert_event(tx, run_id, &change.event.0, step, &change.event.1, now).await?;
            evented = true;
        }
        Ok((kept, evented))
    }
}
