//! One invocation of a step's action — a capability call or a plugin in the sandbox — with
//! its log book, metrics, masking and recorded HTTP exchanges.

use std::time::Duration;

use lever_registry::PluginRef;
use lever_sandbox::{Call, CallContext, HttpPolicy, InvokeError, LogBook, LogLine};
use lever_store::{RunRecord, StoreError};
use lever_templates::{Step, plugin_reference};
use serde_json::{Value, json};

use super::{StepOutcome, failure};
use crate::Executor;

pub(super) fn invoke_failure(e: &InvokeError) -> Value {
    failure(e.code(), e.to_string())
}

/// Awaits `work` within the step's `timeout` (ms), if it has one; `Err(ms)` when it passed.
pub(super) async fn within<T>(
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

impl Executor {
    /// Runs a step's action once, or once per item of its `each` (output `{"results": [...]}`,
    /// stopping at the first failure; each item has its own idempotency key).
    pub(super) async fn invoke_step(
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

    /// One invocation of `action` for a step (or its rollback, with `suffix` `/rollback`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn invoke(
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
        let workspace = match (
            &self.runner.workspaces,
            &run.template,
            plugin.grants().workspace,
        ) {
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
            && let Some(workspaces) = &self.runner.workspaces
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
    pub(super) async fn log_or_keep(
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
            None => self.keep_lines(run, step_id, log.lines()).await,
        }
    }
}
