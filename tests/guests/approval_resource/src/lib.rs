//! A standard-risk action whose plan costs what its input says: lets approval tests set the
//! estimated monthly cost.
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    name: String,
    #[serde(default)]
    monthly_usd: f64,
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    Ok(Plan {
        summary: format!("Create `{}`", input.name),
        resources: vec![PlannedResource {
            kind: "test-resource".into(),
            name: input.name,
            change: "create".into(),
            monthly_cost_cents: Some((input.monthly_usd * 100.0).round() as u64),
        }],
        permissions: vec![],
    })
}

#[action(name = "approval-resource", version = "0.1.0", description = "Creates a test resource with a given monthly cost", plan = plan)]
fn run(ctx: &Context, input: Input) -> Result<Value, ActionError> {
    Ok(json!({ "created": input.name, "by": ctx.requester }))
}
