//! `grant-user-access`: a user becomes a collaborator (`PUT /repos/{o}/{r}/collaborators/{u}`).
//! GitHub invites a user who is not one yet (201) and changes an existing collaborator's
//! permission in place (204).

use lever_adapter_sdk::Error;
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::json;

use crate::api::split;

/// The permissions GitHub's collaborator API accepts.
const PERMISSIONS: &[&str] = &["pull", "triage", "push", "maintain", "admin"];

/// Gives `user` (a login) `permission` on `repository`.
pub fn grant(api: &Api, repository: &str, user: &str, permission: &str) -> Result<(), Error> {
    if !PERMISSIONS.contains(&permission) {
        return Err(Error::InvalidInput(format!(
            "`permission` must be one of {}, not `{permission}`",
            PERMISSIONS.join(", ")
        )));
    }
    if user.is_empty() || user.contains('/') {
        return Err(Error::InvalidInput(format!(
            "`user` must be a GitHub login, not `{user}`"
        )));
    }
    let (owner, name) = split("repository", repository)?;
    let path = format!(
        "/repos/{}/{}/collaborators/{}",
        encode(owner),
        encode(name),
        encode(user)
    );
    match api.call("PUT", &path, Some(&json!({"permission": permission}))) {
        Ok(_) => Ok(()),
        Err(Error::NotFound(_)) => Err(Error::NotFound(format!(
            "GitHub has no user `{user}` or no repository `{repository}`"
        ))),
        Err(e) => Err(e),
    }
}
