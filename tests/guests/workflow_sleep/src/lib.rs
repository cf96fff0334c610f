//! Sleeps `ms` milliseconds (a host wait, not a busy loop), then returns how long it slept.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    ms: u64,
}

#[action(name = "workflow-sleep", version = "0.1.0", description = "Sleeps")]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    std::thread::sleep(std::time::Duration::from_millis(input.ms));
    Ok(json!({ "slept_ms": input.ms }))
}
