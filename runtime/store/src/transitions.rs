//! A step's transitions, folded: what one step attempt leaves when it ends — its log lines, the
//! `log` and `progress` events they make, its row's new status and its event — is written in the
//! same transaction as what the engine does next with the run: the next step's start, behind the
//! fence (this node's claim on the run, [`crate::leases`]'s guard, the transaction's first
//! statement) and the cancel flag read in that same transaction, or the run's end. A step of a
//! template run on SQLite so costs one write transaction where it cost four (start, log lines,
//! log event, end), and the reads that checked the fence and the cancel flag ride in it.
//! Statements are folded too, as each is a round trip to the database (on SQLite, to sqlx's worker
//! thread, dearer than the write itself): the cancel flag is a condition of the start's `UPDATE`
//! (the run is read only when the step did not start, to say why), and the transition's events —
//! the end's and the start's — are one multi-row `INSERT`, its log lines another. A succeeded
//! step's end and the next start so cost six statements with `BEGIN` and `COMMIT` (the guard
//! among them). Nothing is reported before it is committed: a client sees the step's
//! end when the transaction that also starts the next step commits, before that step's plugin is
//! called.

use std::borrow::Cow;

use lever_plugin::LogLine;
use serde_json::{Value, json};

use crate::leases::guard;
use crate::runs::{COLUMNS, expected_of, record, status_update};
use crate::steps::{NewEvent, insert_events, write_step, write_step_behind};
use crate::{
    Lease, RunClaim, RunRecord, RunStatus, StepStatus, StepUpdate, Store, StoreError, now_ms,
};

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
    pub status: StepStatus,
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

/// One transition, owned, as [`crate::group_commit`] queues it.
#[derive(Debug)]
pub(crate) enum Transition {
    /// A step's end alone, under the claim of the node that ran it (`None`: no node holds the
    /// run, as when a person decides a step).
    End {
        run_id: String,
        end: StepEnd,
        claim: Option<RunClaim>,
    },
    /// The last step's end, the fence and the cancel flag, and a step's start.
    Start {
        run_id: String,
        lease: Lease,
        claim: RunClaim,
        end: Option<StepEnd>,
        step_id: String,
        attempt: i64,
        input: Value,
        event: (String, Value),
    },
    /// The last step's end and the run's final status with its event.
    Finish {
        run_id: String,
        from: Vec<RunStatus>,
        to: RunStatus,
        output: Option<Value>,
        error: Option<Value>,
        event: (String, Value),
        end: Option<StepEnd>,
        claim: Option<RunClaim>,
    },
}

impl Transition {
    fn run_id(&self) -> &str {
        match self {
            Self::End { run_id, .. } | Self::Start { run_id, .. } | Self::Finish { run_id, .. } => {
                run_id
            }
        }
    }
}

/// What a committed transition answers.
#[derive(Debug)]
pub(crate) enum Written {
    /// The log lines kept within the run's bound.
    Lines(Vec<LogLine>),
    /// Whether the step started.
    Start(StepStart),
    /// The run has its final status.
    Finished,
}

impl Store {
    /// Commits `end` on its own: one transaction (or part of one the group commit shares).
    /// Under `claim`, refused ([`StoreError::LeaseLost`]) once another claim replaced it.
    pub async fn end_step(
        &self,
        run_id: &str,
        claim: Option<&RunClaim>,
        end: StepEnd,
    ) -> Result<Vec<LogLine>, StoreError> {
        let written = self
            .commit_transition(Transition::End {
                run_id: run_id.to_string(),
                end,
                claim: claim.cloned(),
            })
            .await?;
        match written {
            Written::Lines(kept) => Ok(kept),
            _ => unreachable!("a step's end answers its lines"),
        }
    }

