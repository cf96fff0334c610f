//! `repository-create`: creates a service repository from a template repository, or deletes
//! it (the rollback). A stand-in until the git-provider adapters land.

use lever_sdk::state::{self, Scope};
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};
use serde_json::{Value, json};

/// Input of `repository-create`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// Repository name.
    name: String,
    /// Owning team.
    owner: String,
    /// Template repository.
    #[serde(default)]
    template: Option<String>,
    /// Delete instead of create (the rollback).
    #[serde(default)]
    delete: bool,
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    let change = if input.delete { "delete" } else { "create" };
    Ok(Plan {
        summary: format!("{change} repository {}/{}", input.owner, input.name),
        resources: vec![PlannedResource {
            kind: "git-repository".into(),
            name: format!("{}/{}", input.owner, input.name),
            change: change.into(),
            monthly_cost_cents: None,
        }],
        permissions: vec![format!("team {} gets admin on {}", input.owner, input.name)],
    })
}

#[action(name = "repository-create", version = "0.1.0", description = "Creates a repository from a template, or deletes it (stand-in)", plan = plan)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let slug = format!("{}/{}", input.owner, input.name);
    let key = format!("repo/{slug}");
    if input.delete {
        state::delete(Scope::Plugin, &key)?;
        lever_sdk::log::info(&format!("deleted repository {slug}"));
        return Ok(json!({"deleted": slug}));
    }
    if state::get(Scope::Plugin, &key)?.is_some() {
        return Err(ActionError::Fatal(format!(
            "repository {slug} already exists; pick another name"
        )));
    }
    state::set(Scope::Plugin, &key, b"exists")?;
    lever_sdk::log::info(&format!(
        "created repository {slug} from {}",
        input.template.as_deref().unwrap_or("an empty repository")
    ));
    Ok(json!({"url": format!("https://git.example.internal/{slug}"), "slug": slug}))
}
