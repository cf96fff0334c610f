//! The fake GitLab's repository reads (branches, the recursive tree paginated with
//! `x-next-page`, blobs), project settings (`PUT /projects/:id`) and protected branches: the
//! documented subset Backstage's `publish:gitlab` and `fetch:*` need.
//! <https://docs.gitlab.com/api/repositories/>, <https://docs.gitlab.com/api/protected_branches/>.

use std::collections::BTreeMap;

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Answer, FakeGitLab, GitLab, Kind, answer, check, message, not_found, text};

fn blob_id(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(bytes)[..20])
}

impl GitLab {
    /// The routes of this module; `None` for every other request.
    pub(super) fn repository_routes(
        &mut self,
        method: &str,
        s: &[&str],
        body: &Value,
        q: &BTreeMap<String, String>,
    ) -> Option<Answer> {
        Some(match (method, s) {
            ("GET", ["projects", id, "repository", "branches", branch]) => {
                self.project(id).and_then(|p| match p.branches.get(*branch) {
                    Some(commit) => Ok(answer(200, json!({"name": branch, "commit": {"id": commit}, "protected": p.protected.contains(*branch)}))),
                    None => Err(not_found("Branch")),
                })
            }
            ("GET", ["projects", id, "repository", "tree"]) => self.tree(id, q),
            ("GET", ["projects", id, "repository", "blobs", sha]) => self.blob(id, sha),
            ("PUT", ["projects", id]) => self.update_project(id, body),
            ("POST", ["projects", id, "protected_branches"]) => self.protect(id, body),
            _ => return None,
        })
    }

    /// GET /projects/:id/repository/tree?ref=&path=&recursive=true&per_page=&page=.
    fn tree(&self, id: &str, q: &BTreeMap<String, String>) -> Answer {
        let project = self.project(id)?;
        let reference = q
            .get("ref")
            .cloned()
            .unwrap_or_else(|| project.default_branch.clone());
        if !project.branches.contains_key(&reference) {
            return Err(not_found("Tree"));
        }
        let recursive = q.get("recursive").is_some_and(|v| v == "true");
        let folder = q
            .get("path")
            .map(|p| format!("{}/", p.trim_end_matches('/')))
            .unwrap_or_default();
        let entries: Vec<Value> = project
            .files
            .iter()
            .filter(|((b, p), _)| *b == reference && p.starts_with(&folder))
            .filter(|((_, p), _)| recursive || !p[folder.len()..].contains('/'))
            .map(|((b, p), bytes)| {
                let executable = project.executables.contains(&(b.clone(), p.clone()));
                json!({"id": blob_id(bytes), "name": p.rsplit('/').next(), "type": "blob", "path": p, "mode": if executable { "100755" } else { "100644" }})
            })
            .collect();
        let per_page: usize = q
            .get("per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
            .clamp(1, 100);
        let page: usize = q
            .get("page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let chunk: Vec<Value> = entries
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        let mut response = answer(200, Value::Array(chunk));
        let next = if page * per_page < entries.len() {
            (page + 1).to_string()
        } else {
            String::new()
        };
        response
            .headers_mut()
            .insert("x-next-page", HeaderValue::from_str(&next).unwrap());
        Ok(response)
    }

    /// GET /projects/:id/repository/blobs/:sha.
    fn blob(&self, id: &str, sha: &str) -> Answer {
        let project = self.project(id)?;
        let bytes = project
            .files
            .values()
            .find(|b| blob_id(b) == sha)
            .ok_or_else(|| not_found("Blob"))?;
        Ok(answer(
            200,
            json!({"size": bytes.len(), "encoding": "base64", "content": STANDARD.encode(bytes), "sha": sha}),
        ))
    }

    /// PUT /projects/:id.
    fn update_project(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[],
            &[
                ("visibility", Kind::Str),
                ("default_branch", Kind::Str),
                ("topics", Kind::List),
                ("description", Kind::Str),
            ],
        )?;
        let project = self.project_mut(id)?;
        if let Some(v) = body.get("visibility").and_then(Value::as_str) {
            if !["private", "internal", "public"].contains(&v) {
                return Err(answer(
                    400,
                    json!({"error": "visibility does not have a valid value"}),
                ));
            }
            project.visibility = v.to_string();
        }
        if let Some(b) = body.get("default_branch").and_then(Value::as_str) {
            if !project.branches.contains_key(b) {
                return Err(message(
                    400,
                    json!({"default_branch": [format!("'{b}' is not a branch")]}),
                ));
            }
            project.default_branch = b.to_string();
        }
        if let Some(topics) = body.get("topics").and_then(Value::as_array) {
            project.topics = topics
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        if body.get("description").is_some() {
            project.description = text(body, "description").to_string();
        }
        let json = self.project_json(self.project(id)?);
        Ok(answer(200, json))
    }

    /// POST /projects/:id/protected_branches.
    fn protect(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[("name", Kind::Str)],
            &[
                ("push_access_level", Kind::Int),
                ("merge_access_level", Kind::Int),
            ],
        )?;
        let project = self.project_mut(id)?;
        let name = text(body, "name").to_string();
        if !project.protected.insert(name.clone()) {
            return Err(message(
                409,
                format!("Protected branch '{name}' already exists"),
            ));
        }
        Ok(answer(
            201,
            json!({"name": name, "push_access_levels": [{"access_level": 40}], "merge_access_levels": [{"access_level": 40}]}),
        ))
    }
}

impl FakeGitLab {
    /// Creates `group/project` holding `files` (path, content, executable) on `main`, as an
    /// existing project a template opens a merge request on.
    pub fn seed(&self, full_name: &str, files: &[(&str, &[u8], bool)]) {
        let mut gitlab = self.state.lock().unwrap();
        let mut project = gitlab.new_project(full_name, "seeded", "private");
        let commit = gitlab.commit();
        project.branches.insert("main".into(), commit);
        for (path, bytes, executable) in files {
            project
                .files
                .insert(("main".into(), path.to_string()), bytes.to_vec());
            if *executable {
                project
                    .executables
                    .insert(("main".into(), path.to_string()));
            }
        }
        gitlab.projects.insert(full_name.into(), project);
    }
}
