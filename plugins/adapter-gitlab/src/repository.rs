//! `get-repository`, `commit-files`, `configure-repository` and `download-files`: one commit
//! through GitLab's commits API with actions (base64 content, the executable bit as
//! `execute_filemode`) — no git binary — and the project settings Backstage's
//! `publish:gitlab` applies. The commits API has no symbolic links: a link is committed as a
//! file holding its target, as Backstage's `publish:gitlab` commits it.

use std::collections::BTreeSet;

use lever_adapter_sdk::Error;
use lever_adapter_sdk::capabilities::git_provider::{
    Commit, NewCommit, Repository, RepositorySettings, TreeFile,
};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};

use crate::api::project_path;

/// Reads project `group/project`.
pub fn get(api: &Api, full_name: &str) -> Result<Repository, Error> {
    let body = api.get(&project_path("full_name", full_name)?)?.body;
    crate::projects::repository(&body)
}

fn branch_exists(api: &Api, project: &str, branch: &str) -> Result<bool, Error> {
    match api.get(&format!("{project}/repository/branches/{}", encode(branch))) {
        Ok(_) => Ok(true),
        Err(Error::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every blob of `reference` (under `path`), following GitLab's `x-next-page`.
fn tree(api: &Api, project: &str, reference: &str, path: &str) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut page = "1".to_string();
    loop {
        let mut url = format!(
            "{project}/repository/tree?recursive=true&per_page=100&page={page}&ref={}",
            encode(reference)
        );
        if !path.is_empty() {
            url.push_str(&format!("&path={}", encode(path)));
        }
        let answer = api.get(&url)?;
        out.extend(
            answer
                .body
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["type"].as_str() == Some("blob"))
                .cloned(),
        );
        match answer.header("x-next-page").filter(|p| !p.is_empty()) {
            Some(next) => page = next.to_string(),
            None => return Ok(out),
        }
    }
}

/// Commits `files` on `branch` in one commit: `update` for paths already there, `create` for
/// the rest. A missing branch starts from `base`, else from the project's default branch.
pub fn commit(api: &Api, request: &NewCommit) -> Result<Commit, Error> {
    let project = project_path("repository", &request.repository)?;
    let exists = branch_exists(api, &project, &request.branch)?;
    let start = if exists {
        None
    } else {
        Some(match &request.base {
            Some(base) => base.clone(),
            None => get(api, &request.repository)?.default_branch,
        })
    };
    let on = start.clone().unwrap_or_else(|| request.branch.clone());
    let present: BTreeSet<String> = tree(api, &project, &on, "")?
        .iter()
        .filter_map(|e| e["path"].as_str().map(str::to_string))
        .collect();
    let mut actions = Vec::with_capacity(request.files.len());
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
        let action = if present.contains(&file.path) {
            "update"
        } else {
            "create"
        };
        actions.push(json!({
            "action": action, "file_path": file.path, "content": file.content_base64,
            "encoding": "base64", "execute_filemode": file.executable,
        }));
    }
    for path in &request.deletions {
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(Error::InvalidInput(format!(
                "file path `{path}` must be relative and stay in the repository"
            )));
        }
        actions.push(json!({"action": "delete", "file_path": path}));
    }
    let mut body = json!({
        "branch": request.branch, "commit_message": request.message, "actions": actions,
        "author_name": request.author_name.clone().unwrap_or_else(|| "Scaffolder".into()),
        "author_email": request.author_email.clone().unwrap_or_else(|| "scaffolder@backstage.io".into()),
    });
    if let Some(start) = start {
        body["start_branch"] = json!(start);
    }
    let answer = api.post(&format!("{project}/repository/commits"), &body)?;
    let sha = answer.body["id"]
        .as_str()
        .ok_or_else(|| Error::Fatal("GitLab's commit answer has no `id`".into()))?
        .to_string();
    Ok(Commit {
        url: answer.body["web_url"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        sha,
    })
}

/// Visibility, default branch and topics (`PUT /projects/:id`), and the default branch
/// protected (`POST /projects/:id/protected_branches`; already protected counts as done).
pub fn configure(api: &Api, settings: &RepositorySettings) -> Result<(), Error> {
    let project = project_path("repository", &settings.repository)?;
    let mut body = json!({});
    if let Some(v) = &settings.visibility {
        body["visibility"] = json!(v);
    }
    if let Some(b) = &settings.default_branch {
        body["default_branch"] = json!(b);
    }
    if !settings.topics.is_empty() {
        body["topics"] = json!(settings.topics);
    }
    if body.as_object().is_some_and(|o| !o.is_empty()) {
        api.call("PUT", &project, Some(&body))?;
    }
    if settings.protect_default_branch {
        let branch = match &settings.default_branch {
            Some(b) => b.clone(),
            None => get(api, &settings.repository)?.default_branch,
        };
        match api.post(
            &format!("{project}/protected_branches"),
            &json!({"name": branch}),
        ) {
            Ok(_) => {}
            Err(Error::Fatal(m)) | Err(Error::InvalidInput(m)) if m.contains("already exists") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `https://host/group/project[/-/tree/REF[/PATH]]` → (`group/project`, ref, path).
fn parse_url(url: &str) -> Result<(String, Option<String>, String), Error> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::InvalidInput(format!("`{url}` is not an https URL of a project")))?;
    let path = rest
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or("")
        .trim_end_matches('/');
    let (project, tail) = match path.split_once("/-/") {
        Some((p, t)) => (p, Some(t)),
        None => (path, None),
    };
    if !project.contains('/') {
        return Err(Error::InvalidInput(format!(
            "`{url}` names no group/project"
        )));
    }
    let project = project.trim_end_matches(".git").to_string();
    match tail.map(|t| t.split('/').collect::<Vec<_>>()) {
        None => Ok((project, None, String::new())),
        Some(parts) => match parts.as_slice() {
            ["tree" | "blob", reference, rest @ ..] => {
                Ok((project, Some(reference.to_string()), rest.join("/")))
            }
            _ => Err(Error::InvalidInput(format!(
                "`{url}` is not a project or a …/-/tree/REF/PATH URL"
            ))),
        },
    }
}

/// Every file under a project folder: the tree, then each blob.
pub fn download(api: &Api, url: &str) -> Result<Vec<TreeFile>, Error> {
    let (full_name, reference, folder) = parse_url(url)?;
    let project = project_path("url", &full_name)?;
    let reference = match reference {
        Some(r) => r,
        None => get(api, &full_name)?.default_branch,
    };
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut files = Vec::new();
    for entry in tree(api, &project, &reference, &folder)? {
        let path = entry["path"].as_str().unwrap_or_default();
        let relative = if prefix.is_empty() {
            path
        } else {
            path.strip_prefix(&prefix).unwrap_or(path)
        };
        let sha = entry["id"].as_str().unwrap_or_default();
        let blob = api.get(&format!("{project}/repository/blobs/{sha}"))?;
        files.push(TreeFile {
            path: relative.to_string(),
            content_base64: blob.body["content"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .collect(),
            executable: entry["mode"].as_str() == Some("100755"),
            link: entry["mode"].as_str() == Some("120000"),
        });
    }
    if files.is_empty() {
        return Err(Error::NotFound(format!("{url} holds no files")));
    }
    Ok(files)
}
