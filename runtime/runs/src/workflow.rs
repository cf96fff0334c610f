//! Template runs: steps in order (each `needs` only earlier steps), inputs rendered from
//! parameters and earlier outputs, per-step failure policy (retry with backoff, skip, manual,
//! abort), rollback in reverse order, cancel at step boundaries, and resume after a crash.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use lever_catalog::Entry;
use lever_registry::PluginRef;
use lever_sandbox::{Call, CallContext, HttpPolicy, InvokeError, LogBook, LogLine};
use lever_store::{
    GateState, RunRecord, RunStatus, StepChange, StepEnd, StepRecord, StepStart, StepStatus,
    StepUpdate, StoreError,
};
use lever_templates::{OnFailure, Retry, Step, plugin_reference};
use serde_json::{Value, json};

use crate::Executor;

/// Why a step attempt failed, as stored: `{"kind", "message"}`.
fn failure(kind: &str, message: impl Into<String>) -> Value {
    json!({"kind": kind, "message": message.into()})
}

fn invoke_failure(e: &InvokeError) -> Value {
    failure(e.code(), e.to_string())
}

/// Awaits `work` within the step's `timeout` (ms), if it has one; `Err(ms)` when it passed.
async fn within<T>(
    timeout_ms: Option<u64>,
    work: impl std::future::Future<Output = T>,
) -> Result<T, u64> {
    match timeout_ms {
        Some(ms) => tokio::time::timeout(Duration::from_millis(ms), work)
            .await
            .map_err(|_| ms),
        None => Ok(work.await),
    }
}

/// The call that undoes a capability step, from its stored input and output.
fn inverse(step: &Step, row: &StepRecord) -> Option<(String, Value)> {
    let (capability, function) = lever_capabilities::capability_action(&step.action)?;
    if step.each.is_some() {
        return None;
    }
    let (input, output) = (row.input.as_ref()?, row.output.as_ref()?);
    let (undo, undo_input) =
        lever_sandbox::capability_inverse(capability, function, input, output)?;
    Some((format!("{capability}.{undo}"), undo_input))
}

/// The call that undoes a capability step that failed after its provider began (no output):
/// the inverse computed from its input alone (`infrastructure.apply` → `destroy`).
fn inverse_of_failed(step: &Step, row: &StepRecord) -> Option<(String, Value)> {
    let (capability, function) = lever_capabilities::capability_action(&step.action)?;
    let (undo, undo_input) =
        lever_sandbox::capability_inverse(capability, function, row.input.as_ref()?, &Value::Null)?;
    Some((format!("{capability}.{undo}"), undo_input))
}

/// Delay before attempt `attempt + 1`.
fn backoff(retry: &Retry, attempt: u32) -> Duration {
    let ms = if retry.exponential {
        retry
            .delay_ms
            .saturating_mul(1u64 << (attempt.saturating_sub(1)).min(20))
    } else {
        retry.delay_ms
    };
    Duration::from_millis(ms.min(retry.max_delay_ms))
}

enum Polled {
    /// The wait is over; the step succeeded.
    Done,
    /// Not yet: the run waits for the next poll without holding a worker.
    Waiting,
    /// The poll failed for good, or the wait timed out.
    Failed(Value),
}

