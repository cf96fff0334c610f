//! What a requester (or the platform team) can do to a run: retry it from its failed step,
//! retry or skip a paused step, abort a paused run, cancel one in flight.

use lever_store::{RunStatus, StepStatus, StepUpdate};
use serde_json::{Value, json};

use crate::{Executor, SubmitError};

impl Executor {
    pub(crate) fn run_not_found(id: &str) -> SubmitError {
        SubmitError::NotFound(format!("no run with id `{id}`"))
    }

    /// Restarts a failed or rolled-back run (a template's, or a single action's one step) from
    /// its failed step: steps that did not end `succeeded` or `skipped` run again.
    pub async fn retry_run(&self, id: &str) -> Result<(), SubmitError> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| Self::run_not_found(id))?;
        let from = [
            RunStatus::Failed,
            RunStatus::RolledBack,
            RunStatus::RollbackFailed,
        ];
        if !from.contains(&run.status) {
            return Err(SubmitError::Conflict(format!(
                "run {id} is {}; only failed or rolled-back runs can be retried",
                run.status.as_str()
            )));
        }
        for step in self.store.run_steps(id).await? {
            if !step.status.is_done() {
                self.store
                    .update_step(
                        id,
                        &step.id,
                        &StepUpdate {
                            status: StepStatus::Pending,
                            ..Default::default()
                        },
                        None,
                    )
                    .await?;
            }
        }
        self.store
            .set_run_status(id, &from, RunStatus::Pending, None, None)
            .await?;
        self.store
            .append_event(id, "run-retried", None, &json!({}))
            .await?;
        self.enqueue(id);
        Ok(())
    }

    /// Resolves a paused run's failed step: `retry` it (with an edited input if given) or `skip` it.
    pub async fn resolve_step(
        &self,
        id: &str,
        step_id: &str,
        retry: bool,
        input: Option<Value>,
    ) -> Result<(), SubmitError> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| Self::run_not_found(id))?;
        if run.status != RunStatus::Paused {
            return Err(SubmitError::Conflict(format!(
                "run {id} is {}, not paused",
                run.status.as_str()
            )));
        }
        let step =
            self.store.run_step(id, step_id).await?.ok_or_else(|| {
                SubmitError::NotFound(format!("run {id} has no step `{step_id}`"))
            })?;
        if step.status != StepStatus::Failed {
            return Err(SubmitError::Conflict(format!(
                "step `{step_id}` is {}, not the failed step",
                step.status.as_str()
            )));
        }
        let update = if retry {
            match &input {
                Some(edited) => StepUpdate {
                    status: StepStatus::Edited,
                    input: Some(edited),
                    error: step.error.as_ref(),
                    ..Default::default()
                },
                None => StepUpdate {
                    status: StepStatus::Pending,
                    error: step.error.as_ref(),
                    ..Default::default()
                },
            }
        } else {
            StepUpdate {
                status: StepStatus::Skipped,
                error: step.error.as_ref(),
                ..Default::default()
            }
        };
        let kind = if retry {
            "step-retry-requested"
        } else {
            "step-skipped"
        };
        self.store
            .update_step(id, step_id, &update, Some((kind, &json!({"by": "api"}))))
            .await?;
        self.store
            .set_run_status(id, &[RunStatus::Paused], RunStatus::Pending, None, None)
            .await?;
        self.enqueue(id);
        Ok(())
    }

    /// Aborts a paused run: completed steps roll back.
    pub async fn abort(&self, id: &str) -> Result<(), SubmitError> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| Self::run_not_found(id))?;
        if run.status != RunStatus::Paused {
            return Err(SubmitError::Conflict(format!(
                "run {id} is {}, not paused; use cancel for a running run",
                run.status.as_str()
            )));
        }
        self.store
            .set_run_status(
                id,
                &[RunStatus::Paused],
                RunStatus::RollingBack,
                None,
                run.error.as_ref(),
            )
            .await?;
        self.store
            .append_event(id, "run-aborted", None, &json!({}))
            .await?;
        self.enqueue(id);
        Ok(())
    }

    /// Cancels a run: it stops at the next step boundary and rolls back.
    pub async fn cancel(&self, id: &str) -> Result<(), SubmitError> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| Self::run_not_found(id))?;
        if run.status.is_final() {
            return Err(SubmitError::Conflict(format!(
                "run {id} is already {}",
                run.status.as_str()
            )));
        }
        self.store.request_cancel(id).await?;
        self.store
            .append_event(id, "cancel-requested", None, &json!({}))
            .await?;
        if run.status == RunStatus::AwaitingApproval {
            self.store.cancel_stages(id).await?;
        }
        // A run that holds no worker (paused, waiting for approvers or for its timer) is picked
        // up now to stop, rather than when it would have woken.
        if matches!(
            run.status,
            RunStatus::Paused | RunStatus::AwaitingApproval | RunStatus::Waiting
        ) {
            self.store
                .set_run_status(id, &[run.status], RunStatus::Pending, None, None)
                .await?;
            self.enqueue(id);
        }
        Ok(())
    }
}
