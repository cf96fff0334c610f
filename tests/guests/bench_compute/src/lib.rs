//! Pure compute for `iterations` rounds: measures fuel metering overhead.
use lever_sdk::{ActionError, Context, action};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    iterations: u64,
}

#[action(name = "bench-compute", version = "0.1.0", description = "Hashes in a loop")]
fn run(_ctx: &Context, input: Input) -> Result<u64, ActionError> {
    let mut h: u64 = 0xcbf29ce484222325;
    for i in 0..input.iterations {
        h ^= i;
        h = h.wrapping_mul(0x100000001b3);
        h ^= h >> 29;
    }
    Ok(h)
}
