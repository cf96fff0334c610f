//! `fetch:template:file`: renders one file into the workspace at `targetPath`.

use backstage_scaffolder::fetch::{self, TemplateInput};
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "fetch-template-file",
    version = "0.1.0",
    description = "Renders one file into the workspace (Backstage's fetch:template:file)",
    workspace = true
)]
fn run(_ctx: &Context, input: TemplateInput) -> Result<Value, ActionError> {
    Ok(fetch::run_file(&input.fetch(false))?.output())
}
