//! `fs:rename`: moves files or folders inside the workspace.

use backstage_scaffolder::workspace;
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// One move.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Move {
    /// From (a workspace path).
    from: String,
    /// To (a workspace path).
    to: String,
    /// Replace what is there.
    #[serde(default)]
    overwrite: Option<bool>,
}

/// Input of `fs:rename`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// The moves, in order.
    files: Vec<Move>,
}

#[action(
    name = "fs-rename",
    version = "0.1.0",
    description = "Renames files in the workspace (Backstage's fs:rename)",
    workspace = true
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    workspace::require()?;
    for m in &input.files {
        let from = workspace::path(&workspace::safe_relative(&m.from, "files[].from")?);
        let to = workspace::path(&workspace::safe_relative(&m.to, "files[].to")?);
        if !from.exists() {
            return Err(ActionError::InvalidInput(format!(
                "files[].from `{}` is not in the workspace",
                m.from
            )));
        }
        if to.exists() && m.overwrite != Some(true) {
            return Err(ActionError::InvalidInput(format!(
                "files[].to `{}` exists; set overwrite: true to replace it",
                m.to
            )));
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                ActionError::Fatal(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::rename(&from, &to)
            .map_err(|e| ActionError::Fatal(format!("cannot move {} to {}: {e}", m.from, m.to)))?;
    }
    Ok(json!({"moved": input.files.len()}))
}
