//! `list-owners`, `list-repositories` and `list-branches`: what a form's pickers offer
//! (Backstage's autocomplete), read from GitLab's paginated listings (`x-next-page`) as the
//! binding's token sees them.

use lever_adapter_sdk::Error;
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::Value;

use crate::api::project_path;

/// A bound on pages followed, so a provider that keeps answering `next` cannot loop forever.
const MAX_PAGES: usize = 20;

/// The field `key` of every item of every page of the listing at `path` (which has a query).
fn collect(api: &Api, path: &str, key: &str, what: &str) -> Result<Vec<String>, Error> {
    let mut found = Vec::new();
    let mut page = "1".to_string();
    for _ in 0..MAX_PAGES {
        let answer = api.get(&format!("{path}&per_page=100&page={page}"))?;
        found.extend(
            answer
                .body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.get(key).and_then(Value::as_str))
                .map(str::to_string),
        );
        match answer.header("x-next-page").filter(|p| !p.is_empty()) {
            Some(next) => page = next.to_string(),
            None => return Ok(found),
        }
    }
    Err(Error::Fatal(format!(
        "GitLab listed more than {MAX_PAGES} pages of {what}"
    )))
}

/// The groups the token's user is a member of (`GET /groups?min_access_level=10`), by path.
pub fn owners(api: &Api) -> Result<Vec<String>, Error> {
    collect(api, "/groups?min_access_level=10", "full_path", "groups")
}

/// The projects the token's user is a member of (`GET /projects?membership=true`), or those
/// of group `owner` (`GET /groups/{owner}/projects`), as `group/project` paths.
pub fn repositories(api: &Api, owner: Option<&str>) -> Result<Vec<String>, Error> {
    let path = match owner {
        Some(owner) => format!("/groups/{}/projects?include_subgroups=true", encode(owner)),
        None => "/projects?membership=true".to_string(),
    };
    collect(api, &path, "path_with_namespace", "projects")
}

/// A project's branch names (`GET /projects/{id}/repository/branches`).
pub fn branches(api: &Api, full_name: &str) -> Result<Vec<String>, Error> {
    let path = format!(
        "{}/repository/branches?",
        project_path("full_name", full_name)?
    );
    collect(api, &path, "name", "branches")
}
