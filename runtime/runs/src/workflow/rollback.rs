//! Rollback: completed steps undone in reverse order — a step without `rollback:` by its
//! plugin's own `rollback` or, for a capability step, the inverse call — only what the run
//! itself created (`docs/resources.md`), each undo persisted.

use lever_catalog::Entry;
use lever_registry::PluginRef;
use lever_store::{RunRecord, RunStatus, StepRecord, StepStatus, StepUpdate, StoreError};
use lever_templates::{Step, plugin_reference};
use serde_json::{Value, json};

use super::{StepOutcome, failure};
use crate::Executor;

/// The call that undoes a capability step: from its stored input and output, or — for a step
/// that failed after its provider began (`failed_midway`: no output) — from its input alone
/// (`infrastructure.apply` → `destroy`).
fn inverse(step: &Step, row: &StepRecord, failed_midway: bool) -> Option<(String, Value)> {
    let (capability, function) = lever_capabilities::capability_action(&step.action)?;
    let output = match row.output.as_ref() {
        Some(output) if step.each.is_none() => output,
        _ if failed_midway => &Value::Null,
        _ => return None,
    };
    let (undo, undo_input) =
        lever_sandbox::capability_inverse(capability, function, row.input.as_ref()?, output)?;
    Some((format!("{capability}.{undo}"), undo_input))
}

impl Executor {
    /// Whether a plugin step is undone by its plugin's own `rollback`: the plugin says it
    /// undoes (`undoable` in its manifest), and the step ran once with one input.
    pub(super) async fn undoable(&self, run: &RunRecord, step: &Step, row: &StepRecord) -> bool {
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

    /// Rolls back completed steps in reverse order, each persisted, then ends the run:
    /// `rollback-failed` (listing what is left behind), `cancelled`, `rolled-back`, or
    /// `failed` when nothing needed undoing.
    pub(super) async fn roll_back(
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
            .set_claimed_run_status(
                &self.claim(run),
                &run.id,
                &from,
                RunStatus::RollingBack,
                None,
                Some(&cause),
            )
            .await?;
        self.store
            .append_claimed_event(
                &self.claim(run),
                &run.id,
                "rolling-back",
                None,
                &json!({"cause": cause}),
            )
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
            // A step cancelled while it polled (`waitFor`) had done its action: undone too.
            if !matches!(
                row.status,
                StepStatus::Succeeded | StepStatus::RollingBack | StepStatus::Polling
            ) && !failed_midway
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
                    .append_claimed_event(
                        &self.claim(run),
                        &run.id,
                        "rollback-kept",
                        Some(&step.id),
                        &keep,
                    )
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
                None => match inverse(step, row, failed_midway) {
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
                .update_claimed_step(
                    &self.claim(run),
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
                        .update_claimed_step(
                            &self.claim(run),
                            &run.id,
                            &step.id,
                            &done,
                            Some(("rolled-back", &json!({}))),
                        )
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
                        .update_claimed_step(
                            &self.claim(run),
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
            run,
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
}
