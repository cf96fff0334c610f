//! `grant-team-access`: GitHub addresses teams by slug, so the team's name is looked up in the
//! organisation's (paginated) team list first.

use lever_adapter_sdk::Error;
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::{next_page, split};

/// The permissions GitHub's team repository API accepts that the capability names.
const PERMISSIONS: &[&str] = &["pull", "push", "maintain", "admin"];

/// A bound on pages followed, so a provider that keeps answering `next` cannot loop forever.
const MAX_PAGES: usize = 100;

/// Gives `team` (its name or slug) `permission` on `repository`, in the repository owner's
/// organisation.
pub fn grant(api: &Api, repository: &str, team: &str, permission: &str) -> Result<(), Error> {
    if !PERMISSIONS.contains(&permission) {
        return Err(Error::InvalidInput(format!(
            "`permission` must be one of {}, not `{permission}`",
            PERMISSIONS.join(", ")
        )));
    }
    let (owner, name) = split("repository", repository)?;
    let slug = team_slug(api, owner, team)?;
    let path = format!(
        "/orgs/{org}/teams/{}/repos/{org}/{}",
        encode(&slug),
        encode(name),
        org = encode(owner)
    );
    api.call("PUT", &path, Some(&json!({"permission": permission})))?;
    Ok(())
}

/// The slug of the team named `team` (or whose slug is `team`) in `org`.
fn team_slug(api: &Api, org: &str, team: &str) -> Result<String, Error> {
    let mut next = Some(format!("/orgs/{}/teams?per_page=100", encode(org)));
    let mut pages = 0;
    while let Some(path) = next {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(Error::Fatal(format!(
                "GitHub listed more than {MAX_PAGES} pages of teams in `{org}`"
            )));
        }
        let answer = api.get(&path)?;
        let found = answer.body.as_array().into_iter().flatten().find(|t| {
            let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
            field("slug") == team || field("name").eq_ignore_ascii_case(team)
        });
        if let Some(slug) = found.and_then(|t| t.get("slug")).and_then(Value::as_str) {
            return Ok(slug.to_string());
        }
        next = next_page(api, &answer)?;
    }
    Err(Error::NotFound(format!(
        "GitHub organisation `{org}` has no team named `{team}`"
    )))
}
