//! Returns `size` bytes of output: over the limit it must end with output-too-large.
use lever_sdk::{ActionError, Context, action};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    size: usize,
}

#[action(
    name = "sandbox-output-too-large",
    version = "0.1.0",
    description = "Returns a huge output"
)]
fn run(_ctx: &Context, input: Input) -> Result<String, ActionError> {
    Ok("x".repeat(input.size))
}
