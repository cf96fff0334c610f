//! Spins forever: must end with fuel-exhausted or deadline-passed.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "sandbox-infinite-loop",
    version = "0.1.0",
    description = "Loops forever"
)]
fn run(_ctx: &Context, _input: Value) -> Result<Value, ActionError> {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}
