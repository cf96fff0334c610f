//! `credentials-store`: records where a resource's credentials live, or deletes them (the
//! rollback). A stand-in until the secrets-store adapters land: it keeps a reference, never a
//! value.

use lever_sdk::state::{self, Scope};
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `credentials-store`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// Secret path, like `databases/orders/dev`.
    path: String,
    /// Who may read it.
    #[serde(default)]
    readers: Vec<String>,
    /// Delete instead of store (the rollback).
    #[serde(default)]
    delete: bool,
}

#[action(
    name = "credentials-store",
    version = "0.1.0",
    description = "Stores a resource's credentials and returns a reference, or deletes them (stand-in)"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    if input.path.is_empty() || input.path.contains("..") {
        return Err(ActionError::InvalidInput(
            "path is a relative secret path like databases/orders/dev".into(),
        ));
    }
    let key = format!("secret/{}", input.path);
    if input.delete {
        state::delete(Scope::Plugin, &key)?;
        lever_sdk::log::info(&format!("credentials deleted at secret://{}", input.path));
        return Ok(json!({"deleted": input.path}));
    }
    if state::get(Scope::Plugin, &key)?.is_some() {
        return Err(ActionError::Fatal(format!(
            "credentials already exist at secret://{}; choose another name or delete them first",
            input.path
        )));
    }
    state::set(Scope::Plugin, &key, input.readers.join(",").as_bytes())?;
    lever_sdk::log::info(&format!("credentials stored at secret://{}", input.path));
    Ok(json!({"secret_ref": format!("secret://{}", input.path)}))
}
