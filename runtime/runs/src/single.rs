//! Single-action runs: one invocation, its log, its result.

use lever_registry::PluginRef;
use lever_sandbox::{Call, CallContext, HttpPolicy, LogBook};
use lever_store::{RunRecord, StoreError};
use serde_json::json;

use crate::Executor;

impl Executor {
    pub(crate) async fn execute_action(&self, run: RunRecord) -> Result<(), StoreError> {
        let reference = PluginRef {
            name: run.action.clone(),
            version: Some(run.action_version.clone()),
        };
        let result = match self.registry.resolve(&reference).await {
            Err(e) => Err(json!({"kind": "not-found", "message": e.to_string()})),
            Ok((_, plugin)) => {
                let masker = self.masker(&run.id);
                let log = LogBook::masked_by(plugin.limits().max_log_bytes, masker.clone());
                let context = CallContext {
                    run_id: run.id.clone(),
                    step_id: "main".into(),
                    attempt: 1,
                    // One logical attempt: a run resumed after a crash keeps its key.
                    idempotency_key: format!("{}/main/1", run.id),
                    requester: run.requester.clone(),
                    environment: run.environment.clone(),
                };
                let recording = crate::replay::recording();
                let call = Call {
                    services: self.services(&run, &context, &log, &run.input),
                    context,
                    log: log.clone(),
                    workspace: None,
                    http: HttpPolicy {
                        record: Some(recording.clone()),
                        answers: None,
                    },
                };
                let started = std::time::Instant::now();
                let result = self
                    .registry
                    .sandbox()
                    .run(&plugin, &call, &run.input)
                    .await;
                lever_metrics::step_finished(
                    &run.action,
                    result.as_ref().map_or_else(|e| e.code(), |_| "ok"),
                    started.elapsed().as_secs_f64(),
                );
                self.store_log(&run.id, &log).await?;
                crate::replay::keep(&self.store, &run, "main", 1, &recording).await?;
                // Output and error masked: the plugin may have echoed a secret it revealed.
                result.map(|output| masker.mask_json(&output)).map_err(|e| {
                    masker.mask_json(&json!({"kind": e.code(), "message": e.to_string()}))
                })
            }
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
