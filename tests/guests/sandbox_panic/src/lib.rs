//! Panics: must end with a trap carrying a backtrace, the panic message in the run log.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(name = "sandbox-panic", version = "0.1.0", description = "Panics")]
fn run(_ctx: &Context, _input: Value) -> Result<Value, ActionError> {
    panic!("guest panicked on purpose");
}
