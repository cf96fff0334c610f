//! `create-pull-request`, `get-pull-request` and `close-pull-request`. Creating is written to be
//! called again after a crash: an existing branch, identical files and an already open pull
//! request for the same branches are taken as done.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lever_adapter_sdk::Error;
use lever_adapter_sdk::capabilities::git_provider::{File, NewPullRequest, PullRequest};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::{encode_path, repo_path, split};

/// Creates `head` from `base` when missing, commits `files` on it, and opens the pull request.
pub fn create(api: &Api, request: &NewPullRequest) -> Result<PullRequest, Error> {
    let repo = repo_path("repository", &request.repository)?;
    let (owner, _) = split("repository", &request.repository)?;
    if request.head == request.base {
        return Err(Error::InvalidInput(format!(
            "`head` and `base` are both `{}`; a pull request needs two branches",
            request.head
        )));
    }
    ensure_branch(api, &repo, &request.head, &request.base)?;
    for file in &request.files {
        commit_file(api, &repo, &request.head, file)?;
    }
    let body = json!({"title": request.title, "body": request.body, "head": request.head, "base": request.base});
    match api.post(&format!("{repo}/pulls"), &body) {
        Ok(answer) => pull_request(&answer.body),
        Err(Error::InvalidInput(message)) if message.contains("already exists") => {
            open_pull(api, &repo, owner, request)?.ok_or(Error::InvalidInput(message))
        }
        Err(e) => Err(e),
    }
}

/// Reads pull request `number`.
pub fn get(api: &Api, repository: &str, number: u64) -> Result<PullRequest, Error> {
    let repo = repo_path("repository", repository)?;
    pull_request(&api.get(&format!("{repo}/pulls/{number}"))?.body)
}

/// Closes pull request `number` without merging.
pub fn close(api: &Api, repository: &str, number: u64) -> Result<(), Error> {
    let repo = repo_path("repository", repository)?;
    api.call(
        "PATCH",
        &format!("{repo}/pulls/{number}"),
        Some(&json!({"state": "closed"})),
    )?;
    Ok(())
}

/// Creates branch `head` at `base`'s tip unless it exists.
fn ensure_branch(api: &Api, repo: &str, head: &str, base: &str) -> Result<(), Error> {
    let tip = api.get(&format!("{repo}/git/ref/heads/{}", encode_path(base)))?;
    let sha = tip
        .body
        .pointer("/object/sha")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::Fatal(format!(
                "GitHub's answer for branch `{base}` has no `object.sha`"
            ))
        })?;
    match api.post(
        &format!("{repo}/git/refs"),
        &json!({"ref": format!("refs/heads/{head}"), "sha": sha}),
    ) {
        Ok(_) => Ok(()),
        // The branch is there already (made by an earlier attempt, or by hand): use it.
        Err(Error::InvalidInput(message)) if message.contains("Reference already exists") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates or updates one file on `branch`; an identical file is left alone so that a retry
/// adds no empty commit.
fn commit_file(api: &Api, repo: &str, branch: &str, file: &File) -> Result<(), Error> {
    if file.path.is_empty() || file.path.starts_with('/') {
        return Err(Error::InvalidInput(format!(
            "file path `{}` must be relative and non-empty",
            file.path
        )));
    }
    let path = format!("{repo}/contents/{}", encode_path(&file.path));
    let existing = match api.get(&format!("{path}?ref={}", encode(branch))) {
        Ok(answer) => Some(answer.body),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let content = STANDARD.encode(file.content.as_bytes());
    let mut body =
        json!({"message": format!("Add {}", file.path), "content": content, "branch": branch});
    if let Some(existing) = existing {
        // GitHub wraps the base64 it returns at 60 columns.
        let current: String = existing
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if current == content {
            return Ok(());
        }
        body["message"] = json!(format!("Update {}", file.path));
        body["sha"] = existing.get("sha").cloned().unwrap_or(Value::Null);
    }
    api.call("PUT", &path, Some(&body))?;
    Ok(())
}

/// The open pull request from `head` into `base`, if there is one.
fn open_pull(
    api: &Api,
    repo: &str,
    owner: &str,
    request: &NewPullRequest,
) -> Result<Option<PullRequest>, Error> {
    let query = format!(
        "head={}&base={}&state=open",
        encode(&format!("{owner}:{}", request.head)),
        encode(&request.base)
    );
    let answer = api.get(&format!("{repo}/pulls?{query}"))?;
    answer
        .body
        .as_array()
        .and_then(|list| list.first())
        .map(pull_request)
        .transpose()
}

/// The capability's record from GitHub's pull request object: GitHub reports a merged pull
/// request as `closed` with `merged` (or `merged_at`) set.
fn pull_request(body: &Value) -> Result<PullRequest, Error> {
    let number = body
        .get("number")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Fatal("GitHub's pull request answer has no `number`".into()))?;
    let merged = body.get("merged").and_then(Value::as_bool).unwrap_or(false)
        || body.get("merged_at").is_some_and(|v| !v.is_null());
    let state = if merged {
        "merged"
    } else {
        body.get("state").and_then(Value::as_str).unwrap_or("open")
    };
    Ok(PullRequest {
        number,
        url: body
            .get("html_url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        state: state.to_string(),
        merged,
    })
}
