//! `debug:fail`: fails on purpose — its first `timesToFail` attempts as retryable, then
//! succeeds (the counter lives in the run's state, so a retried step sees it).

use lever_sdk::state::{self, Scope};
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `debug:fail`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// How many attempts fail before one succeeds (1 by default).
    #[serde(default)]
    times_to_fail: Option<u32>,
}

#[action(
    name = "debug-fail",
    version = "0.1.0",
    description = "Fails its first attempts on purpose"
)]
fn run(ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let times = input.times_to_fail.unwrap_or(1);
    let key = format!("debug-fail/{}", ctx.step_id);
    let failed = state::get(Scope::Run, &key)?
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    if failed < times {
        state::set(Scope::Run, &key, (failed + 1).to_string().as_bytes())?;
        return Err(ActionError::Retryable(format!(
            "failing on purpose: {} of {times} (debug:fail timesToFail)",
            failed + 1
        )));
    }
    Ok(json!({"failed": failed}))
}
