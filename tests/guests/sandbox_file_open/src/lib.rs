//! Tries to read host files; reports what it got. No directory is preopened, so it must fail.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[action(
    name = "sandbox-file-open",
    version = "0.1.0",
    description = "Tries to read /etc/passwd"
)]
fn run(_ctx: &Context, _input: Value) -> Result<Value, ActionError> {
    match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => Ok(json!({ "read": text.len() })),
        Err(e) => Err(ActionError::Denied(format!("open /etc/passwd failed: {e}"))),
    }
}
