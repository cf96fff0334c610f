use crate::bindings::lever::plugin::types as wit;

/// One resource a plan would create, change or delete.
#[derive(Debug, Clone, Default)]
pub struct PlannedResource {
    /// Kind of resource (`postgresql-database`).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// `create`, `update` or `delete`.
    pub change: String,
    /// Estimated monthly cost in US cents.
    pub monthly_cost_cents: Option<u64>,
}

/// What `run` would do with an input, without doing it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One sentence for the preview.
    pub summary: String,
    /// Resources it would touch.
    pub resources: Vec<PlannedResource>,
    /// Permissions it would grant.
    pub permissions: Vec<String>,
}

impl From<Plan> for wit::ExecutionPlan {
    fn from(p: Plan) -> Self {
        wit::ExecutionPlan {
            summary: p.summary,
            resources: p
                .resources
                .into_iter()
                .map(|r| wit::PlannedResource {
                    kind: r.kind,
                    name: r.name,
                    change: r.change,
                    monthly_cost_cents: r.monthly_cost_cents,
                })
                .collect(),
            permissions: p.permissions,
        }
    }
}
