//! `debug-log`: writes a message to the run log, like Backstage's `debug:log`.

use lever_sdk::{ActionError, Context, action};

/// Input of `debug-log`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The message to write to the run log.
    message: Option<String>,
    /// Also list the files in the workspace (kept for Backstage compatibility; Lever steps have no workspace).
    #[serde(rename = "listWorkspace", default)]
    list_workspace: Option<serde_json::Value>,
}

/// Output of `debug-log`.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Output {
    /// The message that was logged.
    message: String,
}

#[action(
    name = "debug-log",
    version = "0.1.0",
    description = "Writes a message to the run log"
)]
fn run(ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let message = input.message.unwrap_or_default();
    lever_sdk::log::info(&message);
    if input.list_workspace.is_some() {
        lever_sdk::log::debug(&format!("step {} has no workspace to list", ctx.step_id));
    }
    Ok(Output { message })
}
