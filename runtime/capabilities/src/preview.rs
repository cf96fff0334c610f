//! What a capability step would do, for the preview and the approval policy: the bound
//! provider's own plan for `infrastructure.apply` (with its cost), a described resource for
//! the other calls, and the risk of each function.

use lever_sandbox::{CapabilityError, ExecutionPlan, ExistingResource, PlannedResource, Risk};
use serde_json::{Value, json};

use crate::{Capabilities, Scope};

/// Deleting and destroying are high-risk; creating and reading are standard.
pub fn risk(capability: &str, function: &str) -> Risk {
    match (capability, function) {
        ("git-provider", "delete-repository")
        | ("secrets-store", "delete")
        | ("infrastructure", "destroy")
        | ("observability", "delete")
        | ("software-catalog", "unregister-location") => Risk::High,
        _ => Risk::Standard,
    }
}

/// A resource that exists where Lever has no record of it (owned there by `provider_owner`).
fn unmanaged(provider_owner: Option<String>) -> ExistingResource {
    ExistingResource {
        owner: None,
        managed: false,
        resource_id: None,
        created_by_run: None,
        requester: None,
        state: None,
        provider_owner,
        secrets: Vec::new(),
    }
}

fn resource(kind: &str, name: &Value, change: &str) -> PlannedResource {
    let name = name
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| name.to_string());
    PlannedResource {
        kind: kind.into(),
        name,
        change: change.into(),
        monthly_cost_cents: None,
        existing: None,
    }
}

impl Capabilities {
    /// An infrastructure call's planned resources with what Lever's inventory knows of the
    /// workspace. Held (by this team or another), every resource is annotated with its owner:
    /// an apply that changes its cost is an `update` (a resize) costing the new figure, else it
    /// `exists` and costs nothing new. Not held, what the provider found `exists` with no owner
    /// in Lever, and a destroy or a rotation of it acts on what Lever did not create.
    async fn with_owners(
        &self,
        scope: &Scope,
        function: &str,
        input: &Value,
        mut resources: Vec<PlannedResource>,
    ) -> Result<Vec<PlannedResource>, CapabilityError> {
        let (key, _) = self.keyed_binding("infrastructure", scope.host.as_deref())?;
        let workspace = input["workspace"].as_str().unwrap_or_default();
        let held = self
            .store
            .held_resource(key, workspace)
            .await
            .map_err(|e| {
                crate::error("retryable", format!("the resource inventory failed: {e}"))
            })?;
        let Some(held) = held else {
            // An adapter's plan does not say whether the workspace exists: asked, one that does
            // exists outside Lever (the built-in provider's plan says so itself).
            let binding = self.binding("infrastructure", scope.host.as_deref())?;
            let outside = function == "apply"
                && !binding.is_builtin()
                && matches!(self.absent_at(scope, binding, workspace).await, Err(e) if e.kind == "denied");
            for planned in &mut resources {
                if outside {
                    planned.change = "exists".into();
                    planned.existing = Some(unmanaged(None));
                }
                if planned.change == "exists" {
                    planned.monthly_cost_cents = None;
                }
                if function != "apply" {
                    planned.existing = Some(unmanaged(None));
                }
            }
            return Ok(resources);
        };
        if resources.is_empty() {
            resources.push(resource("workspace", &input["workspace"], "exists"));
        }
        for planned in &mut resources {
            let provider_owner = planned
                .existing
                .as_ref()
                .and_then(|e| e.provider_owner.clone());
            if function == "apply" {
                let held_cost = held.monthly_cost_cents.map(|c| c.max(0) as u64);
                if planned.monthly_cost_cents.is_some() && planned.monthly_cost_cents != held_cost {
                    planned.change = "update".into();
                } else {
                    planned.change = "exists".into();
                    planned.monthly_cost_cents = None;
                }
            }
            planned.existing = Some(ExistingResource {
                owner: Some(held.owner.clone()),
                managed: true,
                resource_id: Some(held.id.clone()),
                created_by_run: Some(held.run_id.clone()),
                requester: Some(held.requester.clone()),
                state: Some(held.state.clone()),
                provider_owner,
                secrets: held.secrets.clone(),
            });
        }
        Ok(resources)
    }

