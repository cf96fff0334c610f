//! `fetch:plain`: copies a folder of the template's bundle or a repository into the workspace.

use backstage_scaffolder::fetch::{self, PlainInput};
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "fetch-plain",
    version = "0.1.0",
    description = "Copies files into the workspace (Backstage's fetch:plain)",
    workspace = true
)]
fn run(_ctx: &Context, input: PlainInput) -> Result<Value, ActionError> {
    Ok(fetch::run(&input.fetch())?.output())
}
