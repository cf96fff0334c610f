//! `fs:delete`: deletes files or folders of the workspace (globs allowed).

use backstage_scaffolder::workspace;
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `fs:delete`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// Paths in the workspace; `*` and `**` globs allowed.
    files: Vec<String>,
}

#[action(
    name = "fs-delete",
    version = "0.1.0",
    description = "Deletes files from the workspace (Backstage's fs:delete)",
    workspace = true
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    workspace::require()?;
    let all = workspace::read_tree(workspace::ROOT, std::path::Path::new(workspace::ROOT))?;
    let mut deleted = 0;
    for file in &input.files {
        let relative = workspace::safe_relative(file, "files[]")?;
        let target = workspace::path(&relative);
        if relative.contains('*') {
            let pattern = glob::Pattern::new(&relative)
                .map_err(|e| ActionError::InvalidInput(format!("`{file}` is not a glob: {e}")))?;
            for entry in all.iter().filter(|e| pattern.matches(&e.path)) {
                if std::fs::remove_file(workspace::path(&entry.path)).is_ok() {
                    deleted += 1;
                }
            }
        } else if target.is_dir() {
            std::fs::remove_dir_all(&target)
                .map_err(|e| ActionError::Fatal(format!("cannot delete {file}: {e}")))?;
            deleted += 1;
        } else if target.exists() {
            std::fs::remove_file(&target)
                .map_err(|e| ActionError::Fatal(format!("cannot delete {file}: {e}")))?;
            deleted += 1;
        }
    }
    lever_sdk::log::info(&format!("deleted {deleted} entries"));
    Ok(json!({"deleted": deleted}))
}
