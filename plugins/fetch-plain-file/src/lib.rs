//! `fetch:plain:file`: copies one file into the workspace at `targetPath`.

use backstage_scaffolder::fetch::{self, PlainInput};
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(
    name = "fetch-plain-file",
    version = "0.1.0",
    description = "Copies one file into the workspace (Backstage's fetch:plain:file)",
    workspace = true
)]
fn run(_ctx: &Context, input: PlainInput) -> Result<Value, ActionError> {
    Ok(fetch::run_file(&input.fetch())?.output())
}
