//! A failed step's policy: retry with backoff, skip, pause for a person, or abort (roll back).

use std::time::Duration;

use lever_catalog::Entry;
use lever_store::{RunRecord, RunStatus, StepStatus, StepUpdate, StoreError};
use lever_templates::{OnFailure, Retry, Step};
use serde_json::{Value, json};

use super::failure;
use crate::Executor;

/// Delay before attempt `attempt + 1`.
pub(super) fn backoff(retry: &Retry, attempt: u32) -> Duration {
    let ms = if retry.exponential {
        retry
            .delay_ms
            .saturating_mul(1u64 << (attempt.saturating_sub(1)).min(20))
    } else {
        retry.delay_ms
    };
    Duration::from_millis(ms.min(retry.max_delay_ms))
}

impl Executor {
    /// Ends a run whose steps all succeeded but whose `spec.output` did not render.
    pub(super) async fn fail_output(
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
            run,
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

    /// Applies the step's failure policy. Returns `true` when the run stops here (paused or
    /// rolled back), `false` when it carries on (skip).
    pub(super) async fn fail_step(
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
                    .update_claimed_step(
                        &self.claim(run),
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
                    .update_claimed_step(
                        &self.claim(run),
                        &run.id,
                        &step.id,
                        &update,
                        Some(("step-failed", &json!({"error": error}))),
                    )
                    .await?;
                self.store
                    .set_claimed_run_status(
                        &self.claim(run),
                        &run.id,
                        &[RunStatus::Running],
                        RunStatus::Paused,
                        None,
                        Some(&error),
                    )
                    .await?;
                let data = json!({"step": step.id, "actions": ["retry", "skip", "abort"]});
                self.store
                    .append_claimed_event(
                        &self.claim(run),
                        &run.id,
                        "run-paused",
                        Some(&step.id),
                        &data,
                    )
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
                    .update_claimed_step(
                        &self.claim(run),
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
}
