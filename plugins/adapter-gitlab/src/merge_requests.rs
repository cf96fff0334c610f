//! `create-pull-request`, `get-pull-request` and `close-pull-request` as GitLab merge requests.
//! Creating is written to be called again after a crash: an existing branch, identical files
//! and an already open merge request for the same branches are taken as done.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lever_adapter_sdk::Error;
use lever_adapter_sdk::capabilities::git_provider::{NewPullRequest, PullRequest};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::project_path;

/// Creates `head` from `base` when missing, commits `files` on it in one commit, and opens the
/// merge request.
pub fn create(api: &Api, request: &NewPullRequest) -> Result<PullRequest, Error> {
    let project = project_path("repository", &request.repository)?;
    if request.head == request.base {
        return Err(Error::InvalidInput(format!(
            "`head` and `base` are both `{}`; a merge request needs two branches",
            request.head
        )));
    }
    let branch = format!(
        "{project}/repository/branches?branch={}&ref={}",
        encode(&request.head),
        encode(&request.base)
    );
    match api.call("POST", &branch, None) {
        Ok(_) => {}
        // Made by an earlier attempt, or by hand: use it.
        Err(Error::InvalidInput(message)) if message.contains("already exists") => {}
        Err(e) => return Err(e),
    }
    commit_files(api, &project, request)?;
    let body = json!({
        "source_branch": request.head, "target_branch": request.base,
        "title": request.title, "description": request.body,
    });
    match api.post(&format!("{project}/merge_requests"), &body) {
        Ok(answer) => merge_request(&answer.body),
        // 409 "Another open merge request already exists for this source branch".
        Err(Error::Fatal(message)) if message.contains("already exists") => {
            open_merge_request(api, &project, request)?.ok_or(Error::Fatal(message))
        }
        Err(e) => Err(e),
    }
}

/// Reads merge request `iid`.
pub fn get(api: &Api, repository: &str, iid: u64) -> Result<PullRequest, Error> {
    let project = project_path("repository", repository)?;
    merge_request(&api.get(&format!("{project}/merge_requests/{iid}"))?.body)
}

/// Closes merge request `iid` without merging.
pub fn close(api: &Api, repository: &str, iid: u64) -> Result<(), Error> {
    let project = project_path("repository", repository)?;
    api.call(
        "PUT",
        &format!("{project}/merge_requests/{iid}"),
        Some(&json!({"state_event": "close"})),
    )?;
    Ok(())
}

/// Commits every file that is missing or different on `head`, in one commit; nothing when all
/// are already there (a retry adds no empty commit).
fn commit_files(api: &Api, project: &str, request: &NewPullRequest) -> Result<(), Error> {
    let mut actions = Vec::new();
    for file in &request.files {
        if file.path.is_empty() || file.path.starts_with('/') {
            return Err(Error::InvalidInput(format!(
                "file path `{}` must be relative and non-empty",
                file.path
            )));
        }
        let url = format!(
            "{project}/repository/files/{}?ref={}",
            encode(&file.path),
            encode(&request.head)
        );
        let action = match api.get(&url) {
            Ok(existing) => {
                let current = existing
                    .body
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if current == STANDARD.encode(file.content.as_bytes()) {
                    continue;
                }
                "update"
            }
            Err(Error::NotFound(_)) => "create",
            Err(e) => return Err(e),
        };
        actions.push(json!({"action": action, "file_path": file.path, "content": file.content}));
    }
    if actions.is_empty() {
        return Ok(());
    }
    let body = json!({"branch": request.head, "commit_message": request.title, "actions": actions});
    api.post(&format!("{project}/repository/commits"), &body)?;
    Ok(())
}

/// The open merge request from `head` into `base`, if there is one.
fn open_merge_request(
    api: &Api,
    project: &str,
    request: &NewPullRequest,
) -> Result<Option<PullRequest>, Error> {
    let query = format!(
        "source_branch={}&target_branch={}&state=opened",
        encode(&request.head),
        encode(&request.base)
    );
    let answer = api.get(&format!("{project}/merge_requests?{query}"))?;
    answer
        .body
        .as_array()
        .and_then(|list| list.first())
        .map(merge_request)
        .transpose()
}

/// The capability's record from GitLab's merge request object: `opened` (and `locked`, a
/// transient state while merging) read as `open`.
fn merge_request(body: &Value) -> Result<PullRequest, Error> {
    let iid = body
        .get("iid")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Fatal("GitLab's merge request answer has no `iid`".into()))?;
    let state = body
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("opened");
    let merged = state == "merged" || body.get("merged_at").is_some_and(|v| !v.is_null());
    let state = match state {
        _ if merged => "merged",
        "closed" => "closed",
        _ => "open",
    };
    Ok(PullRequest {
        number: iid,
        url: body
            .get("web_url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        state: state.to_string(),
        merged,
    })
}
