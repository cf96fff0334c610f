//! `get-repository`, `commit-files`, `configure-repository` and `download-files`: commits
//! through GitHub's Git Data API (blobs, a tree, a commit, the ref) — no git binary — and the
//! settings Backstage's `publish:github` applies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lever_adapter_sdk::Error;
use lever_adapter_sdk::capabilities::git_provider::{
    Commit, NewCommit, RepositorySettings, TreeFile,
};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::{encode_path, repo_path};

fn sha_of(body: &Value, what: &str) -> Result<String, Error> {
    body.get("sha")
        .or_else(|| body.pointer("/object/sha"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Fatal(format!("GitHub's {what} answer has no sha")))
}

/// The tip of `branch`, or `None` when it does not exist.
fn tip(api: &Api, repo: &str, branch: &str) -> Result<Option<String>, Error> {
    match api.get(&format!("{repo}/git/ref/heads/{}", encode_path(branch))) {
        Ok(answer) => Ok(Some(sha_of(&answer.body, "ref")?)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Commits `files` on `branch`: on its tip when it exists, on `base`'s tip when given, else
/// as a root commit (a published repository's first commit); then moves or creates the ref.
pub fn commit(api: &Api, request: &NewCommit) -> Result<Commit, Error> {
    let repo = repo_path("repository", &request.repository)?;
    if request.branch.is_empty() {
        return Err(Error::InvalidInput("`branch` must name a branch".into()));
    }
    let existing = tip(api, &repo, &request.branch)?;
    let parent = match (&existing, &request.base) {
        (Some(sha), _) => Some(sha.clone()),
        (None, Some(base)) => Some(tip(api, &repo, base)?.ok_or_else(|| {
            Error::NotFound(format!(
                "branch `{base}` of {} does not exist",
                request.repository
            ))
        })?),
        (None, None) => None,
    };
    let base_tree = match &parent {
        None => None,
        Some(sha) => {
            let commit = api.get(&format!("{repo}/git/commits/{sha}"))?;
            commit
                .body
                .pointer("/tree/sha")
                .and_then(Value::as_str)
                .map(str::to_string)
        }
    };
    let mut tree = Vec::with_capacity(request.files.len());
    for file in &request.files {
        if file.path.is_empty()
            || file.path.starts_with('/')
            || file.path.split('/').any(|p| p == "..")
        {
            return Err(Error::InvalidInput(format!(
                "file path `{}` must be relative and stay in the repository",
                file.path
            )));
        }
        let blob = api.post(
            &format!("{repo}/git/blobs"),
            &json!({"content": file.content_base64, "encoding": "base64"}),
        )?;
        let mode = match (file.link, file.executable) {
            (true, _) => "120000",
            (false, true) => "100755",
            (false, false) => "100644",
        };
        tree.push(json!({"path": file.path, "mode": mode, "type": "blob", "sha": sha_of(&blob.body, "blob")?}));
    }
    for path in &request.deletions {
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(Error::InvalidInput(format!(
                "file path `{path}` must be relative and stay in the repository"
            )));
        }
        if base_tree.is_none() {
            return Err(Error::InvalidInput(format!(
                "cannot delete `{path}`: branch `{}` has no files yet",
                request.branch
            )));
        }
        // A tree entry with a null sha removes the path from the base tree.
        tree.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": null}));
    }
    let mut tree_body = json!({"tree": tree});
    if let Some(base) = base_tree {
        tree_body["base_tree"] = json!(base);
    }
    let tree = sha_of(
        &api.post(&format!("{repo}/git/trees"), &tree_body)?.body,
        "tree",
    )?;
    let author = json!({
        "name": request.author_name.clone().unwrap_or_else(|| "Scaffolder".into()),
        "email": request.author_email.clone().unwrap_or_else(|| "scaffolder@backstage.io".into()),
    });
    let commit = api.post(
        &format!("{repo}/git/commits"),
        &json!({"message": request.message, "tree": tree, "parents": parent.iter().collect::<Vec<_>>(), "author": author}),
    )?;
    let sha = sha_of(&commit.body, "commit")?;
    match existing {
        Some(_) => {
            api.call(
                "PATCH",
                &format!("{repo}/git/refs/heads/{}", encode_path(&request.branch)),
                Some(&json!({"sha": sha, "force": false})),
            )?;
        }
        None => {
            api.post(
                &format!("{repo}/git/refs"),
                &json!({"ref": format!("refs/heads/{}", request.branch), "sha": sha}),
            )?;
        }
    }
    let url = commit
        .body
        .get("html_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Commit { sha, url })
}

/// Visibility and default branch (`PATCH /repos/{o}/{r}`), topics, and the default branch's
/// protection (one approving review, as Backstage's `protectDefaultBranch` sets it).
pub fn configure(api: &Api, settings: &RepositorySettings) -> Result<(), Error> {
    let repo = repo_path("repository", &settings.repository)?;
    let mut patch = json!({});
    if let Some(v) = &settings.visibility {
        patch["visibility"] = json!(v);
    }
    if let Some(b) = &settings.default_branch {
        patch["default_branch"] = json!(b);
    }
    if patch.as_object().is_some_and(|o| !o.is_empty()) {
        api.call("PATCH", &repo, Some(&patch))?;
    }
    if !settings.topics.is_empty() {
        api.call(
            "PUT",
            &format!("{repo}/topics"),
            Some(&json!({"names": settings.topics})),
        )?;
    }
    if settings.protect_default_branch {
        let branch = match &settings.default_branch {
            Some(b) => b.clone(),
            None => api.get(&repo)?.body["default_branch"]
                .as_str()
                .unwrap_or("main")
                .to_string(),
        };
        api.call(
            "PUT",
            &format!("{repo}/branches/{}/protection", encode(&branch)),
            Some(&json!({
                "required_status_checks": null,
                "enforce_admins": false,
                "required_pull_request_reviews": {"required_approving_review_count": 1},
                "restrictions": null,
            })),
        )?;
    }
    Ok(())
}

/// `https://github.com/o/r[/tree/REF[/PATH]]` → (`o/r`, ref, path).
fn parse_url(url: &str) -> Result<(String, Option<String>, String), Error> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            Error::InvalidInput(format!("`{url}` is not an https URL of a repository"))
        })?;
    let mut parts = rest.trim_end_matches('/').split('/').skip(1);
    let (Some(owner), Some(name)) = (parts.next(), parts.next()) else {
        return Err(Error::InvalidInput(format!(
            "`{url}` names no owner/repository"
        )));
    };
    let name = name.trim_end_matches(".git");
    let rest: Vec<&str> = parts.collect();
    match rest.as_slice() {
        [] => Ok((format!("{owner}/{name}"), None, String::new())),
        ["tree" | "blob", reference, path @ ..] => Ok((
            format!("{owner}/{name}"),
            Some(reference.to_string()),
            path.join("/"),
        )),
        _ => Err(Error::InvalidInput(format!(
            "`{url}` is not a repository or a …/tree/REF/PATH URL"
        ))),
    }
}

/// Every file under a repository folder: the ref's tree (recursive), then each blob.
pub fn download(api: &Api, url: &str) -> Result<Vec<TreeFile>, Error> {
    let (full_name, reference, folder) = parse_url(url)?;
    let repo = repo_path("url", &full_name)?;
    let reference = match reference {
        Some(r) => r,
        None => api.get(&repo)?.body["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string(),
    };
    let tree = api.get(&format!(
        "{repo}/git/trees/{}?recursive=1",
        encode(&reference)
    ))?;
    if tree.body["truncated"].as_bool() == Some(true) {
        return Err(Error::Fatal(format!(
            "{url} has more files than GitHub lists in one tree; fetch a smaller folder"
        )));
    }
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut files = Vec::new();
    for entry in tree.body["tree"].as_array().into_iter().flatten() {
        let path = entry["path"].as_str().unwrap_or_default();
        if entry["type"].as_str() != Some("blob") {
            continue;
        }
        let Some(relative) = (if prefix.is_empty() {
            Some(path)
        } else {
            path.strip_prefix(&prefix)
        }) else {
            // `folder` itself may be a file (a …/blob/REF/file URL).
            if path == folder {
                files.push(blob(
                    api,
                    &repo,
                    entry,
                    path.rsplit('/').next().unwrap_or(path),
                )?);
            }
            continue;
        };
        files.push(blob(api, &repo, entry, relative)?);
    }
    if files.is_empty() {
        return Err(Error::NotFound(format!("{url} holds no files")));
    }
    Ok(files)
}

fn blob(api: &Api, repo: &str, entry: &Value, path: &str) -> Result<TreeFile, Error> {
    let sha = entry["sha"].as_str().unwrap_or_default();
    let answer = api.get(&format!("{repo}/git/blobs/{sha}"))?;
    let content: String = answer.body["content"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    // Re-encoded without GitHub's line breaks, checked on the way.
    let bytes = STANDARD
        .decode(content.as_bytes())
        .map_err(|e| Error::Fatal(format!("GitHub sent blob {sha} not as base64: {e}")))?;
    Ok(TreeFile {
        path: path.to_string(),
        content_base64: STANDARD.encode(bytes),
        executable: entry["mode"].as_str() == Some("100755"),
        link: entry["mode"].as_str() == Some("120000"),
    })
}
