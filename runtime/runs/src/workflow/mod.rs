//! Template runs: steps in order (each `needs` only earlier steps), inputs rendered from
//! parameters and earlier outputs, per-step failure policy (retry with backoff, skip, manual,
//! abort), rollback in reverse order, cancel at step boundaries, and resume after a crash.
//! This module is the step loop; `policy` is what a failure does, `rollback` the undoing and
//! `invocation` the call of one action. A single-action run is a one-step template run
//! ([`lever_catalog::single_action`]) and takes the same path.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lever_catalog::Entry;
use lever_sandbox::LogLine;
use lever_store::{
    GateState, RunClaim, RunRecord, RunStatus, StepChange, StepEnd, StepRecord, StepStart,
    StepStatus, StepUpdate, StoreError,
};
use lever_templates::Step;
use serde_json::{Value, json};

use crate::Executor;
use policy::backoff;

mod invocation;
mod policy;
mod rollback;

/// Why a step attempt failed, as stored: `{"kind", "message"}`.
pub(super) fn failure(kind: &str, message: impl Into<String>) -> Value {
    json!({"kind": kind, "message": message.into()})
}

pub(super) enum Polled {
    /// The wait is over; the step succeeded.
    Done,
    /// Not yet: the run waits for the next poll without holding a worker.
    Waiting,
    /// The poll failed for good, or the wait timed out.
    Failed(Value),
}

/// How [`Executor::begin_slowly`] left a step.
pub(super) enum Begun {
    /// Started with this input: invoke it.
    Started(Value),
    /// Done with (skipped, polled to its end, or failed and carried on): the next step.
    Next,
    /// The run parked, paused or waits at a gate: the execution ends here.
    Return,
    /// A cancel was asked for: roll back with this cause.
    Cancelled(Value),
}

/// Why a cancelled run stops: a rejection at a step's gate cancels with its own reason.
pub(super) fn cancel_cause(error: Option<Value>) -> Value {
    error
        .filter(|e| matches!(e["kind"].as_str(), Some("rejected" | "approval-expired")))
        .unwrap_or_else(|| failure("cancelled", "the run was cancelled"))
}

pub(crate) enum StepOutcome {
    Succeeded(Value),
    Failed { error: Value, retryable: bool },
}

