//! The plan a guest returns, as the host's serde type (`lever_plugin::ExecutionPlan`).

use lever_plugin::{ExecutionPlan, PlannedResource};

use crate::bindings::wit;

impl From<wit::ExecutionPlan> for ExecutionPlan {
    fn from(p: wit::ExecutionPlan) -> Self {
        Self {
            summary: p.summary,
            resources: p
                .resources
                .into_iter()
                .map(|r| PlannedResource {
                    kind: r.kind,
                    name: r.name,
                    change: r.change,
                    monthly_cost_cents: r.monthly_cost_cents,
                    existing: None,
                })
                .collect(),
            permissions: p.permissions,
        }
    }
}
