//! What a capability step would do, for the preview and the approval policy: the bound
//! provider's own plan for `infrastructure.apply` (with its cost), a described resource for
//! the other calls, and the risk of each function.

use lever_sandbox::{CapabilityError, ExecutionPlan, PlannedResource, Risk};
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
    }
}

impl Capabilities {
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
                        resource(
                            &kind,
                            &c["address"],
                            c["action"].as_str().unwrap_or("create"),
                        )
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
                resources
            }
            ("infrastructure", "destroy") => {
                vec![resource("workspace", &input["workspace"], "delete")]
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
