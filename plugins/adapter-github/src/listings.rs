//! `list-owners`, `list-repositories` and `list-branches`: what a form's pickers offer
//! (Backstage's autocomplete), read from GitHub's paginated listings as the binding's token
//! sees them.

use lever_adapter_sdk::Error;
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::Value;

use crate::api::{next_page, repo_path};

/// A bound on pages followed, so a provider that keeps answering `next` cannot loop forever.
const MAX_PAGES: usize = 20;

/// The field `key` of every item of every page of the listing at `path`.
fn collect(api: &Api, path: String, key: &str, what: &str) -> Result<Vec<String>, Error> {
    let mut found = Vec::new();
    let mut next = Some(path);
    let mut pages = 0;
    while let Some(path) = next {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(Error::Fatal(format!(
                "GitHub listed more than {MAX_PAGES} pages of {what}"
            )));
        }
        let answer = api.get(&path)?;
        found.extend(
            answer
                .body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.get(key).and_then(Value::as_str))
                .map(str::to_string),
        );
        next = next_page(api, &answer)?;
    }
    Ok(found)
}

/// The organisations the token's user belongs to (`GET /user/orgs`).
pub fn owners(api: &Api) -> Result<Vec<String>, Error> {
    collect(
        api,
        "/user/orgs?per_page=100".into(),
        "login",
        "organisations",
    )
}

/// The repositories the token can see (`GET /user/repos`), or `owner`'s
/// (`GET /orgs/{owner}/repos`), as full names.
pub fn repositories(api: &Api, owner: Option<&str>) -> Result<Vec<String>, Error> {
    let path = match owner {
        Some(owner) => format!("/orgs/{}/repos?per_page=100", encode(owner)),
        None => "/user/repos?per_page=100".to_string(),
    };
    collect(api, path, "full_name", "repositories")
}

/// A repository's branch names (`GET /repos/{owner}/{name}/branches`).
pub fn branches(api: &Api, full_name: &str) -> Result<Vec<String>, Error> {
    let path = format!(
        "{}/branches?per_page=100",
        repo_path("full_name", full_name)?
    );
    collect(api, path, "name", "branches")
}
