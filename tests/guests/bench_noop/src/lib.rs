//! Does nothing: measures the cost of one invocation.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "bench-noop",
    version = "0.1.0",
    description = "Returns its input"
)]
fn run(_ctx: &Context, input: Value) -> Result<Value, ActionError> {
    Ok(input)
}