/// How [`Executor::begin_slowly`] left a step.
enum Begun {
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
fn cancel_cause(error: Option<Value>) -> Value {
    error
        .filter(|e| matches!(e["kind"].as_str(), Some("rejected" | "approval-expired")))
        .unwrap_or_else(|| failure("cancelled", "the run was cancelled"))
}

enum StepOutcome {
    Succeeded(Value),
    Failed { error: Value, retryable: bool },
}

impl Executor {
    pub(crate) async fn execute_template(&self, run: RunRecord) -> Result<(), StoreError> {
        let (name, version) = (
            run.template.clone().expect("template run"),
            run.template_version.unwrap_or(1),
        );
        let entry = match self.catalog.get_version(&name, version).await {
            Ok(entry) => entry,
            Err(e) => {
                let error = failure("template-unavailable", e.to_string());
                return self
                    .store
                    .set_run_status(
                        &run.id,
                        &[RunStatus::Running],
                        RunStatus::Failed,
                        None,
                        Some(&error),
                    )
                    .await;
            }
        };
        let rows = self.rows(&run.id).await?;
        let gated: HashSet<String> = self
            .store
            .run_stages(&run.id)
            .await?
            .into_iter()
            .filter_map(|s| s.step_id)
            .collect();
        let mut ctx = lever_catalog::context(&run.input, &run.requester);
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
            let started_event = json!({"attempt": attempt, "node": self.lease.node});
            let preparing = Instant::now();
            let input = match self.ready_input(step, &row, &gated, &ctx) {
                // The common case, folded: the last step's end, the fence, the cancel flag and
                // this step's start in one transaction.
                Some(input) => {
                    let committing = Instant::now();
                    lever_metrics::step_phase("prepare", (committing - preparing).as_secs_f64());
                    let start = self
                        .store
                        .start_step(
                            &run.id,
                            &self.lease,
                            ended.take(),
                            &step.id,
                            attempt as i64,
                            &input,
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
                self.keep_lines(&run.id, &step.id, std::mem::take(&mut lines))
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
                        .update_step(
                            &run.id,
                            &step.id,
                            &polling,
                            Some(("step-polling", &json!({"action": wait.call.action}))),
                        )
                        .await?;
                    // An output that says when to look first (`debug:wait`'s duration) parks
                    // the run until then: a row with a wake time, no worker held.
                    if let Some(ms) = output["next_poll_ms"].as_u64() {
                        self.park(&run.id, Duration::from_millis(ms)).await?;
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
                                json!({"attempt": attempt, "node": self.lease.node}),
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
                        let data = json!({"attempt": attempt, "next_attempt": attempt + 1, "delay_ms": delay.as_millis() as u64, "error": error, "node": self.lease.node});
                        self.store
                            .update_step(&run.id, &step.id, &waiting, Some(("retrying", &data)))
                            .await?;
                        self.park(&run.id, delay).await?;
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
                        self.commit_end(&run.id, &mut ended).await?;
                        self.store
                            .append_event(
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
                    self.commit_end(&run.id, &mut ended).await?;
                    return self.fail_output(&run, &entry, e).await;
                }
            },
        };
        let output = self.masker(&run.id).mask_json(&output);
        // The last step's end and the run's in one transaction.
        self.finish(
            &run.id,
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

    /// Starts a step the folded path does not: the last step's end committed, the fence and
    /// the cancel flag read, then a `waitFor` poll resumed, a false `if` skipped, a gate opened
    /// or the input's error handled as the step's failure.
    #[allow(clippy::too_many_arguments)]
    async fn begin_slowly(
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
        self.commit_end(&run.id, ended).await?;
        // Before any step attempt: this node still holds the run (no other node has taken
        // it up after this node's lease ran out).
        let current = self.fence(&run.id).await?;
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
        if current.cancel_requested {
            // A rejection at a step's gate cancels with its own reason.
            return Ok(Begun::Cancelled(cancel_cause(current.error)));
        }
        match self.expressions_true(step, ctx) {
            Ok(true) => {}
            Ok(false) => {
                let update = StepUpdate {
                    status: StepStatus::Skipped,
                    ..Default::default()
                };
                self.store
                    .update_step(
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
                .append_event(
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
        let started = StepUpdate {
            status: StepStatus::Running,
            attempts: Some(attempt as i64),
            input: Some(&input),
            ..Default::default()
        };
        self.store
            .update_step(
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
    fn ready_input(
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
    async fn commit_end(
        &self,
        run_id: &str,
        ended: &mut Option<StepEnd>,
    ) -> Result<(), StoreError> {
        match ended.take() {
            Some(end) => self.store.end_step(run_id, end).await.map(drop),
            None => Ok(()),
        }
    }

    /// Stores a step attempt's log lines (and their `log` and `progress` events) on their own.
    async fn keep_lines(
        &self,
        run_id: &str,
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
        self.store.end_step(run_id, end).await.map(drop)
    }

    /// Whether a plugin step is undone by its plugin's own `rollback`: the plugin says it
    /// undoes (`undoable` in its manifest), and the step ran once with one input.
    async fn undoable(&self, run: &RunRecord, step: &Step, row: &StepRecord) -> bool {
        if lever_capabilities::capability_action(&step.action).is_some()
            || step.each.is_some()
            || row.input.is_none()
        {
            return false;
        }
        let Ok(reference) = PluginRef::parse(&plugin_reference(&step.action)) else {
            return false;
        };
        // The version the step ran: the run's pin.
        self.resolve_for(run, &step.action, &reference)
            .await
            .is_ok_and(|plugin| plugin.manifest().undoable)
    }

    /// Polls a step's `waitFor` once. The poll sees the step's own output as
    /// `steps.<id>.output`; it answers `{"done": true, ...}` when the wait is over.
    async fn poll(
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
                    .update_step(
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
            .update_step(&run.id, &step.id, &polling, Some(("polling", &data)))
            .await?;
        self.park(&run.id, Duration::from_millis(next_poll_ms))
            .await?;
        Ok(Polled::Waiting)
    }

    /// The step's input, rendered. A step with `each` gets a list: its input rendered once
    /// per item, with `each.value` and `each.key`.
    fn render_input(&self, step: &Step, ctx: &Value) -> Result<Value, Value> {
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

    /// Runs a step's action once, or once per item of its `each` (output `{"results": [...]}`,
    /// stopping at the first failure; each item has its own idempotency key).
    async fn invoke_step(
        &self,
        run: &RunRecord,
        step: &Step,
        attempt: u32,
        input: &Value,
        lines: &mut Vec<LogLine>,
    ) -> Result<StepOutcome, StoreError> {
        // One invocation's log is kept for the step's end; the items of an `each` store theirs
        // as each ends, so a long loop's log is live.
        if step.each.is_none() {
            return self
                .invoke(
                    run,
                    &step.id,
                    &step.action,
                    attempt,
                    input,
                    step.timeout_ms,
                    "",
                    None,
                    Some(lines),
                )
                .await;
        }
        let mut results = Vec::new();
        for (i, item) in input.as_array().into_iter().flatten().enumerate() {
            match self
                .invoke(
                    run,
                    &step.id,
                    &step.action,
                    attempt,
                    item,
                    step.timeout_ms,
                    &format!("/{i}"),
                    None,
                    None,
                )
                .await?
            {
                StepOutcome::Succeeded(output) => results.push(output),
                failed => return Ok(failed),
            }
        }
        Ok(StepOutcome::Succeeded(json!({"results": results})))
    }

    /// Ends a run whose steps all succeeded but whose `spec.output` did not render.
    async fn fail_output(
        &self,
        run: &RunRecord,
        entry: &Entry,
        e: lever_templates::ExpressionError,
    ) -> Result<(), StoreError> {
        let line = e
            .line_in(&entry.record.source)
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        let message = format!(
            "every step succeeded and its effects are kept, but the template's output did not render{line}: {e}; fix spec.output and apply the template again"
        );
        let error = self
            .masker(&run.id)
            .mask_json(&failure("invalid-output", message));
        self.finish(
            &run.id,
            RunStatus::Running,
            RunStatus::Failed,
            None,
            Some(&error),
            None,
        )
        .await?;
        tracing::warn!(run = %run.id, template = %entry.record.name, "run failed: its output did not render");
        Ok(())
    }

    /// Ends a run: its workspace removed (or kept a while after a failure) before the run is
    /// reported finished, as nothing after needs it; then the final status and `run-finished`,
    /// in one transaction with `end`, the last step's end.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        run_id: &str,
        from: RunStatus,
        status: RunStatus,
        output: Option<&Value>,
        error: Option<&Value>,
        end: Option<StepEnd>,
    ) -> Result<(), StoreError> {
        if let Some(workspaces) = &self.workspaces {
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
            )
            .await
    }

    async fn rows(&self, run_id: &str) -> Result<HashMap<String, StepRecord>, StoreError> {
        Ok(self
            .store
            .run_steps(run_id)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect())
    }

    fn expressions_true(&self, step: &Step, ctx: &Value) -> Result<bool, Value> {
        self.catalog
            .expressions()
            .is_true(step.condition.as_ref(), ctx)
            .map_err(|e| failure("invalid-condition", e.to_string()))
    }

    /// Applies the step's failure policy. Returns `true` when the run stops here (paused or
    /// rolled back), `false` when it carries on (skip).
    async fn fail_step(
        &self,
        run: &RunRecord,
        entry: &Entry,
        ctx: &Value,
        step: &Step,
        error: Value,
    ) -> Result<bool, StoreError> {
        match step.on_failure {
            OnFailure::Skip => {
                let update = StepUpdate {
                    status: StepStatus::Skipped,
                    error: Some(&error),
                    ..Default::default()
                };
                self.store
                    .update_step(
                        &run.id,
                        &step.id,
                        &update,
                        Some(("step-skipped", &json!({"error": error}))),
                    )
                    .await?;
                Ok(false)
            }
            OnFailure::Manual => {
                let update = StepUpdate {
                    status: StepStatus::Failed,
                    error: Some(&error),
                    ..Default::default()
                };
                self.store
                    .update_step(
                        &run.id,
                        &step.id,
                        &update,
                        Some(("step-failed", &json!({"error": error}))),
                    )
                    .await?;
                self.store
                    .set_run_status(
                        &run.id,
                        &[RunStatus::Running],
                        RunStatus::Paused,
                        None,
                        Some(&error),
                    )
                    .await?;
                let data = json!({"step": step.id, "actions": ["retry", "skip", "abort"]});
                self.store
                    .append_event(&run.id, "run-paused", Some(&step.id), &data)
                    .await?;
                Ok(true)
            }
            OnFailure::Abort | OnFailure::Retry => {
                let update = StepUpdate {
                    status: StepStatus::Failed,
                    error: Some(&error),
                    ..Default::default()
                };
                self.store
                    .update_step(
                        &run.id,
                        &step.id,
                        &update,
                        Some(("step-failed", &json!({"error": error}))),
                    )
                    .await?;
                self.roll_back(
                    run,
                    entry,
                    ctx,
                    json!({"kind": error["kind"], "message": error["message"], "step": step.id}),
                    false,
                )
                .await?;
                Ok(true)
            }
        }
    }

    /// Rolls back completed steps in reverse order, each persisted, then ends the run:
    /// `rollback-failed` (listing what is left behind), `cancelled`, `rolled-back`, or
    /// `failed` when nothing needed undoing.
    async fn roll_back(
        &self,
        run: &RunRecord,
        entry: &Entry,
        ctx: &Value,
        cause: Value,
        cancelled: bool,
    ) -> Result<(), StoreError> {
        let from = [
            RunStatus::Running,
            RunStatus::RollingBack,
            RunStatus::Pending,
        ];
        self.store
            .set_run_status(&run.id, &from, RunStatus::RollingBack, None, Some(&cause))
            .await?;
        self.store
            .append_event(&run.id, "rolling-back", None, &json!({"cause": cause}))
            .await?;
        let rows = self.rows(&run.id).await?;
        let mut left_behind = Vec::new();
        let mut kept = Vec::new();
        let mut undone = 0;
        for step in entry.parsed.template.steps.iter().rev() {
            let row = &rows[&step.id];
            // What the step claimed in the inventory, for a call that creates what Lever
            // tracks (an infrastructure workspace): only that is undone (`docs/resources.md`).
            let tracked = lever_capabilities::capability_action(&step.action)
                .and_then(|(c, f)| lever_capabilities::tracked_scope(c, f, row.input.as_ref()?));
            let claimed = match &tracked {
                Some(_) => self
                    .store
                    .resources_of_step(&run.id, &step.id)
                    .await?
                    .into_iter()
                    .filter(|r| {
                        matches!(
                            r.state.as_str(),
                            lever_store::resource_state::CREATING
                                | lever_store::resource_state::LIVE
                        )
                    })
                    .collect(),
                None => Vec::new(),
            };
            // A step that failed after its provider began creating (its claim still
            // `creating`) is undone too: what it made is the run's.
            let failed_midway = row.status == StepStatus::Failed && !claimed.is_empty();
            if !matches!(row.status, StepStatus::Succeeded | StepStatus::RollingBack)
                && !failed_midway
            {
                continue;
            }
            if let Some(workspace) = &tracked
                && claimed.is_empty()
            {
                // The step found the resource in place (its team's, from before the run):
                // it is left as it was, and the run says so.
                let why = row
                    .output
                    .as_ref()
                    .and_then(|o| o["message"].as_str())
                    .unwrap_or("it existed before this run")
                    .to_string();
                let keep = json!({"step": step.id, "workspace": workspace, "reason": why});
                self.store
                    .append_event(&run.id, "rollback-kept", Some(&step.id), &keep)
                    .await?;
                kept.push(keep);
                continue;
            }
            // An explicit `rollback`, else the inverse of a capability call (a created
            // repository is deleted, an applied workspace destroyed...).
            let undo = match &step.rollback {
                Some(rollback) => self
                    .catalog
                    .expressions()
                    .render(&rollback.input, ctx)
                    .map(|input| (rollback.action.clone(), input, None))
                    .map_err(|e| e.to_string()),
                None => match inverse(step, row).or_else(|| {
                    failed_midway
                        .then(|| inverse_of_failed(step, row))
                        .flatten()
                }) {
                    Some((action, input)) => Ok((action, input, None)),
                    // A plugin step is undone by the plugin's own `rollback`, given the step's
                    // input and output (a published repository deleted, a pull request closed).
                    None if self.undoable(run, step, row).await => Ok((
                        step.action.clone(),
                        row.input.clone().unwrap_or(Value::Null),
                        Some(row.output.clone().unwrap_or(Value::Null)),
                    )),
                    None => continue,
                },
            };
            let action = undo
                .as_ref()
                .map(|(a, _, _)| a.clone())
                .unwrap_or_else(|_| step.action.clone());
            self.fence(&run.id).await?;
            let started = StepUpdate {
                status: StepStatus::RollingBack,
                output: row.output.as_ref(),
                ..Default::default()
            };
            self.store
                .update_step(
                    &run.id,
                    &step.id,
                    &started,
                    Some(("rollback-started", &json!({"action": action}))),
                )
                .await?;
            let outcome = match undo {
                Err(e) => StepOutcome::Failed {
                    error: failure("invalid-input", e),
                    retryable: false,
                },
                Ok((action, input, undo_of)) => {
                    self.invoke(
                        run,
                        &step.id,
                        &action,
                        1,
                        &input,
                        step.timeout_ms,
                        "/rollback",
                        undo_of.as_ref(),
                        None,
                    )
                    .await?
                }
            };
            match outcome {
                StepOutcome::Succeeded(_) => {
                    undone += 1;
                    let done = StepUpdate {
                        status: StepStatus::RolledBack,
                        output: row.output.as_ref(),
                        ..Default::default()
                    };
                    self.store
                        .update_step(&run.id, &step.id, &done, Some(("rolled-back", &json!({}))))
                        .await?;
                }
                StepOutcome::Failed { error, .. } => {
                    left_behind.push(step.id.clone());
                    // What it created stays, unused: the inventory shows it to the platform
                    // team as orphaned, never forgotten.
                    let note = format!(
                        "the rollback of step {} in run {} failed: {}",
                        step.id,
                        run.id,
                        error["message"].as_str().unwrap_or("no message")
                    );
                    for resource in &claimed {
                        self.store
                            .end_resource(
                                &resource.id,
                                lever_store::resource_state::ORPHANED,
                                None,
                                Some(&note),
                            )
                            .await?;
                    }
                    let failed = StepUpdate {
                        status: StepStatus::RollbackFailed,
                        output: row.output.as_ref(),
                        error: Some(&error),
                        ..Default::default()
                    };
                    self.store
                        .update_step(
                            &run.id,
                            &step.id,
                            &failed,
                            Some(("rollback-failed", &json!({"error": error}))),
                        )
                        .await?;
                }
            }
        }
        let rejected = matches!(
            cause["kind"].as_str(),
            Some("rejected" | "approval-expired")
        );
        let status = if !left_behind.is_empty() {
            RunStatus::RollbackFailed
        } else if rejected {
            RunStatus::Rejected
        } else if cancelled {
            RunStatus::Cancelled
        } else if undone > 0 {
            RunStatus::RolledBack
        } else {
            RunStatus::Failed
        };
        let mut error = cause;
        if !kept.is_empty() {
            error["kept"] = json!(kept);
        }
        if !left_behind.is_empty() {
            error["left_behind"] = json!(left_behind);
            error["message"] = json!(format!(
                "{} — and the rollback of {} failed: these steps' effects are left behind",
                error["message"].as_str().unwrap_or(""),
                left_behind.join(", ")
            ));
        }
        self.finish(
            &run.id,
            RunStatus::RollingBack,
            status,
            None,
            Some(&error),
            None,
        )
        .await?;

        tracing::info!(run = %run.id, status = status.as_str(), "run ended after rollback");
        Ok(())
    }

    /// One invocation of `action` for a step (or its rollback, with `suffix` `/rollback`).
    #[allow(clippy::too_many_arguments)]
    async fn invoke(
        &self,
        run: &RunRecord,
        step_id: &str,
        action: &str,
        attempt: u32,
        input: &Value,
        timeout_ms: Option<u64>,
        suffix: &str,
        undo_of: Option<&Value>,
        keep: Option<&mut Vec<LogLine>>,
    ) -> Result<StepOutcome, StoreError> {
        let context = CallContext {
            run_id: run.id.clone(),
            step_id: step_id.to_string(),
            attempt,
            idempotency_key: format!("{}/{step_id}{suffix}/{attempt}", run.id),
            requester: run.requester.clone(),
            environment: run.environment.clone(),
        };
        if let Some((capability, function)) = lever_capabilities::capability_action(action) {
            let masker = self.masker(&run.id);
            let log = LogBook::masked_by(256 * 1024, masker.clone());
            let scope = lever_capabilities::Scope {
                context,
                log: log.clone(),
                host: lever_capabilities::route_host(input),
                owner: run.owner_team.clone(),
                template: run.template.clone(),
            };
            let call =
                self.catalog
                    .capabilities()
                    .run_step(&scope, capability, function, input.clone());
            let started = std::time::Instant::now();
            let result = within(timeout_ms, call).await.unwrap_or_else(|ms| {
                Err(lever_sandbox::CapabilityError {
                    kind: "retryable",
                    message: format!("`{action}` did not finish within {ms} ms"),
                })
            });
            lever_metrics::step_finished(
                action,
                result.as_ref().map_or_else(|e| e.kind, |_| "ok"),
                started.elapsed().as_secs_f64(),
            );
            self.log_or_keep(run, step_id, &log, keep).await?;
            return Ok(match result {
                Ok(output) => StepOutcome::Succeeded(masker.mask_json(&output)),
                Err(e) => StepOutcome::Failed {
                    retryable: e.kind == "retryable",
                    error: masker.mask_json(&failure(e.kind, e.message)),
                },
            });
        }
        let reference = match PluginRef::parse(&plugin_reference(action)) {
            Ok(r) => r,
            Err(e) => {
                return Ok(StepOutcome::Failed {
                    error: failure("missing-action", format!("`{action}`: {e}")),
                    retryable: false,
                });
            }
        };
        let plugin = match self.resolve_for(run, action, &reference).await {
            Ok(plugin) => plugin,
            Err(e) => {
                return Ok(StepOutcome::Failed {
                    error: failure("missing-action", format!("`{action}`: {e}")),
                    retryable: false,
                });
            }
        };
        let masker = self.masker(&run.id);
        let log = LogBook::masked_by(plugin.limits().max_log_bytes, masker.clone());
        // A template run lends its workspace to a plugin that asks for it.
        let workspace = match (&self.workspaces, &run.template, plugin.grants().workspace) {
            (Some(workspaces), Some(name), true) => {
                let bundle_path = self
                    .catalog
                    .get_version(name, run.template_version.unwrap_or(1))
                    .await
                    .ok()
                    .and_then(|e| e.record.bundle_path.clone());
                match workspaces
                    .prepare(&self.store, run, bundle_path.as_deref())
                    .await
                {
                    Ok(w) => Some(w),
                    Err(e) => {
                        return Ok(StepOutcome::Failed {
                            error: failure("workspace", e.to_string()),
                            retryable: true,
                        });
                    }
                }
            }
            _ => None,
        };
        let lent = workspace.is_some();
        let recording = crate::replay::recording();
        let call = Call {
            services: self.services(run, &context, &log, input),
            context,
            log: log.clone(),
            workspace,
            http: HttpPolicy {
                record: Some(recording.clone()),
                answers: None,
            },
        };
        let sandbox = self.registry.sandbox();
        let invocation = async {
            match undo_of {
                None => sandbox.run(&plugin, &call, input).await,
                Some(output) => sandbox
                    .rollback(&plugin, &call, input, output)
                    .await
                    .map(|()| json!({})),
            }
        };
        let started = std::time::Instant::now();
        let result = within(timeout_ms, invocation)
            .await
            .unwrap_or_else(|ms| Err(InvokeError::DeadlinePassed { timeout_ms: ms }));
        lever_metrics::step_finished(
            action,
            result.as_ref().map_or_else(|e| e.code(), |_| "ok"),
            started.elapsed().as_secs_f64(),
        );
        self.log_or_keep(run, step_id, &log, keep).await?;
        crate::replay::keep(&self.store, run, step_id, call.context.attempt, &recording).await?;
        // A step that filled the workspace past its quota fails, whatever it answered.
        if lent
            && let Some(workspaces) = &self.workspaces
            && let Some((used, limit)) = workspaces.over_quota(&run.id).await
        {
            return Ok(StepOutcome::Failed {
                error: failure(
                    "workspace-quota",
                    format!(
                        "the run's workspace holds {used} bytes, over its quota of {limit}: write less, or raise workspace.max_bytes_per_run in lever.yaml"
                    ),
                ),
                retryable: false,
            });
        }
        // Output and error masked before anything stores them: the plugin may have echoed a
        // secret it revealed.
        Ok(match result {
            Ok(output) => StepOutcome::Succeeded(masker.mask_json(&output)),
            Err(e) => StepOutcome::Failed {
                retryable: e.is_retryable(),
                error: masker.mask_json(&invoke_failure(&e)),
            },
        })
    }

    /// An invocation's log lines: into `keep` for the step's end, or stored now (with their
    /// `log` and `progress` events) when there is none.
    async fn log_or_keep(
        &self,
        run: &RunRecord,
        step_id: &str,
        log: &LogBook,
        keep: Option<&mut Vec<LogLine>>,
    ) -> Result<(), StoreError> {
        match keep {
            Some(lines) => {
                lines.extend(log.lines());
                Ok(())
            }
            None => self.keep_lines(&run.id, step_id, log.lines()).await,
        }
    }
}
