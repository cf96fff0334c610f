//! Reconciling the inventory with the providers (`docs/resources.md`): each `live` resource's
//! provider is asked for its workspace's outputs; one that answers `not-found` no longer has it,
//! and the resource is marked `drifted` with a note. A provider that cannot be reached leaves
//! the resource as it is, counted as unchecked.

use lever_sandbox::{CallContext, LogBook};
use lever_store::{ResourceFilter, resource_state};

use serde::Serialize;
use serde_json::json;

use crate::{Capabilities, Scope, adapter, error};

/// What one reconciliation found.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Reconciled {
    /// Live resources asked about.
    pub checked: usize,
    /// The ids of those the provider no longer has, now `drifted`.
    pub drifted: Vec<String>,
    /// Those whose provider did not answer (or whose binding is gone), left as they were.
    pub unchecked: Vec<String>,
}

impl Capabilities {
    /// Asks each live resource's provider whether it still has it; marks the gone `drifted`.
    pub async fn reconcile(&self) -> Result<Reconciled, lever_sandbox::CapabilityError> {
        let filter = ResourceFilter {
            state: Some(resource_state::LIVE.into()),
            ..Default::default()
        };
        let live = self
            .store
            .resources(&filter, 10_000)
            .await
            .map_err(|e| error("retryable", format!("the resource inventory failed: {e}")))?;
        let mut found = Reconciled::default();
        for resource in live {
            found.checked += 1;
            // Only infrastructure workspaces are in the inventory today.
            let Some(binding) = self.bindings.get(&resource.binding) else {
                found.unchecked.push(resource.id.clone());
                continue;
            };
            let scope = Scope {
                context: CallContext {
                    run_id: "reconcile".into(),
                    step_id: resource.id.clone(),
                    attempt: 1,
                    requester: "lever".into(),
                    environment: resource.environment.clone(),
                    ..Default::default()
                },
                log: LogBook::new(16 * 1024),
                host: None,
                owner: None,
                template: None,
            };
            let input = json!({"workspace": resource.scope});
            let answer = if binding.is_builtin() {
                self.builtins
                    .call(&scope, binding, "infrastructure", "outputs", &input, false)
                    .await
            } else {
                adapter::call(self, &scope, binding, "infrastructure", "outputs", &input).await
            };
            match answer {
                Ok(_) => {}
                Err(e) if e.kind == "not-found" => {
                    let note = format!(
                        "`{}` no longer has workspace `{}`: {}",
                        resource.provider, resource.scope, e.message
                    );
                    let drifted = self
                        .store
                        .resource_drifted(&resource.id, &note)
                        .await
                        .map_err(|e| error("retryable", e.to_string()))?;
                    if drifted {
                        tracing::warn!(resource = %resource.id, workspace = %resource.scope, "a live resource is gone from its provider: drifted");
                        found.drifted.push(resource.id);
                    }
                }
                Err(e) => {
                    tracing::info!(resource = %resource.id, error = %e.message, "reconcile could not ask the provider");
                    found.unchecked.push(resource.id);
                }
            }
        }
        Ok(found)
    }
}
