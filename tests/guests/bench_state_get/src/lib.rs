//! Calls lever:host/state get `n` times: measures a host call round trip.
use lever_sdk::state::{Scope, get};
use lever_sdk::{ActionError, Context, action};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    n: u64,
}

#[action(
    name = "bench-state-get",
    version = "0.1.0",
    description = "Reads state n times"
)]
fn run(_ctx: &Context, input: Input) -> Result<u64, ActionError> {
    let mut found = 0;
    for _ in 0..input.n {
        if get(Scope::Run, "k")?.is_some() {
            found += 1;
        }
    }
    Ok(found)
}
