//! `debug-log`: writes a message to the run log, like Backstage's `debug:log`.

use lever_sdk::{ActionError, Context, action};

/// Input of `debug-log`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The message to write to the run log.
    message: Option<String>,
    /// Also log the files of the run's workspace, with their sizes (Backstage's `listWorkspace`).
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
    version = "0.2.0",
    description = "Writes a message to the run log",
    workspace = true
)]
fn run(ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let message = input.message.unwrap_or_default();
    lever_sdk::log::info(&message);
    let listed = match &input.list_workspace {
        None | Some(serde_json::Value::Bool(false)) | Some(serde_json::Value::Null) => false,
        Some(_) => true,
    };
    if listed {
        let root = std::path::Path::new("/workspace");
        if root.is_dir() {
            let mut files = Vec::new();
            list(root, root, &mut files);
            files.sort();
            lever_sdk::log::info(&format!("workspace: {} files", files.len()));
            for file in files {
                lever_sdk::log::info(&file);
            }
        } else {
            lever_sdk::log::info(&format!(
                "step {} has no workspace to list (single actions run without one)",
                ctx.step_id
            ));
        }
    }
    Ok(Output { message })
}

/// Every file under `dir`, as `path (N bytes)` relative to `root`.
fn list(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => list(root, &path, out),
            Ok(m) => out.push(format!(
                "{} ({} bytes)",
                path.strip_prefix(root).unwrap_or(&path).display(),
                m.len()
            )),
            Err(_) => {}
        }
    }
}
