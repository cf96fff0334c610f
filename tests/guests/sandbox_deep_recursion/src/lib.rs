//! Recurses without bound: must end with stack-overflow.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[inline(never)]
#[allow(unconditional_recursion)]
fn dive(depth: u64) -> u64 {
    std::hint::black_box(dive(std::hint::black_box(depth + 1))) + 1
}

#[action(
    name = "sandbox-deep-recursion",
    version = "0.1.0",
    description = "Recurses forever"
)]
fn run(_ctx: &Context, _input: Value) -> Result<Value, ActionError> {
    Ok(Value::from(dive(0)))
}
