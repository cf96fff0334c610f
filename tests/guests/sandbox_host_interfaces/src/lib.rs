//! Exercises lever:host: run and plugin state, a granted and a refused secret, progress.
use lever_sdk::state::Scope;
use lever_sdk::{ActionError, Context, action, log, secrets, state};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    granted: String,
    refused: String,
}

#[action(
    name = "sandbox-host-interfaces",
    version = "0.1.0",
    description = "Uses state, secrets and progress",
    secrets = ["granted/*"]
)]
fn run(ctx: &Context, input: Input) -> Result<Value, ActionError> {
    log::progress(10, "starting");
    let before = state::get(Scope::Plugin, "count")?
        .map(|v| String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0))
        .unwrap_or(0);
    state::set(Scope::Plugin, "count", (before + 1).to_string().as_bytes())?;
    state::set(Scope::Run, "seen", ctx.run_id.as_bytes())?;
    let run_value =
        state::get(Scope::Run, "seen")?.map(|v| String::from_utf8_lossy(&v).into_owned());
    let secret = secrets::reveal(&input.granted)?;
    let refused = match secrets::reveal(&input.refused) {
        Ok(_) => "revealed".to_string(),
        Err(e) => format!("{e:?}"),
    };
    log::progress(100, "done");
    Ok(json!({
        "plugin_count": before + 1,
        "run_state": run_value,
        "secret_length": secret.len(),
        "refused": refused,
        "idempotency_key": ctx.idempotency_key,
    }))
}
