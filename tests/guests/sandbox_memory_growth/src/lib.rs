//! Allocates and touches 1 MiB after 1 MiB: must end with memory-limit.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "sandbox-memory-growth",
    version = "0.1.0",
    description = "Grows memory without bound"
)]
fn run(_ctx: &Context, _input: Value) -> Result<Value, ActionError> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(std::hint::black_box(vec![7u8; 1 << 20]));
    }
}
