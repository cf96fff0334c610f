//! Single-action runs: the run is its one invocation, through the same path as a template
//! step's ([`Executor::invoke`]: the pinned plugin, the log book, the metrics, the masking,
//! the recorded HTTP exchanges); its output or error is the run's.

use lever_store::{RunRecord, StoreError};

use crate::Executor;
use crate::workflow::StepOutcome;

/// The step id a single action's invocation is recorded under.
const STEP: &str = "main";

impl Executor {
    pub(crate) async fn execute_action(&self, run: RunRecord) -> Result<(), StoreError> {
        // Runs submitted before actions were pinned name their version instead.
        let action = if run.pins.is_empty() {
            format!("{}@{}", run.action, run.action_version)
        } else {
            run.action.clone()
        };
        // One logical attempt: a run resumed after a crash keeps its idempotency key.
        let outcome = self
            .invoke(&run, STEP, &action, 1, &run.input, None, "", None, None)
            .await?;
        let result = match outcome {
            StepOutcome::Succeeded(output) => Ok(output),
            StepOutcome::Failed { error, .. } => Err(error),
        };
        match &result {
            Ok(_) => tracing::info!(run = %run.id, action = %run.action, "run succeeded"),
            Err(e) => {
                tracing::info!(run = %run.id, action = %run.action, error = %e["kind"], "run failed")
            }
        }
        self.store.finish_run(&run.id, result.as_ref()).await
    }
}
