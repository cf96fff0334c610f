//! `fetch:cookiecutter`: `fetch:template` with cookiecutter's `{{ cookiecutter.x }}` syntax,
//! rendered in the sandbox (no Python, no Docker).

use backstage_scaffolder::fetch::{self, TemplateInput};
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "fetch-cookiecutter",
    version = "0.1.0",
    description = "Renders a cookiecutter skeleton into the workspace (Backstage's fetch:cookiecutter)",
    workspace = true
)]
fn run(_ctx: &Context, input: TemplateInput) -> Result<Value, ActionError> {
    Ok(fetch::run(&input.fetch(true))?.output())
}
