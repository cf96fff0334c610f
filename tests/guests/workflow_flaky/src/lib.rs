//! Fails with a retryable error until attempt `succeed_on`, then echoes its input.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    succeed_on: u32,
}

#[action(
    name = "workflow-flaky",
    version = "0.1.0",
    description = "Fails until a given attempt"
)]
fn run(ctx: &Context, input: Input) -> Result<Value, ActionError> {
    if ctx.attempt < input.succeed_on {
        return Err(ActionError::Retryable(format!(
            "attempt {} of {} fails on purpose",
            ctx.attempt, input.succeed_on
        )));
    }
    Ok(json!({ "attempt": ctx.attempt, "key": ctx.idempotency_key }))
}