    /// The plan of one capability call, changing nothing.
    pub async fn plan(
        &self,
        scope: &Scope,
        capability: &str,
        function: &str,
        input: &Value,
    ) -> Result<ExecutionPlan, CapabilityError> {
        let via = &self.binding(capability, scope.host.as_deref())?.adapter;
        let summary = format!("{capability}.{function} through `{via}`");
        let resources = match (capability, function) {
            ("infrastructure", "apply") => {
                let plan = self
                    .call(scope, "infrastructure", "plan", input.clone())
                    .await?;
                let cost = plan["monthly_cost_cents"].as_u64();
                let changes = plan["changes"].as_array().cloned().unwrap_or_default();
                let mut resources: Vec<PlannedResource> = changes
                    .iter()
                    .map(|c| {
                        let address = c["address"].as_str().unwrap_or_default();
                        let kind = address
                            .split('.')
                            .next()
                            .unwrap_or(address)
                            .replace('_', "-");
                        let mut planned = resource(
                            &kind,
                            &c["address"],
                            c["action"].as_str().unwrap_or("create"),
                        );
                        if planned.change == "unchanged" {
                            planned.change = "exists".into();
                            planned.existing =
                                Some(unmanaged(c["owner"].as_str().map(str::to_string)));
                        }
                        planned
                    })
                    .collect();
                match resources.last_mut() {
                    Some(last) => last.monthly_cost_cents = cost,
                    None if cost.is_some() => resources.push(PlannedResource {
                        monthly_cost_cents: cost,
                        ..resource("workspace", &input["workspace"], "update")
                    }),
                    None => {}
                }
                self.with_owners(scope, "apply", input, resources).await?
            }
            ("infrastructure", "destroy") => {
                let resources = vec![resource("workspace", &input["workspace"], "delete")];
                self.with_owners(scope, "destroy", input, resources).await?
            }
            ("infrastructure", "rotate-credentials") => {
                let resources = vec![resource("credentials", &input["workspace"], "update")];
                self.with_owners(scope, "rotate-credentials", input, resources)
                    .await?
            }
            ("git-provider", "create-repository") => vec![resource(
                "repository",
                &json!(format!(
                    "{}/{}",
                    input["owner"].as_str().unwrap_or(""),
                    input["name"].as_str().unwrap_or("")
                )),
                "create",
            )],
            ("git-provider", "delete-repository") => {
                vec![resource("repository", &input["full_name"], "delete")]
            }
            ("git-provider", "create-pull-request") => {
                vec![resource("pull-request", &input["repository"], "create")]
            }
            ("git-provider", "grant-team-access") => {
                vec![resource("repository-access", &input["team"], "update")]
            }
            ("git-provider", "grant-user-access") => {
                vec![resource("repository-access", &input["user"], "update")]
            }
            ("software-catalog", "register-location") => {
                vec![resource("catalog-location", &input["target"], "create")]
            }
            ("software-catalog", "unregister-location") => {
                vec![resource("catalog-location", &input["id"], "delete")]
            }
            ("git-provider", "commit-files") => {
                vec![resource("commit", &input["repository"], "create")]
            }
            ("git-provider", "configure-repository") => {
                vec![resource("repository", &input["repository"], "update")]
            }
            ("secrets-store", "put" | "rotate") => {
                vec![resource("secret", &input["path"], "update")]
            }
            ("secrets-store", "delete") => vec![resource("secret", &input["path"], "delete")],
            ("observability", "create-dashboard") => {
                vec![resource("dashboard", &input["title"], "create")]
            }
            ("observability", "create-monitor") => {
                vec![resource("monitor", &input["name"], "create")]
            }
            ("observability", "delete") => vec![resource(
                input["kind"].as_str().unwrap_or("object"),
                &input["id"],
                "delete",
            )],
            _ => Vec::new(),
        };
        let permissions = match (capability, function) {
            ("git-provider", "grant-team-access") => vec![format!(
                "{} on {} for team {}",
                input["permission"].as_str().unwrap_or(""),
                input["repository"].as_str().unwrap_or(""),
                input["team"].as_str().unwrap_or("")
            )],
            ("git-provider", "grant-user-access") => vec![format!(
                "{} on {} for user {}",
                input["permission"].as_str().unwrap_or(""),
                input["repository"].as_str().unwrap_or(""),
                input["user"].as_str().unwrap_or("")
            )],
            _ => Vec::new(),
        };
        Ok(ExecutionPlan {
            summary,
            resources,
            permissions,
        })
    }
}
