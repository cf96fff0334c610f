//! `pinned-echo` 0.1.0: answers which version ran. Its 0.2.0 (`pinned_new`) is published while
//! a run submitted with this one waits for approval; the run must still run this one.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    message: String,
}

#[action(
    name = "pinned-echo",
    version = "0.1.0",
    description = "Says which version ran"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    Ok(json!({"version": "0.1.0", "message": input.message}))
}
