//! `create-repository` and `delete-repository`: GitLab calls repositories projects and owners
//! namespaces (a group or a user).

use lever_adapter_sdk::Error;
use lever_adapter_sdk::capabilities::git_provider::{NewRepository, Repository};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::project_path;

/// Creates project `name` in namespace `owner`. With a `template`, the template project is
/// forked into the namespace: forking works on every GitLab tier, while GitLab's own project
/// templates (`template_project_id`) need a Premium group-level template setup. The new project
/// keeps a fork link to the template; it can be removed in the project settings.
pub fn create(api: &Api, request: &NewRepository) -> Result<Repository, Error> {
    if request.owner.is_empty() || request.name.is_empty() || request.name.contains('/') {
        return Err(Error::InvalidInput(
            "`owner` must be a group or user path and `name` non-empty without `/`".into(),
        ));
    }
    let namespace = api.get(&format!("/namespaces/{}", encode(&request.owner)))?;
    let namespace_id = namespace
        .body
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            Error::Fatal(format!(
                "GitLab's answer for namespace `{}` has no `id`",
                request.owner
            ))
        })?;
    // GitLab has no "visible to the organisation" other than `internal` (every signed-in user).
    let visibility = if request.private {
        "private"
    } else {
        "internal"
    };
    let answer = match &request.template {
        // `initialize_with_readme` gives the project its default branch, so a merge request
        // can follow.
        None => api.post(
            "/projects",
            &json!({
                "name": request.name, "path": request.name, "namespace_id": namespace_id,
                "description": request.description, "visibility": visibility, "initialize_with_readme": true,
            }),
        )?,
        Some(template) => api.post(
            &format!("{}/fork", project_path("template", template)?),
            &json!({
                "namespace_id": namespace_id, "name": request.name, "path": request.name,
                "description": request.description, "visibility": visibility,
            }),
        )?,
    };
    repository(&answer.body)
}

/// Deletes project `group/project`. GitLab answers 202: deletion may finish later (or, with
/// delayed deletion on, the project is only marked for deletion).
pub fn delete(api: &Api, full_name: &str) -> Result<(), Error> {
    api.call("DELETE", &project_path("full_name", full_name)?, None)?;
    Ok(())
}

/// The capability's record from GitLab's project object.
pub(crate) fn repository(body: &Value) -> Result<Repository, Error> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let missing = |key: &str| Error::Fatal(format!("GitLab's project answer has no `{key}`"));
    Ok(Repository {
        full_name: text("path_with_namespace").ok_or_else(|| missing("path_with_namespace"))?,
        url: text("web_url").ok_or_else(|| missing("web_url"))?,
        clone_url: text("http_url_to_repo").ok_or_else(|| missing("http_url_to_repo"))?,
        // A fork still being imported reports no default branch yet.
        default_branch: text("default_branch").unwrap_or_else(|| "main".into()),
    })
}