    /// In one transaction: the previous step's `end` if any; the fence (the run read, and
    /// [`Lease::holds`] checked, in this transaction) and the cancel flag; then, unless the run
    /// was cancelled, step `step_id`'s start as attempt `attempt` with `input` and its `event`.
    /// A lost lease rolls everything back ([`StoreError::LeaseLost`]): the node that holds the
    /// run now decides its steps.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_step(
        &self,
        run_id: &str,
        lease: &Lease,
        claim: &RunClaim,
        end: Option<StepEnd>,
        step_id: &str,
        attempt: i64,
        input: &Value,
        event: (&str, &Value),
    ) -> Result<StepStart, StoreError> {
        let written = self
            .commit_transition(Transition::Start {
                run_id: run_id.to_string(),
                lease: lease.clone(),
                claim: claim.clone(),
                end,
                step_id: step_id.to_string(),
                attempt,
                input: input.clone(),
                event: (event.0.to_string(), event.1.clone()),
            })
            .await?;
        match written {
            Written::Start(start) => Ok(start),
            _ => unreachable!("a step's start answers whether it started"),
        }
    }

    /// Moves a run from one of `from` to its final status `to` with its output or error and
    /// the event that says so (`run-finished`), in one transaction: a stream that sees the final
    /// status has also seen the event, and a crash between the two cannot lose it. `end`, the
    /// last step's end, is written first in the same transaction. Fails with
    /// [`StoreError::StaleStatus`] when the run is in none of `from`, and with
    /// [`StoreError::LeaseLost`] when `claim` no longer holds it.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_run_status_with_event(
        &self,
        id: &str,
        from: &[RunStatus],
        to: RunStatus,
        output: Option<&Value>,
        error: Option<&Value>,
        kind: &str,
        data: &Value,
        end: Option<StepEnd>,
        claim: Option<&RunClaim>,
    ) -> Result<(), StoreError> {
        self.commit_transition(Transition::Finish {
            run_id: id.to_string(),
            from: from.to_vec(),
            to,
            output: output.cloned(),
            error: error.cloned(),
            event: (kind.to_string(), data.clone()),
            end,
            claim: claim.cloned(),
        })
        .await
        .map(drop)
    }

    /// Commits `transition`: in the group commit's next batch on SQLite, in a transaction of
    /// its own on PostgreSQL (whose connections commit side by side).
    async fn commit_transition(&self, transition: Transition) -> Result<Written, StoreError> {
        match &self.group {
            Some(group) => group.commit(self, transition).await,
            None => self.commit_alone(&transition).await,
        }
    }

    /// Commits `transition` in a transaction of its own.
    pub(crate) async fn commit_alone(
        &self,
        transition: &Transition,
    ) -> Result<Written, StoreError> {
        let mut tx = self.write_transaction().await?;
        let (written, evented) = self.write_transition(&mut tx, transition, now_ms()).await?;
        if evented {
            self.announce_events(&mut tx, transition.run_id()).await?;
        }
        tx.commit().await?;
        if evented {
            self.events_were_committed(transition.run_id());
        }
        Ok(written)
    }

    /// Commits `batch` in one transaction and answers each its own result. When one of them
    /// is refused (a lost lease, a stale status) or the batch cannot commit, each is committed
    /// again on its own, so that only the refused one fails.
    pub(crate) async fn commit_batch(
        &self,
        batch: &[Transition],
    ) -> Vec<Result<Written, StoreError>> {
        if batch.len() == 1 {
            return vec![self.commit_alone(&batch[0]).await];
        }
        match self.commit_together(batch).await {
            Ok(written) => written.into_iter().map(Ok).collect(),
            Err(_) => {
                let mut out = Vec::with_capacity(batch.len());
                for transition in batch {
                    out.push(self.commit_alone(transition).await);
                }
                out
            }
        }
    }

    async fn commit_together(&self, batch: &[Transition]) -> Result<Vec<Written>, StoreError> {
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        let mut written = Vec::with_capacity(batch.len());
        let mut evented = Vec::new();
        for transition in batch {
            let (answer, events) = self.write_transition(&mut tx, transition, now).await?;
            if events {
                evented.push(transition.run_id());
            }
            written.push(answer);
        }
        for run_id in &evented {
            self.announce_events(&mut tx, run_id).await?;
        }
        tx.commit().await?;
        for run_id in evented {
            self.events_were_committed(run_id);
        }
        Ok(written)
    }

    /// Writes `transition` in `tx`: its answer, and whether it added events.
    async fn write_transition(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        transition: &Transition,
        now: i64,
    ) -> Result<(Written, bool), StoreError> {
        match transition {
            Transition::End { run_id, end, claim } => {
                if let Some(claim) = claim {
                    guard(tx, run_id, claim, None).await?;
                }
                let mut events = Vec::new();
                let kept = self.write_end(tx, run_id, end, now, &mut events).await?;
                insert_events(tx, run_id, &events, now).await?;
                Ok((Written::Lines(kept), !events.is_empty()))
            }
            Transition::Start {
                run_id,
                lease,
                claim,
                end,
                step_id,
                attempt,
                input,
                event,
            } => {
                // First, so the run's row is locked for the whole transaction: a node claiming
                // the run meanwhile waits for it, then reads this start.
                guard(tx, run_id, claim, Some(lease.now_ms())).await?;
                let mut events = Vec::new();
                if let Some(end) = end {
                    self.write_end(tx, run_id, end, now, &mut events).await?;
                }
                // The cancel flag rides in the start's own statement (the guard above holds
                // the lease): the step starts only while no cancel was asked for. The run is
                // read only when it did not start, to say why.
                let started = StepUpdate {
                    status: StepStatus::Running,
                    attempts: Some(*attempt),
                    input: Some(input),
                    ..Default::default()
                };
                if write_step_behind(tx, run_id, step_id, &started, now, true).await? == 0 {
                    let run = sqlx::query(&format!("SELECT {COLUMNS} FROM runs WHERE id = $1"))
                        .bind(run_id)
                        .fetch_optional(&mut **tx)
                        .await?
                        .as_ref()
                        .map(record)
                        .transpose()?
                        .ok_or_else(|| StoreError::LeaseLost(run_id.clone()))?;
                    if run.cancel_requested {
                        insert_events(tx, run_id, &events, now).await?;
                        let evented = !events.is_empty();
                        return Ok((Written::Start(StepStart::Cancelled(Box::new(run))), evented));
                    }
                }
                events.push(NewEvent {
                    kind: &event.0,
                    step_id: Some(step_id),
                    data: Cow::Borrowed(&event.1),
                });
                insert_events(tx, run_id, &events, now).await?;
                Ok((Written::Start(StepStart::Started), true))
            }
            Transition::Finish {
                run_id,
                from,
                to,
                output,
                error,
                event,
                end,
                claim,
            } => {
                if let Some(claim) = claim {
                    guard(tx, run_id, claim, None).await?;
                }
                let changed = status_update(
                    &mut **tx,
                    run_id,
                    from,
                    *to,
                    output.as_ref(),
                    error.as_ref(),
                    now,
                )
                .await?;
                if changed == 0 {
                    return Err(self.stale_status(run_id, expected_of(from)).await);
                }
                let mut events = Vec::new();
                if let Some(end) = end {
                    self.write_end(tx, run_id, end, now, &mut events).await?;
                }
                events.push(NewEvent {
                    kind: &event.0,
                    step_id: None,
                    data: Cow::Borrowed(&event.1),
                });
                insert_events(tx, run_id, &events, now).await?;
                Ok((Written::Finished, true))
            }
        }
    }

    /// Writes `end` in `tx`, its events into `events` (for the transition to insert with its
    /// own): answers the lines kept within the log bound.
    pub(crate) async fn write_end<'a>(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        run_id: &str,
        end: &'a StepEnd,
        now: i64,
        events: &mut Vec<NewEvent<'a>>,
    ) -> Result<Vec<LogLine>, StoreError> {
        let kept = self
            .append_lines(tx, run_id, &end.lines, end.log_limit)
            .await?;
        let step_id = Some(end.step_id.as_str());
        let (progress, logs): (Vec<_>, Vec<_>) = kept.iter().partition(|l| l.level == "progress");
        if !logs.is_empty() {
            let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
            events.push(NewEvent {
                kind: "log",
                step_id,
                data: Cow::Owned(json!({"lines": messages})),
            });
        }
        for line in progress {
            // `percent% message`, as the progress host import writes it.
            let (percent, message) = line.message.split_once("% ").unwrap_or(("", &line.message));
            events.push(NewEvent {
                kind: "progress",
                step_id,
                data: Cow::Owned(
                    json!({"percent": percent.parse::<u8>().ok(), "message": message}),
                ),
            });
        }
        if let Some(change) = &end.change {
            let update = StepUpdate {
                status: change.status,
                output: change.output.as_ref(),
                error: change.error.as_ref(),
                ..Default::default()
            };
            write_step(tx, run_id, &end.step_id, &update, now).await?;
            events.push(NewEvent {
                kind: &change.event.0,
                step_id,
                data: Cow::Borrowed(&change.event.1),
            });
        }
        Ok(kept)
    }
}
