//! `roadiehq:utils:merge`: merges `content` into a JSON or YAML file of the workspace (Roadie's
//! scaffolder utility action, which templates of the corpus use).

use backstage_scaffolder::workspace;
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `roadiehq:utils:merge`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// The file, in the workspace (`.json`, `.yaml` or `.yml`).
    path: String,
    /// What to merge: an object, or its JSON/YAML text.
    content: Value,
    /// Concatenate arrays instead of replacing them.
    #[serde(default)]
    merge_arrays: Option<bool>,
}

fn merge(into: &mut Value, from: Value, arrays: bool) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v, arrays),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if arrays => a.extend(b),
        (slot, v) => *slot = v,
    }
}

#[action(
    name = "roadiehq-utils-merge",
    version = "0.1.0",
    description = "Merges content into a JSON or YAML file of the workspace (roadiehq:utils:merge)",
    workspace = true
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    workspace::require()?;
    let relative = workspace::safe_relative(&input.path, "path")?;
    let file = workspace::path(&relative);
    let text = std::fs::read_to_string(&file).map_err(|_| {
        ActionError::InvalidInput(format!(
            "path `{}` is not a file of the workspace; fetch it first",
            input.path
        ))
    })?;
    let json_file = relative.ends_with(".json");
    let content = match input.content {
        Value::String(s) => serde_yaml::from_str::<Value>(&s)
            .map_err(|e| ActionError::InvalidInput(format!("content is not JSON or YAML: {e}")))?,
        v => v,
    };
    let mut doc: Value = if json_file {
        serde_json::from_str(&text)
            .map_err(|e| ActionError::InvalidInput(format!("{} is not JSON: {e}", input.path)))?
    } else {
        serde_yaml::from_str(&text)
            .map_err(|e| ActionError::InvalidInput(format!("{} is not YAML: {e}", input.path)))?
    };
    merge(&mut doc, content, input.merge_arrays.unwrap_or(false));
    let out = if json_file {
        serde_json::to_string_pretty(&doc).map_err(|e| ActionError::Fatal(e.to_string()))? + "\n"
    } else {
        serde_yaml::to_string(&doc).map_err(|e| ActionError::Fatal(e.to_string()))?
    };
    workspace::write(&relative, out.as_bytes(), false)?;
    Ok(json!({"path": relative}))
}
