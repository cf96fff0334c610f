//! Fails with the error kind it is given (`fatal` or `retryable`) and `message`.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    kind: String,
    message: String,
}

#[action(
    name = "workflow-fail",
    version = "0.1.0",
    description = "Always fails"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    Err(match input.kind.as_str() {
        "retryable" => ActionError::Retryable(input.message),
        _ => ActionError::Fatal(input.message),
    })
}
