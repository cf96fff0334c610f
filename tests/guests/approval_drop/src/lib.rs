//! A high-risk action (it stands for deleting a database): policies route it to security review.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    name: String,
}

#[action(
    name = "approval-drop",
    version = "0.1.0",
    description = "Deletes a test resource (high risk)",
    risk = "high"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    Ok(json!({ "dropped": input.name }))
}