impl Executor {
    /// Executes a run's steps: a template's, or a single action's one step
    /// ([`lever_catalog::single_action`]); one path for both.
    /// `steps` are its step rows as its claim read them.
    pub(crate) async fn execute_steps(
        &self,
        run: RunRecord,
        steps: Vec<StepRecord>,
    ) -> Result<(), StoreError> {
        let found = match &run.template {
            Some(name) => {
                self.catalog
                    .get_version(name, run.template_version.unwrap_or(1))
                    .await
            }
            // Runs submitted before actions were pinned name their version instead.
            None if run.pins.is_empty() => {
                lever_catalog::single_action(&format!("{}@{}", run.action, run.action_version))
                    .map(Arc::new)
            }
            None => lever_catalog::single_action(&run.action).map(Arc::new),
        };
        let entry = match found {
            Ok(entry) => entry,
            Err(e) => {
                let error = failure("template-unavailable", e.to_string());
                return self
                    .store
                    .set_claimed_run_status(
                        &self.claim(&run),
                        &run.id,
                        &[RunStatus::Running],
                        RunStatus::Failed,
                        None,
                        Some(&error),
                    )
                    .await;
            }
        };
        let name = entry.record.name.clone();
        let rows: HashMap<String, StepRecord> =
            steps.into_iter().map(|r| (r.id.clone(), r)).collect();
        let gated: HashSet<String> = self
            .store
            .run_stages(&run.id)
            .await?
            .into_iter()
            .filter_map(|s| s.step_id)
            .collect();
        let mut ctx = lever_catalog::context(&run.input, &run.requester);
        self.template_secrets(&run, &mut ctx).await?;
        for (id, row) in &rows {
            if row.status.is_done() {
                ctx["steps"][id] = json!({"output": row.output});
            }
        }
        if run.status == RunStatus::RollingBack {
            let cause = run
                .error
                .clone()
                .unwrap_or_else(|| failure("aborted", "the run was aborted"));
            return self
                .roll_back(&run, &entry, &ctx, cause, run.cancel_requested)
                .await;
        }
        // The last step's end, when it succeeded: committed with the next transition (the next
        // step's start, or the run's end), so that a step costs one write transaction.
        let mut ended: Option<StepEnd> = None;
        for step in &entry.parsed.template.steps {
            let row = rows
                .get(&step.id)
                .cloned()
                .expect("every template step has a row");
            if row.status.is_done() {
                continue;
            }
            // A step found `running` was in flight when the process died: resume the same
            // logical attempt, so the plugin sees the same idempotency key.
            let attempt = match row.status {
                StepStatus::Running => row.attempts.max(1),
                _ => row.attempts + 1,
            } as u32;
            let started_event = json!({"attempt": attempt, "node": self.scheduler.lease.node});
            let preparing = Instant::now();
            let input = match self.ready_input(step, &row, &gated, &ctx) {
                // The common case, folded: the last step's end, the fence, the cancel flag and
                // this step's start in one transaction.
                Some(input) => {
                    let committing = Instant::now();
                    lever_metrics::step_phase("prepare", (committing - preparing).as_secs_f64());
                    let stored = self.as_stored(&run.id, &input);
                    let start = self
                        .store
                        .start_step(
                            &run.id,
                            &self.scheduler.lease,
                            &self.claim(&run),
                            ended.take(),
                            &step.id,
                            attempt as i64,
                            stored.as_ref().unwrap_or(&input),
                            ("step-started", &started_event),
                        )
                        .await?;
                    lever_metrics::step_phase("commit", committing.elapsed().as_secs_f64());
                    if let StepStart::Cancelled(current) = start {
                        let cause = cancel_cause(current.error);
                        return self.roll_back(&run, &entry, &ctx, cause, true).await;
                    }
                    input
                }
                None => match self
                    .begin_slowly(
                        &run,
                        &entry,
                        step,
                        &row,
                        &gated,
                        &mut ctx,
                        &mut ended,
                        attempt,
                        &started_event,
                    )
                    .await?
                {
                    Begun::Started(input) => input,
                    Begun::Next => continue,
                    Begun::Return => return Ok(()),
                    Begun::Cancelled(cause) => {
                        return self.roll_back(&run, &entry, &ctx, cause, true).await;
                    }
                },
            };
            let mut lines = Vec::new();
            let invoking = Instant::now();
            let outcome = self
                .invoke_step(&run, step, attempt, &input, &mut lines)
                .await?;
            lever_metrics::step_phase("invoke", invoking.elapsed().as_secs_f64());
            if !matches!(&outcome, StepOutcome::Succeeded(_)) || step.wait_for.is_some() {
                self.keep_lines(&run, &step.id, std::mem::take(&mut lines))
                    .await?;
            }
            match outcome {
                StepOutcome::Succeeded(output) if step.wait_for.is_some() => {
                    let wait = step.wait_for.as_ref().expect("checked");
                    let deadline = self.clock.now_ms() + wait.timeout_ms as i64;
                    let polling = StepUpdate {
                        status: StepStatus::Polling,
                        output: Some(&output),
                        poll_deadline: Some(deadline),
                        ..Default::default()
                    };
                    self.store
                        .update_claimed_step(
                            &self.claim(&run),
                            &run.id,
                            &step.id,
                            &polling,
                            Some(("step-polling", &json!({"action": wait.call.action}))),
                        )
                        .await?;
                    // An output that says when to look first (`debug:wait`'s duration) parks
                    // the run until then: a row with a wake time, no worker held.
                    if let Some(ms) = output["next_poll_ms"].as_u64() {
                        self.park(&run, Duration::from_millis(ms)).await?;
                        return Ok(());
                    }
                    match self.poll(&run, step, &mut ctx, output, deadline).await? {
                        Polled::Done => {}
                        Polled::Waiting => return Ok(()),
                        Polled::Failed(error) => {
                            if self.fail_step(&run, &entry, &ctx, step, error).await? {
                                return Ok(());
                            }
                        }
                    }
                }
                StepOutcome::Succeeded(output) => {
                    ctx["steps"][&step.id] = json!({"output": output});
                    ended = Some(StepEnd {
                        step_id: step.id.clone(),
                        lines,
                        log_limit: self.log_limit(),
                        change: Some(StepChange {
                            status: StepStatus::Succeeded,
                            output: Some(output),
                            error: None,
                            event: (
                                "step-succeeded".into(),
                                json!({"attempt": attempt, "node": self.scheduler.lease.node}),
                            ),
                        }),
                    });
                }
                StepOutcome::Failed { error, retryable } => {
                    let attempts = step.retry.as_ref().map(|r| r.attempts).unwrap_or(1);
                    if retryable && attempt < attempts {
                        let delay = backoff(
                            step.retry
                                .as_ref()
                                .expect("attempts > 1 means a retry policy"),
                            attempt,
                        );
                        let waiting = StepUpdate {
                            status: StepStatus::Waiting,
                            error: Some(&error),
                            ..Default::default()
                        };
                        let data = json!({"attempt": attempt, "next_attempt": attempt + 1, "delay_ms": delay.as_millis() as u64, "error": error, "node": self.scheduler.lease.node});
                        self.store
                            .update_claimed_step(
                                &self.claim(&run),
                                &run.id,
                                &step.id,
                                &waiting,
                                Some(("retrying", &data)),
                            )
                            .await?;
                        self.park(&run, delay).await?;
                        return Ok(());
                    }
                    if self.fail_step(&run, &entry, &ctx, step, error).await? {
                        return Ok(());
                    }
                    ctx["steps"][&step.id] = json!({"output": null});
                }
            }
        }
        let output = match &entry.parsed.template.output {
            Value::Null => json!({}),
            o => match self.catalog.expressions().render_output(o, &ctx) {
                Ok((output, warnings)) => {
                    // Left-out values are not silent: the run's events and log say which.
                    if !warnings.is_empty() {
                        self.commit_end(&run, &mut ended).await?;
                        self.store
                            .append_claimed_event(
                                &self.claim(&run),
                                &run.id,
                                "output-warning",
                                None,
                                &json!({"warnings": warnings}),
                            )
                            .await?;
                        tracing::warn!(run = %run.id, template = %name, ?warnings, "output values left out");
                    }
                    lever_templates::keep_met_conditions(output)
                }
                // The run does not claim success with an output it could not give: it fails,
                // and its steps' effects are kept (they did what they were asked; undoing a
                // created resource because a link did not render would lose work).
                Err(e) => {
                    self.commit_end(&run, &mut ended).await?;
                    return self.fail_output(&run, &entry, e).await;
                }
            },
        };
        let output = self.masker(&run.id).mask_json(&output);
        // The last step's end and the run's in one transaction.
        self.finish(
            &run,
            RunStatus::Running,
            RunStatus::Succeeded,
            Some(&output),
            None,
            ended.take(),
        )
        .await?;
        tracing::info!(run = %run.id, template = %name, "run succeeded");
        Ok(())
    }

