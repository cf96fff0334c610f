//! `create-repository` and `delete-repository`.

use lever_adapter_sdk::Error;
use lever_adapter_sdk::capabilities::git_provider::{NewRepository, Repository};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::{repo_path, split};

/// Creates `owner/name` in organisation `owner`, or generates it from `template` (a template
/// repository) when one is set.
pub fn create(api: &Api, request: &NewRepository) -> Result<Repository, Error> {
    if request.owner.is_empty()
        || request.name.is_empty()
        || request.owner.contains('/')
        || request.name.contains('/')
    {
        return Err(Error::InvalidInput(
            "`owner` and `name` must be non-empty and contain no `/`".into(),
        ));
    }
    let answer = match &request.template {
        // `auto_init` gives the repository its default branch, so a pull request can follow.
        None => api.post(
            &format!("/orgs/{}/repos", encode(&request.owner)),
            &json!({"name": request.name, "description": request.description, "private": request.private, "auto_init": true}),
        )?,
        Some(template) => {
            let path = repo_path("template", template)?;
            api.post(
                &format!("{path}/generate"),
                &json!({"owner": request.owner, "name": request.name, "description": request.description, "private": request.private}),
            )?
        }
    };
    repository(&answer.body)
}

/// Reads `owner/name`.
pub fn get(api: &Api, full_name: &str) -> Result<Repository, Error> {
    repository(&api.get(&repo_path("full_name", full_name)?)?.body)
}

/// Deletes `owner/name`.
pub fn delete(api: &Api, full_name: &str) -> Result<(), Error> {
    split("full_name", full_name)?;
    api.call("DELETE", &repo_path("full_name", full_name)?, None)?;
    Ok(())
}

/// The capability's record from GitHub's repository object.
fn repository(body: &Value) -> Result<Repository, Error> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let missing = |key: &str| Error::Fatal(format!("GitHub's repository answer has no `{key}`"));
    Ok(Repository {
        full_name: text("full_name").ok_or_else(|| missing("full_name"))?,
        url: text("html_url").ok_or_else(|| missing("html_url"))?,
        clone_url: text("clone_url").ok_or_else(|| missing("clone_url"))?,
        // A repository generated from a template can report no default branch for a moment.
        default_branch: text("default_branch").unwrap_or_else(|| "main".into()),
    })
}
