//! An action that imports the `git-provider` capability: creates a repository through whatever
//! adapter the host binds.
use lever_sdk::capabilities::git_provider::{self, NewRepository};
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    owner: String,
    name: String,
}

#[action(
    name = "capability-caller",
    version = "0.1.0",
    description = "Creates a repository through the git-provider capability"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let repository = git_provider::create_repository(&NewRepository {
        owner: input.owner,
        name: input.name,
        description: "created by an action through the git-provider capability".into(),
        private: true,
        template: None,
    })?;
    lever_sdk::log::info(&format!("created {}", repository.full_name));
    Ok(json!({"full_name": repository.full_name, "url": repository.url}))
}
