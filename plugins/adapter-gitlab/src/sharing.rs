//! `grant-team-access`: a team is a GitLab group, and access is the project shared with it.

use lever_adapter_sdk::Error;
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::project_path;

/// A bound on pages followed, so a provider that keeps answering a next page cannot loop.
const MAX_PAGES: usize = 100;

/// GitLab's role for a capability permission. `admin` maps to Maintainer (40): sharing a
/// project with a group cannot grant Owner.
fn access_level(permission: &str) -> Result<u64, Error> {
    match permission {
        "pull" => Ok(20),
        "push" => Ok(30),
        "maintain" | "admin" => Ok(40),
        other => Err(Error::InvalidInput(format!(
            "`permission` must be one of pull, push, maintain, admin, not `{other}`"
        ))),
    }
}

/// Shares `repository` with group `team` (its full path, path or name) at `permission`'s role;
/// an existing share is replaced, so the role ends up as asked.
pub fn grant(api: &Api, repository: &str, team: &str, permission: &str) -> Result<(), Error> {
    let level = access_level(permission)?;
    let project = project_path("repository", repository)?;
    let group_id = group_id(api, team)?;
    let body = json!({"group_id": group_id, "group_access": level});
    match api.post(&format!("{project}/share"), &body) {
        Ok(_) => Ok(()),
        // 409 "Group already shared with this group": GitLab cannot change the role in place
        // through this API, so the share is removed and made again.
        Err(Error::Fatal(message)) if message.contains("already shared") => {
            api.call("DELETE", &format!("{project}/share/{group_id}"), None)?;
            api.post(&format!("{project}/share"), &body)?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The id of the group `team` names. GitLab's search matches names and paths, not full paths,
/// so a subgroup (`acme/platform`) is searched by its last segment and matched on full path.
fn group_id(api: &Api, team: &str) -> Result<u64, Error> {
    let search = team.rsplit('/').next().unwrap_or(team);
    let matches = |g: &Value| {
        let field = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("");
        if team.contains('/') {
            field("full_path") == team
        } else {
            field("full_path") == team
                || field("path") == team
                || field("name").eq_ignore_ascii_case(team)
        }
    };
    let mut page = String::from("1");
    for _ in 0..MAX_PAGES {
        let answer = api.get(&format!(
            "/groups?search={}&per_page=100&page={}",
            encode(search),
            encode(&page)
        ))?;
        if let Some(id) = answer
            .body
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| matches(g))
            .and_then(|g| g.get("id"))
            .and_then(Value::as_u64)
        {
            return Ok(id);
        }
        // GitLab sends `X-Next-Page` empty on the last page.
        match answer
            .header("x-next-page")
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(next) => page = next.to_string(),
            None => {
                return Err(Error::NotFound(format!(
                    "GitLab has no group `{team}` visible to this token"
                )));
            }
        }
    }
    Err(Error::Fatal(format!(
        "GitLab listed more than {MAX_PAGES} pages of groups matching `{search}`"
    )))
}
