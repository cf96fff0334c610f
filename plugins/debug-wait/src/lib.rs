//! `debug:wait`: waits, durably. The step answers how long (`next_poll_ms`), the engine parks
//! the run for that long — a row with a wake time, no worker held, surviving a restart — and
//! the poll it then makes (`{"poll": true}`, the `waitFor` Lever gives every `debug:wait`
//! step) ends the wait.

use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `debug:wait`: Backstage's `minutes`, `seconds`, `milliseconds` (added up).
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// Minutes.
    #[serde(default)]
    minutes: Option<f64>,
    /// Seconds.
    #[serde(default)]
    seconds: Option<f64>,
    /// Milliseconds.
    #[serde(default)]
    milliseconds: Option<f64>,
    /// Set by the engine's poll after the wait.
    #[serde(default)]
    poll: Option<bool>,
}

/// The longest wait, as Backstage bounds it (ten minutes).
const MAX_MS: f64 = 10.0 * 60_000.0;

#[action(
    name = "debug-wait",
    version = "0.1.0",
    description = "Waits for a while, durably (Backstage's debug:wait)"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    if input.poll == Some(true) {
        return Ok(json!({"done": true}));
    }
    let ms = input.minutes.unwrap_or(0.0) * 60_000.0
        + input.seconds.unwrap_or(0.0) * 1000.0
        + input.milliseconds.unwrap_or(0.0);
    if !(0.0..=MAX_MS).contains(&ms) {
        return Err(ActionError::InvalidInput(format!(
            "debug:wait waits from 0 to 10 minutes; {ms} ms asked"
        )));
    }
    lever_sdk::log::info(&format!("waiting {} ms", ms as u64));
    Ok(json!({"next_poll_ms": ms as u64, "waitedMs": ms as u64}))
}
