//! `grant-user-access`: a user becomes a project member. GitLab adds members by numeric id, so
//! the username is looked up first (`GET /users?username=`); an existing member's role is
//! changed in place (`PUT /projects/{id}/members/{user_id}`).

use lever_adapter_sdk::Error;
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::project_path;

/// GitLab's role for a capability permission: Reporter (20) can read, Developer (30) push,
/// Maintainer (40) administer; `admin` stays Maintainer so a template never makes an Owner.
fn access_level(permission: &str) -> Result<u64, Error> {
    match permission {
        "pull" | "triage" => Ok(20),
        "push" => Ok(30),
        "maintain" | "admin" => Ok(40),
        other => Err(Error::InvalidInput(format!(
            "`permission` must be one of pull, triage, push, maintain, admin, not `{other}`"
        ))),
    }
}

/// Makes `user` (a username) a member of `repository` at `permission`'s role.
pub fn grant(api: &Api, repository: &str, user: &str, permission: &str) -> Result<(), Error> {
    let level = access_level(permission)?;
    let project = project_path("repository", repository)?;
    let found = api.get(&format!("/users?username={}", encode(user)))?;
    let user_id = found
        .body
        .as_array()
        .and_then(|users| users.first())
        .and_then(|u| u.get("id"))
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::NotFound(format!("GitLab has no user `{user}`")))?;
    let body = json!({"user_id": user_id, "access_level": level});
    match api.post(&format!("{project}/members"), &body) {
        Ok(_) => Ok(()),
        // 409 "Member already exists": the role is changed where it stands.
        Err(Error::Fatal(message)) if message.contains("already exists") => {
            api.call(
                "PUT",
                &format!("{project}/members/{user_id}"),
                Some(&json!({"access_level": level})),
            )?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}