    /// Puts run `run`'s template secrets (sealed while it runs, `runs.secrets_ref`) in the
    /// expression context as `secrets`, each value registered with the run's masker, so no
    /// log line, output, error or stored input shows it. Gone (the run finished): none.
    async fn template_secrets(&self, run: &RunRecord, ctx: &mut Value) -> Result<(), StoreError> {
        let Some(name) = &run.secrets_ref else {
            return Ok(());
        };
        let opened = self
            .runner
            .secrets
            .get(name)
            .await
            .map_err(|e| StoreError::Refused(format!("the run's template secrets: {e}")))?;
        let Some(text) = opened else {
            return Ok(());
        };
        let values: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let masker = self.masker(&run.id);
        for value in values.as_object().into_iter().flat_map(|m| m.values()) {
            if let Some(value) = value.as_str().filter(|v| !v.is_empty()) {
                masker.register(value);
            }
        }
        ctx["secrets"] = values;
        Ok(())
    }

    /// A step's rendered input as it is stored and shown: masked when the run has values to
    /// mask (`None`: store it as it is).
    fn as_stored(&self, run_id: &str, input: &Value) -> Option<Value> {
        let masker = self.masker(run_id);
        (!masker.is_empty()).then(|| masker.mask_json(input))
    }

    /// Starts a step the folded path does not: the last step's end committed, the fence and
    /// the cancel flag read, then a `waitFor` poll resumed, a false `if` skipped, a gate opened
    /// or the input's error handled as the step's failure.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn begin_slowly(
        &self,
        run: &RunRecord,
        entry: &Entry,
        step: &Step,
        row: &StepRecord,
        gated: &HashSet<String>,
        ctx: &mut Value,
        ended: &mut Option<StepEnd>,
        attempt: u32,
        started_event: &Value,
    ) -> Result<Begun, StoreError> {
        self.commit_end(run, ended).await?;
        // Before any step attempt: this node still holds the run (no other node has taken
        // it up after this node's lease ran out).
        let current = self.fence(&run.id).await?;
        // A cancel stops a step that polls too: its wait is not resumed.
        if current.cancel_requested {
            // A rejection at a step's gate cancels with its own reason.
            return Ok(Begun::Cancelled(cancel_cause(current.error)));
        }
        if row.status == StepStatus::Polling {
            let output = row.output.clone().unwrap_or(Value::Null);
            match self
                .poll(run, step, ctx, output, row.poll_deadline.unwrap_or(0))
                .await?
            {
                Polled::Done => return Ok(Begun::Next),
                Polled::Waiting => return Ok(Begun::Return),
                Polled::Failed(error) => {
                    if self.fail_step(run, entry, ctx, step, error).await? {
                        return Ok(Begun::Return);
                    }
                    return Ok(Begun::Next);
                }
            }
        }
        match self.expressions_true(step, ctx) {
            Ok(true) => {}
            Ok(false) => {
                let update = StepUpdate {
                    status: StepStatus::Skipped,
                    ..Default::default()
                };
                self.store
                    .update_claimed_step(
                        &self.claim(run),
                        &run.id,
                        &step.id,
                        &update,
                        Some(("step-skipped", &json!({"reason": "its `if` is false"}))),
                    )
                    .await?;
                ctx["steps"][&step.id] = json!({"output": null});
                return Ok(Begun::Next);
            }
            Err(error) => {
                if self.fail_step(run, entry, ctx, step, error).await? {
                    return Ok(Begun::Return);
                }
                return Ok(Begun::Next);
            }
        }
        if gated.contains(&step.id)
            && row.status == StepStatus::Pending
            && self
                .store
                .open_step_gate(&run.id, &step.id, self.clock.now_ms())
                .await?
                == GateState::Waiting
        {
            self.store
                .append_claimed_event(
                    &self.claim(run),
                    &run.id,
                    "awaiting-approval",
                    Some(&step.id),
                    &json!({"step": step.id}),
                )
                .await?;
            return Ok(Begun::Return);
        }
        let input = if row.status == StepStatus::Edited {
            Ok(row.input.clone().unwrap_or(Value::Null))
        } else {
            self.render_input(step, ctx)
        };
        let input = match input {
            Ok(input) => input,
            Err(error) => {
                if self.fail_step(run, entry, ctx, step, error).await? {
                    return Ok(Begun::Return);
                }
                return Ok(Begun::Next);
            }
        };
        let stored = self.as_stored(&run.id, &input);
        let started = StepUpdate {
            status: StepStatus::Running,
            attempts: Some(attempt as i64),
            input: Some(stored.as_ref().unwrap_or(&input)),
            ..Default::default()
        };
        self.store
            .update_claimed_step(
                &self.claim(run),
                &run.id,
                &step.id,
                &started,
                Some(("step-started", started_event)),
            )
            .await?;
        Ok(Begun::Started(input))
    }

    /// The input of a step that simply starts now, so that its start folds with the last
    /// step's end: not a `waitFor` resumed, not behind a gate still to open, its `if` true
    /// and its input rendered. `None` sends the step down [`Executor::begin_slowly`].
    pub(super) fn ready_input(
        &self,
        step: &Step,
        row: &StepRecord,
        gated: &HashSet<String>,
        ctx: &Value,
    ) -> Option<Value> {
        if row.status == StepStatus::Polling
            || (gated.contains(&step.id) && row.status == StepStatus::Pending)
        {
            return None;
        }
        if !matches!(self.expressions_true(step, ctx), Ok(true)) {
            return None;
        }
        if row.status == StepStatus::Edited {
            return Some(row.input.clone().unwrap_or(Value::Null));
        }
        self.render_input(step, ctx).ok()
    }

    /// Commits the last step's end, if one is held, on its own: before a transition that does
    /// not carry it.
    pub(super) async fn commit_end(
        &self,
        run: &RunRecord,
        ended: &mut Option<StepEnd>,
    ) -> Result<(), StoreError> {
        match ended.take() {
            Some(end) => self
                .store
                .end_step(&run.id, Some(&self.claim(run)), end)
                .await
                .map(drop),
            None => Ok(()),
        }
    }

    /// This node's claim on `run`, as it was claimed: every write for it is fenced by it.
    pub(super) fn claim(&self, run: &RunRecord) -> RunClaim {
        RunClaim::of(run, &self.scheduler.lease.node)
    }

    /// Stores a step attempt's log lines (and their `log` and `progress` events) on their own.
    pub(super) async fn keep_lines(
        &self,
        run: &RunRecord,
        step_id: &str,
        lines: Vec<LogLine>,
    ) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let end = StepEnd {
            step_id: step_id.to_string(),
            lines,
            log_limit: self.log_limit(),
            change: None,
        };
        self.store
            .end_step(&run.id, Some(&self.claim(run)), end)
            .await
            .map(drop)
    }

    /// Polls a step's `waitFor` once. The poll sees the step's own output as
    /// `steps.<id>.output`; it answers `{"done": true, ...}` when the wait is over.
    pub(super) async fn poll(
        &self,
        run: &RunRecord,
        step: &Step,
        ctx: &mut Value,
        output: Value,
        deadline: i64,
    ) -> Result<Polled, StoreError> {
        let wait = step.wait_for.as_ref().expect("a polling step has waitFor");
        ctx["steps"][&step.id] = json!({"output": output});
        let outcome = match self.catalog.expressions().render(&wait.call.input, ctx) {
            Err(e) => StepOutcome::Failed {
                error: failure("invalid-input", e.to_string()),
                retryable: false,
            },
            Ok(input) => {
                self.invoke(
                    run,
                    &step.id,
                    &wait.call.action,
                    1,
                    &input,
                    step.timeout_ms,
                    "/wait",
                    None,
                    None,
                )
                .await?
            }
        };
        let not_done = match outcome {
            StepOutcome::Succeeded(answer) if answer["done"] == json!(true) => {
                let mut merged = output.clone();
                if merged.is_object() {
                    merged["wait"] = answer;
                }
                let done = StepUpdate {
                    status: StepStatus::Succeeded,
                    output: Some(&merged),
                    ..Default::default()
                };
                self.store
                    .update_claimed_step(
                        &self.claim(run),
                        &run.id,
                        &step.id,
                        &done,
                        Some(("step-succeeded", &json!({"waited": true}))),
                    )
                    .await?;
                ctx["steps"][&step.id] = json!({"output": merged});
                return Ok(Polled::Done);
            }
            StepOutcome::Succeeded(answer) => answer,
            StepOutcome::Failed {
                error,
                retryable: true,
            } => error,
            StepOutcome::Failed {
                error,
                retryable: false,
            } => return Ok(Polled::Failed(error)),
        };
        if self.clock.now_ms() >= deadline {
            return Ok(Polled::Failed(failure(
                "wait-timeout",
                format!(
                    "`{}` did not report done within {} ms (last answer: {not_done})",
                    wait.call.action, wait.timeout_ms
                ),
            )));
        }
        let polling = StepUpdate {
            status: StepStatus::Polling,
            output: Some(&output),
            poll_deadline: Some(deadline),
            ..Default::default()
        };
        // The answer may say when to look again (`next_poll_ms`: a provider's "check back in",
        // `debug:wait`'s remaining time); the template's interval otherwise.
        let next_poll_ms = not_done["next_poll_ms"]
            .as_u64()
            .unwrap_or(wait.interval_ms);
        let data = json!({"next_poll_ms": next_poll_ms, "answer": not_done});
        self.store
            .update_claimed_step(
                &self.claim(run),
                &run.id,
                &step.id,
                &polling,
                Some(("polling", &data)),
            )
            .await?;
        self.park(run, Duration::from_millis(next_poll_ms)).await?;
        Ok(Polled::Waiting)
    }

    /// The step's input, rendered. A step with `each` gets a list: its input rendered once
    /// per item, with `each.value` and `each.key`.
    pub(super) fn render_input(&self, step: &Step, ctx: &Value) -> Result<Value, Value> {
        let expressions = self.catalog.expressions();
        let bad = |e: lever_templates::ExpressionError| failure("invalid-input", e.to_string());
        let Some(each) = &step.each else {
            return expressions.render(&step.input, ctx).map_err(bad);
        };
        let items: Vec<(Value, Value)> = match expressions.render(each, ctx).map_err(bad)? {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (json!(i), v))
                .collect(),
            Value::Object(map) => map.into_iter().map(|(k, v)| (json!(k), v)).collect(),
            other => {
                return Err(failure(
                    "invalid-input",
                    format!(
                        "`each` of step `{}` must be a list or a mapping, not {other}",
                        step.id
                    ),
                ));
            }
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (key, value) in items {
            let mut item_ctx = ctx.clone();
            item_ctx["each"] = json!({"key": key, "value": value});
            inputs.push(expressions.render(&step.input, &item_ctx).map_err(bad)?);
        }
        Ok(Value::Array(inputs))
    }

    /// Ends a run: its workspace removed (or kept a while after a failure) before the run is
    /// reported finished, as nothing after needs it; then the final status and `run-finished`,
    /// in one transaction with `end`, the last step's end.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish(
        &self,
        run: &RunRecord,
        from: RunStatus,
        status: RunStatus,
        output: Option<&Value>,
        error: Option<&Value>,
        end: Option<StepEnd>,
    ) -> Result<(), StoreError> {
        let run_id = run.id.as_str();
        if let Some(workspaces) = &self.runner.workspaces {
            let failed = matches!(status, RunStatus::Failed | RunStatus::RollbackFailed);
            workspaces.finish(run_id, failed).await;
        }
        // A claim still `creating` when its run ends (its step skipped or abandoned after the
        // provider began; a rollback undid the rest) is left behind: orphaned, never forgotten.
        let note = format!(
            "run {run_id} ended {} before its provider finished creating it",
            status.as_str()
        );
        self.store.orphan_unfinished_claims(run_id, &note).await?;
        self.store
            .set_run_status_with_event(
                run_id,
                &[from],
                status,
                output,
                error,
                "run-finished",
                &json!({"status": status.as_str()}),
                end,
                Some(&self.claim(run)),
            )
            .await
    }

    pub(super) async fn rows(
        &self,
        run_id: &str,
    ) -> Result<HashMap<String, StepRecord>, StoreError> {
        Ok(self
            .store
            .run_steps(run_id)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect())
    }

    pub(super) fn expressions_true(&self, step: &Step, ctx: &Value) -> Result<bool, Value> {
        self.catalog
            .expressions()
            .is_true(step.condition.as_ref(), ctx)
            .map_err(|e| failure("invalid-condition", e.to_string()))
    }
}
