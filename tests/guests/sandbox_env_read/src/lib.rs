//! Lists the environment it sees. The host gives none, so it reports that as denied.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[action(
    name = "sandbox-env-read",
    version = "0.1.0",
    description = "Reads the environment"
)]
fn run(_ctx: &Context, _input: Value) -> Result<Value, ActionError> {
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    if vars.is_empty() {
        Err(ActionError::Denied(
            "no environment variables are visible".into(),
        ))
    } else {
        Ok(json!({ "visible": vars }))
    }
}
