//! `catalog:write`: writes a catalog entity as YAML into the workspace.

use backstage_scaffolder::workspace;
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `catalog:write`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// The entity.
    entity: Value,
    /// Where (`catalog-info.yaml`).
    #[serde(default)]
    file_path: Option<String>,
}

#[action(
    name = "catalog-write",
    version = "0.1.0",
    description = "Writes a catalog entity file into the workspace (Backstage's catalog:write)",
    workspace = true
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    workspace::require()?;
    let path = input.file_path.as_deref().unwrap_or("catalog-info.yaml");
    let relative = workspace::safe_relative(path, "filePath")?;
    let yaml = serde_yaml::to_string(&input.entity)
        .map_err(|e| ActionError::InvalidInput(format!("entity cannot be written as YAML: {e}")))?;
    workspace::write(&relative, yaml.as_bytes(), false)?;
    Ok(json!({"filePath": relative}))
}
