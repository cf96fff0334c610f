//! `fetch:template`: renders a skeleton from the template's bundle or a repository into the
//! run's workspace, as Backstage's action does.

use backstage_scaffolder::fetch::{self, TemplateInput};
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "fetch-template",
    version = "0.1.0",
    description = "Renders a skeleton into the workspace (Backstage's fetch:template)",
    workspace = true
)]
fn run(_ctx: &Context, input: TemplateInput) -> Result<Value, ActionError> {
    Ok(fetch::run(&input.fetch(false))?.output())
}
