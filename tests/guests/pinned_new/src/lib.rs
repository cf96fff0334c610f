//! `pinned-echo` 0.2.0: answers which version ran; published while a run submitted with
//! 0.1.0 (`pinned_old`) waits for approval, which must not run it.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    message: String,
}

#[action(
    name = "pinned-echo",
    version = "0.2.0",
    description = "Says which version ran"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    Ok(json!({"version": "0.2.0", "message": input.message}))
}
