//! A fake GitLab REST API v4 speaking the subset the GitLab adapter uses: namespaces, projects
//! (create, fork, delete), branches, files, commits, merge requests, group search (paginated two
//! to a page with `X-Next-Page`) and project sharing. Paths, methods, status codes and error
//! bodies follow GitLab's documentation (`{"message": ...}` in its string, list and per-field
//! forms, `{"error": "... is missing"}` for parameter checks); request bodies are checked against
//! the documented parameters so an adapter that sends the wrong shape gets GitLab's 400.

// Handlers return `Err(response)` to answer early with the provider's error, like `?` on any
// error; boxing every response would only add noise to a test server.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Recorder, serve};

#[path = "gitlab_repository.rs"]
mod repository;

/// Groups every fake starts with (id, name, path, full path). The four `platform…` subgroups
/// come two to a page, so finding `platform` takes two pages.
const GROUPS: &[(u64, &str, &str, &str)] = &[
    (10, "Acme", "acme", "acme"),
    (21, "Platform API", "platform-api", "acme/platform-api"),
    (22, "Platform Data", "platform-data", "acme/platform-data"),
    (23, "Platform Web", "platform-web", "acme/platform-web"),
    (24, "Platform", "platform", "acme/platform"),
    (25, "Payments", "payments", "acme/payments"),
];
/// Users every fake knows (id, username).
const USERS: &[(u64, &str)] = &[(101, "alice"), (102, "bob"), (103, "carol")];
/// Groups per page, whatever `per_page` asks: small, so pagination is exercised.
const PAGE: usize = 2;
/// A template project every fake starts with, holding `README.md` on `main`.
pub const TEMPLATE: &str = "acme/service-template";

/// A running fake GitLab.
pub struct FakeGitLab {
    /// Every request received, and the faults to answer with.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<GitLab>>,
}

struct MergeRequest {
    iid: u64,
    title: String,
    description: String,
    source: String,
    target: String,
    /// `opened`, `closed` or `merged`.
    state: String,
}

struct Project {
    id: u64,
    full_path: String,
    description: String,
    visibility: String,
    forked_from: Option<String>,
    /// Branch name → tip commit.
    branches: BTreeMap<String, String>,
    /// (branch, path) → content.
    files: BTreeMap<(String, String), Vec<u8>>,
    /// (branch, path) of the files committed with `execute_filemode`.
    executables: std::collections::BTreeSet<(String, String)>,
    /// The default branch, once there is a branch.
    default_branch: String,
    /// Topics.
    topics: Vec<String>,
    /// Protected branches.
    protected: std::collections::BTreeSet<String>,
    merge_requests: Vec<MergeRequest>,
    /// Group id → access level.
    shares: BTreeMap<u64, u64>,
    /// User id → access level.
    members: BTreeMap<u64, u64>,
}

struct GitLab {
    token: String,
    web: String,
    projects: BTreeMap<String, Project>,
    ids: u64,
}

type Answer = Result<Response, Response>;

impl FakeGitLab {
    /// Starts a fake that accepts `PRIVATE-TOKEN: {token}`.
    pub async fn start(token: &str) -> FakeGitLab {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(GitLab {
            token: token.into(),
            web: String::new(),
            projects: BTreeMap::new(),
            ids: 100,
        }));
        {
            let mut gitlab = state.lock().unwrap();
            let mut template = gitlab.new_project(TEMPLATE, "Service template", "internal");
            let commit = gitlab.commit();
            template.branches.insert("main".into(), commit);
            template.files.insert(
                ("main".into(), "README.md".into()),
                b"# Service template\n".to_vec(),
            );
            gitlab.projects.insert(TEMPLATE.into(), template);
        }
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((recorder.clone(), state.clone()));
        let addr = serve(app).await;
        state.lock().unwrap().web = format!("http://{addr}");
        FakeGitLab {
            recorder,
            addr,
            state,
        }
    }

    /// The API root to put in the binding's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v4", self.addr)
    }

    /// `127.0.0.1:PORT`, the host to grant the adapter.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Whether project `group/project` exists.
    pub fn repo_exists(&self, full_name: &str) -> bool {
        self.state.lock().unwrap().projects.contains_key(full_name)
    }

    /// `open`, `closed` or `merged` (GitLab's `opened` reads `open`, as in the capability).
    pub fn pull_state(&self, full_name: &str, iid: u64) -> Option<String> {
        let gitlab = self.state.lock().unwrap();
        let mr = gitlab
            .projects
            .get(full_name)?
            .merge_requests
            .iter()
            .find(|m| m.iid == iid)?;
        Some(if mr.state == "opened" {
            "open".into()
        } else {
            mr.state.clone()
        })
    }

    /// Merges merge request `iid`, as a person clicking "Merge" would.
    pub fn merge(&self, full_name: &str, iid: u64) {
        let mut gitlab = self.state.lock().unwrap();
        let project = gitlab.projects.get_mut(full_name).expect("project exists");
        project
            .merge_requests
            .iter_mut()
            .find(|m| m.iid == iid)
            .expect("merge request exists")
            .state = "merged".into();
    }

    /// The access group `team` (full path, path or name) has on `group/project`, in the
    /// capability's words: 20 `pull`, 30 `push`, 40 `maintain`, 50 `admin` (10 `guest`).
    pub fn team_permission(&self, full_name: &str, team: &str) -> Option<String> {
        let level = self.group_access(full_name, team)?;
        Some(
            match level {
                10 => "guest",
                20 => "pull",
                30 => "push",
                40 => "maintain",
                _ => "admin",
            }
            .into(),
        )
    }

    /// The raw GitLab access level group `team` has on `group/project`.
    pub fn group_access(&self, full_name: &str, team: &str) -> Option<u64> {
        let id = GROUPS
            .iter()
            .find(|(_, name, path, full)| *name == team || *path == team || *full == team)?
            .0;
        self.state
            .lock()
            .unwrap()
            .projects
            .get(full_name)?
            .shares
            .get(&id)
            .copied()
    }

    /// The access level user `username` has on `group/project`.
    pub fn member_level(&self, full_name: &str, username: &str) -> Option<u64> {
        let id = USERS.iter().find(|(_, name)| *name == username)?.0;
        self.state
            .lock()
            .unwrap()
            .projects
            .get(full_name)?
            .members
            .get(&id)
            .copied()
    }

    /// The content of `path` on `branch`.
    pub fn file(&self, full_name: &str, branch: &str, path: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .projects
            .get(full_name)?
            .files
            .get(&(branch.to_string(), path.to_string()))
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Every file on `branch` of `group/project`: path → (bytes, executable).
    pub fn tree(&self, full_name: &str, branch: &str) -> BTreeMap<String, (Vec<u8>, bool)> {
        let gitlab = self.state.lock().unwrap();
        let Some(p) = gitlab.projects.get(full_name) else {
            return BTreeMap::new();
        };
        p.files
            .iter()
            .filter(|((b, _), _)| b == branch)
            .map(|((b, path), bytes)| {
                (
                    path.clone(),
                    (
                        bytes.clone(),
                        p.executables.contains(&(b.clone(), path.clone())),
                    ),
                )
            })
            .collect()
    }

    /// Default branch, visibility, topics and protected branches of `group/project`.
    pub fn settings(&self, full_name: &str) -> Option<(String, String, Vec<String>, Vec<String>)> {
        let gitlab = self.state.lock().unwrap();
        let p = gitlab.projects.get(full_name)?;
        Some((
            p.default_branch.clone(),
            p.visibility.clone(),
            p.topics.clone(),
            p.protected.iter().cloned().collect(),
        ))
    }

    /// The project `group/project` was forked from, if any.
    pub fn forked_from(&self, full_name: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .projects
            .get(full_name)?
            .forked_from
            .clone()
    }

    /// The description of merge request `iid`.
    pub fn merge_request_description(&self, full_name: &str, iid: u64) -> Option<String> {
        let gitlab = self.state.lock().unwrap();
        Some(
            gitlab
                .projects
                .get(full_name)?
                .merge_requests
                .iter()
                .find(|m| m.iid == iid)?
                .description
                .clone(),
        )
    }
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn message(status: u16, message: impl Into<Value>) -> Response {
    answer(status, json!({"message": message.into()}))
}

fn not_found(what: &str) -> Response {
    message(404, format!("404 {what} Not Found"))
}

/// The JSON types GitLab's parameters use.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    List,
}

impl Kind {
    fn fits(self, v: &Value) -> bool {
        match self {
            Kind::Str => v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::Int => v.is_u64(),
            Kind::List => v.is_array(),
        }
    }
}

/// Checks parameters as GitLab's API layer does: `{"error": "name is missing"}` or
/// `{"error": "name is invalid"}`, with 400.
fn check(
    body: &Value,
    required: &[(&str, Kind)],
    optional: &[(&str, Kind)],
) -> Result<(), Response> {
    let error = |e: String| answer(400, json!({"error": e}));
    for (field, kind) in required {
        match body.get(field) {
            None | Some(Value::Null) => return Err(error(format!("{field} is missing"))),
            Some(v) if !kind.fits(v) => return Err(error(format!("{field} is invalid"))),
            _ => {}
        }
    }
    for (field, kind) in optional {
        if body
            .get(field)
            .is_some_and(|v| !v.is_null() && !kind.fits(v))
        {
            return Err(error(format!("{field} is invalid")));
        }
    }
    Ok(())
}

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body.get(field).and_then(Value::as_str).unwrap_or("")
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            segment
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://fake/?{}", uri.query().unwrap_or(""))).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn handle(
    Extract((recorder, state)): Extract<(Recorder, Arc<Mutex<GitLab>>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = recorder.record(&method, &uri, &headers, &body) {
        return fault;
    }
    let mut gitlab = state.lock().unwrap();
    let result = gitlab.route(&method, &uri, &headers, &body);
    result.unwrap_or_else(|e| e)
}

impl GitLab {
    fn commit(&mut self) -> String {
        self.ids += 1;
        format!("{:040x}", 0xbeef_u64 * 1000 + self.ids)
    }

    fn new_project(&mut self, full_path: &str, description: &str, visibility: &str) -> Project {
        self.ids += 1;
        Project {
            id: self.ids,
            full_path: full_path.into(),
            description: description.into(),
            visibility: visibility.into(),
            forked_from: None,
            branches: BTreeMap::new(),
            files: BTreeMap::new(),
            executables: Default::default(),
            default_branch: "main".into(),
            topics: Vec::new(),
            protected: Default::default(),
            merge_requests: Vec::new(),
            shares: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }

    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, raw: &Bytes) -> Answer {
        if headers.get("private-token").and_then(|v| v.to_str().ok()) != Some(self.token.as_str()) {
            return Err(message(401, "401 Unauthorized"));
        }
        let Some(path) = uri.path().strip_prefix("/api/v4/") else {
            return Err(message(404, "404 Not Found"));
        };
        // Split before decoding: a project id is one `%2F`-encoded segment.
        let segments: Vec<String> = path.split('/').map(percent_decode).collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let body: Value = if raw.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(raw)
                .map_err(|_| message(400, "400 Bad request - JSON body could not be parsed"))?
        };
        let q = query(uri);
        if let Some(answer) = self.repository_routes(method.as_str(), &s, &body, &q) {
            return answer;
        }
        match (method.as_str(), s.as_slice()) {
            ("GET", ["namespaces", id]) => {
                let (id, name, path, full) = GROUPS
                    .iter()
                    .find(|g| g.3 == *id || g.0.to_string() == *id)
                    .ok_or_else(|| not_found("Namespace"))?;
                Ok(answer(
                    200,
                    json!({"id": id, "name": name, "path": path, "full_path": full, "kind": "group"}),
                ))
            }
            ("POST", ["projects"]) => self.create_project(&body),
            ("GET", ["projects", id]) => Ok(answer(200, self.project_json(self.project(id)?))),
            ("DELETE", ["projects", id]) => {
                let key = self.project(id)?.full_path.clone();
                self.projects.remove(&key);
                Ok(message(202, "202 Accepted"))
            }
            ("POST", ["projects", id, "fork"]) => self.fork(id, &body),
            ("POST", ["projects", id, "repository", "branches"]) => self.create_branch(id, &q),
            ("GET", ["projects", id, "repository", "files", file]) => self.get_file(id, file, &q),
            ("POST", ["projects", id, "repository", "commits"]) => self.create_commit(id, &body),
            ("POST", ["projects", id, "merge_requests"]) => self.create_merge_request(id, &body),
            ("GET", ["projects", id, "merge_requests"]) => {
                let project = self.project(id)?;
                let list: Vec<Value> = project
                    .merge_requests
                    .iter()
                    .filter(|m| q.get("state").is_none_or(|s| s == "all" || *s == m.state))
                    .filter(|m| q.get("source_branch").is_none_or(|b| *b == m.source))
                    .filter(|m| q.get("target_branch").is_none_or(|b| *b == m.target))
                    .map(|m| self.merge_request_json(project, m))
                    .collect();
                Ok(answer(200, Value::Array(list)))
            }
            ("GET", ["projects", id, "merge_requests", iid]) => {
                let project = self.project(id)?;
                let mr = project
                    .merge_requests
                    .iter()
                    .find(|m| m.iid.to_string() == *iid)
                    .ok_or_else(|| message(404, "404 Not found"))?;
                Ok(answer(200, self.merge_request_json(project, mr)))
            }
            ("PUT", ["projects", id, "merge_requests", iid]) => {
                self.update_merge_request(id, iid, &body)
            }
            ("GET", ["users"]) => Ok(answer(
                200,
                Value::Array(
                    USERS
                        .iter()
                        .filter(|(_, name)| q.get("username").is_none_or(|u| u == name))
                        .map(|(id, name)| json!({"id": id, "username": name, "name": name, "state": "active"}))
                        .collect(),
                ),
            )),
            ("POST", ["projects", id, "members"]) => self.add_member(id, &body),
            ("PUT", ["projects", id, "members", user]) => {
                let level = body["access_level"]
                    .as_u64()
                    .ok_or_else(|| answer(400, json!({"error": "access_level is missing"})))?;
                let user: u64 = user.parse().unwrap_or(0);
                let project = self.project_mut(id)?;
                let slot = project
                    .members
                    .get_mut(&user)
                    .ok_or_else(|| not_found("Member"))?;
                *slot = level;
                Ok(answer(200, json!({"id": user, "access_level": level})))
            }
            ("GET", ["groups"]) => Ok(Self::search_groups(&q)),
            // The listings a form's pickers read (one page: the fake holds few projects).
            ("GET", ["projects"]) => {
                let all: Vec<Value> = self.projects.values().map(|p| self.project_json(p)).collect();
                Ok(answer(200, Value::Array(all)))
            }
            ("GET", ["groups", group, "projects"]) => {
                let path = GROUPS
                    .iter()
                    .find(|(id, _, _, full)| *full == *group || id.to_string() == *group)
                    .map(|(_, _, _, full)| *full)
                    .ok_or_else(|| not_found("Group"))?;
                let under: Vec<Value> = self
                    .projects
                    .values()
                    .filter(|p| p.full_path.starts_with(&format!("{path}/")))
                    .map(|p| self.project_json(p))
                    .collect();
                Ok(answer(200, Value::Array(under)))
            }
            ("GET", ["projects", id, "repository", "branches"]) => {
                let branches: Vec<Value> = self
                    .project(id)?
                    .branches
                    .iter()
                    .map(|(name, sha)| json!({"name": name, "commit": {"id": sha}}))
                    .collect();
                Ok(answer(200, Value::Array(branches)))
            }
            ("POST", ["projects", id, "share"]) => self.share(id, &body),
            ("DELETE", ["projects", id, "share", group]) => {
                let project = self.project_mut(id)?;
                project
                    .shares
                    .remove(&group.parse().unwrap_or(0))
                    .ok_or_else(|| message(404, "404 Not found"))?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(message(404, "404 Not Found")),
        }
    }

    /// A project by URL-encoded path or numeric id.
    fn project(&self, id: &str) -> Result<&Project, Response> {
        self.projects
            .values()
            .find(|p| p.full_path == id || p.id.to_string() == id)
            .ok_or_else(|| not_found("Project"))
    }

    fn project_mut(&mut self, id: &str) -> Result<&mut Project, Response> {
        self.projects
            .values_mut()
            .find(|p| p.full_path == id || p.id.to_string() == id)
            .ok_or_else(|| not_found("Project"))
    }

    fn project_json(&self, p: &Project) -> Value {
        let (namespace, path) = p.full_path.rsplit_once('/').unwrap();
        let default_branch = if p.branches.is_empty() {
            Value::Null
        } else {
            json!(p.default_branch)
        };
        let mut json = json!({
            "id": p.id, "name": path, "path": path, "path_with_namespace": p.full_path,
            "namespace": {"full_path": namespace}, "description": p.description, "visibility": p.visibility,
            "web_url": format!("{}/{}", self.web, p.full_path),
            "http_url_to_repo": format!("{}/{}.git", self.web, p.full_path),
            "default_branch": default_branch,
        });
        if let Some(from) = &p.forked_from {
            json["forked_from_project"] = json!({"path_with_namespace": from});
        }
        json
    }

    fn namespace(body: &Value) -> Result<&'static str, Response> {
        let id = body.get("namespace_id").and_then(Value::as_u64);
        GROUPS
            .iter()
            .find(|g| Some(g.0) == id)
            .map(|g| g.3)
            .ok_or_else(|| not_found("Namespace"))
    }

    fn visibility(body: &Value) -> Result<String, Response> {
        match body
            .get("visibility")
            .and_then(Value::as_str)
            .unwrap_or("private")
        {
            v @ ("private" | "internal" | "public") => Ok(v.into()),
            _ => Err(answer(
                400,
                json!({"error": "visibility does not have a valid value"}),
            )),
        }
    }

    /// POST /projects.
    fn create_project(&mut self, body: &Value) -> Answer {
        check(
            body,
            &[("name", Kind::Str), ("namespace_id", Kind::Int)],
            &[
                ("path", Kind::Str),
                ("description", Kind::Str),
                ("visibility", Kind::Str),
                ("initialize_with_readme", Kind::Bool),
            ],
        )?;
        let namespace = Self::namespace(body)?;
        let path = body
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or(text(body, "name"));
        let full_path = format!("{namespace}/{path}");
        if self.projects.contains_key(&full_path) {
            return Err(message(
                400,
                json!({"name": ["has already been taken"], "path": ["has already been taken"]}),
            ));
        }
        let visibility = Self::visibility(body)?;
        let mut project = self.new_project(&full_path, text(body, "description"), &visibility);
        if body["initialize_with_readme"].as_bool() == Some(true) {
            let commit = self.commit();
            project.branches.insert("main".into(), commit);
            project.files.insert(
                ("main".into(), "README.md".into()),
                format!("# {}\n", text(body, "name")).into_bytes(),
            );
        }
        let json = self.project_json(&project);
        self.projects.insert(full_path, project);
        Ok(answer(201, json))
    }

    /// POST /projects/{id}/fork.
    fn fork(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[],
            &[
                ("namespace_id", Kind::Int),
                ("name", Kind::Str),
                ("path", Kind::Str),
                ("description", Kind::Str),
                ("visibility", Kind::Str),
            ],
        )?;
        let source = self.project(id)?;
        let (source_path, branches, files, source_description) = (
            source.full_path.clone(),
            source.branches.clone(),
            source.files.clone(),
            source.description.clone(),
        );
        let namespace = Self::namespace(body)?;
        let path = body
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_else(|| source_path.rsplit('/').next().unwrap());
        let full_path = format!("{namespace}/{path}");
        if self.projects.contains_key(&full_path) {
            return Err(message(
                409,
                json!({"name": ["has already been taken"], "path": ["has already been taken"]}),
            ));
        }
        let visibility = Self::visibility(body)?;
        let description = body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or(&source_description)
            .to_string();
        let mut project = self.new_project(&full_path, &description, &visibility);
        project.forked_from = Some(source_path);
        project.branches = branches;
        project.files = files;
        let json = self.project_json(&project);
        self.projects.insert(full_path, project);
        Ok(answer(201, json))
    }

    /// POST /projects/{id}/repository/branches?branch=&ref=.
    fn create_branch(&mut self, id: &str, q: &BTreeMap<String, String>) -> Answer {
        let branch = q
            .get("branch")
            .ok_or_else(|| answer(400, json!({"error": "branch is missing"})))?
            .clone();
        let reference = q
            .get("ref")
            .ok_or_else(|| answer(400, json!({"error": "ref is missing"})))?
            .clone();
        let web = self.web.clone();
        let project = self.project_mut(id)?;
        let Some(commit) = project.branches.get(&reference).cloned() else {
            return Err(message(400, format!("Invalid reference name: {reference}")));
        };
        if project.branches.contains_key(&branch) {
            return Err(message(400, "Branch already exists"));
        }
        let copied: Vec<_> = project
            .files
            .iter()
            .filter(|((b, _), _)| *b == reference)
            .map(|((_, p), c)| ((branch.clone(), p.clone()), c.clone()))
            .collect();
        project.files.extend(copied);
        project.branches.insert(branch.clone(), commit.clone());
        let web_url = format!("{web}/{}/-/tree/{branch}", project.full_path);
        Ok(answer(
            201,
            json!({"name": branch, "commit": {"id": commit}, "default": false, "protected": false, "web_url": web_url}),
        ))
    }

    /// GET /projects/{id}/repository/files/{file_path}?ref=.
    fn get_file(&self, id: &str, file: &str, q: &BTreeMap<String, String>) -> Answer {
        let reference = q
            .get("ref")
            .ok_or_else(|| answer(400, json!({"error": "ref is missing"})))?;
        let project = self.project(id)?;
        let content = project
            .files
            .get(&(reference.clone(), file.to_string()))
            .ok_or_else(|| not_found("File"))?;
        Ok(answer(
            200,
            json!({
                "file_name": file.rsplit('/').next(), "file_path": file, "size": content.len(), "encoding": "base64",
                "content": STANDARD.encode(content), "ref": reference,
            }),
        ))
    }

    /// POST /projects/{id}/repository/commits: `start_branch` makes a missing branch from
    /// another; `execute_filemode` sets the executable bit; `encoding: base64` takes bytes.
    fn create_commit(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[
                ("branch", Kind::Str),
                ("commit_message", Kind::Str),
                ("actions", Kind::List),
            ],
            &[
                ("start_branch", Kind::Str),
                ("author_name", Kind::Str),
                ("author_email", Kind::Str),
            ],
        )?;
        for action in body["actions"].as_array().unwrap() {
            check(
                action,
                &[("action", Kind::Str), ("file_path", Kind::Str)],
                &[
                    ("content", Kind::Str),
                    ("encoding", Kind::Str),
                    ("execute_filemode", Kind::Bool),
                ],
            )?;
            if !["create", "update", "delete", "move", "chmod"].contains(&text(action, "action")) {
                return Err(answer(
                    400,
                    json!({"error": "actions[action] does not have a valid value"}),
                ));
            }
        }
        let commit = self.commit();
        let project = self.project_mut(id)?;
        let branch = text(body, "branch").to_string();
        let mut files = project.files.clone();
        let mut executables = project.executables.clone();
        if !project.branches.contains_key(&branch) {
            let Some(start) = body.get("start_branch").and_then(Value::as_str) else {
                return Err(message(
                    400,
                    "You can only create or edit files when you are on a branch",
                ));
            };
            if !project.branches.contains_key(start) {
                return Err(message(400, format!("Invalid reference name: {start}")));
            }
            for ((b, p), c) in &project.files {
                if b == start {
                    files.insert((branch.clone(), p.clone()), c.clone());
                }
            }
            for (b, p) in &project.executables {
                if b == start {
                    executables.insert((branch.clone(), p.clone()));
                }
            }
        }
        // All or nothing, as a commit is.
        for action in body["actions"].as_array().unwrap() {
            let key = (branch.clone(), text(action, "file_path").to_string());
            let content = match text(action, "encoding") {
                "base64" => STANDARD
                    .decode(text(action, "content"))
                    .map_err(|_| message(400, "content is not valid base64"))?,
                _ => text(action, "content").as_bytes().to_vec(),
            };
            match (text(action, "action"), files.contains_key(&key)) {
                ("create", true) => {
                    return Err(message(400, "A file with this name already exists"));
                }
                ("update" | "delete", false) => {
                    return Err(message(400, "A file with this name doesn't exist"));
                }
                ("delete", true) => {
                    files.remove(&key);
                    executables.remove(&key);
                }
                _ => {
                    if action["execute_filemode"].as_bool() == Some(true) {
                        executables.insert(key.clone());
                    } else {
                        executables.remove(&key);
                    }
                    files.insert(key, content);
                }
            }
        }
        project.files = files;
        project.executables = executables;
        project.branches.insert(branch, commit.clone());
        let web_url = format!(
            "{}/{}/-/commit/{commit}",
            self.web,
            self.project(id)?.full_path
        );
        Ok(answer(
            201,
            json!({"id": commit, "short_id": &commit[..8], "title": text(body, "commit_message"), "web_url": web_url}),
        ))
    }

    fn merge_request_json(&self, project: &Project, mr: &MergeRequest) -> Value {
        json!({
            "id": project.id * 1000 + mr.iid, "iid": mr.iid, "project_id": project.id, "title": mr.title,
            "description": mr.description, "state": mr.state,
            "merged_at": if mr.state == "merged" { json!("2024-01-01T00:00:00Z") } else { Value::Null },
            "source_branch": mr.source, "target_branch": mr.target,
            "web_url": format!("{}/{}/-/merge_requests/{}", self.web, project.full_path, mr.iid),
        })
    }

    /// POST /projects/{id}/merge_requests.
    fn create_merge_request(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[
                ("source_branch", Kind::Str),
                ("target_branch", Kind::Str),
                ("title", Kind::Str),
            ],
            &[
                ("description", Kind::Str),
                ("remove_source_branch", Kind::Bool),
            ],
        )?;
        let project = self.project_mut(id)?;
        let (source, target) = (
            text(body, "source_branch").to_string(),
            text(body, "target_branch").to_string(),
        );
        for (which, branch) in [("Source", &source), ("Target", &target)] {
            if !project.branches.contains_key(branch) {
                return Err(message(
                    400,
                    json!([format!("{which} branch \"{branch}\" does not exist")]),
                ));
            }
        }
        if let Some(open) = project
            .merge_requests
            .iter()
            .find(|m| m.source == source && m.target == target && m.state == "opened")
        {
            return Err(message(
                409,
                json!([format!(
                    "Another open merge request already exists for this source branch: !{}",
                    open.iid
                )]),
            ));
        }
        let iid = project.merge_requests.len() as u64 + 1;
        project.merge_requests.push(MergeRequest {
            iid,
            title: text(body, "title").into(),
            description: text(body, "description").into(),
            source,
            target,
            state: "opened".into(),
        });
        let project = self.project(id)?;
        Ok(answer(
            201,
            self.merge_request_json(project, project.merge_requests.last().unwrap()),
        ))
    }

    /// PUT /projects/{id}/merge_requests/{iid}.
    fn update_merge_request(&mut self, id: &str, iid: &str, body: &Value) -> Answer {
        check(
            body,
            &[],
            &[
                ("state_event", Kind::Str),
                ("title", Kind::Str),
                ("description", Kind::Str),
            ],
        )?;
        let project = self.project_mut(id)?;
        let mr = project
            .merge_requests
            .iter_mut()
            .find(|m| m.iid.to_string() == iid)
            .ok_or_else(|| message(404, "404 Not found"))?;
        match (
            body.get("state_event").and_then(Value::as_str),
            mr.state.as_str(),
        ) {
            (None, _) => {}
            (Some("close"), "opened") => mr.state = "closed".into(),
            (Some("reopen"), "closed") => mr.state = "opened".into(),
            (Some("close" | "reopen"), _) => {}
            (Some(_), _) => {
                return Err(answer(
                    400,
                    json!({"error": "state_event does not have a valid value"}),
                ));
            }
        }
        let project = self.project(id)?;
        let mr = project
            .merge_requests
            .iter()
            .find(|m| m.iid.to_string() == iid)
            .unwrap();
        Ok(answer(200, self.merge_request_json(project, mr)))
    }

    /// GET /groups?search=&per_page=&page=, at most two a page, with GitLab's pagination headers.
    fn search_groups(q: &BTreeMap<String, String>) -> Response {
        let search = q
            .get("search")
            .map(|s| s.to_lowercase())
            .unwrap_or_default();
        let found: Vec<_> = GROUPS
            .iter()
            .filter(|(_, name, path, _)| {
                name.to_lowercase().contains(&search) || path.contains(&search)
            })
            .collect();
        let per_page = q
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(20usize)
            .clamp(1, PAGE);
        let page = q
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        let pages = found.len().div_ceil(per_page).max(1);
        let list: Vec<Value> = found
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(id, name, path, full)| json!({"id": id, "name": name, "path": path, "full_path": full}))
            .collect();
        let mut response = answer(200, Value::Array(list));
        let next = if page < pages {
            (page + 1).to_string()
        } else {
            String::new()
        };
        for (name, value) in [
            ("x-next-page", next),
            ("x-page", page.to_string()),
            ("x-per-page", per_page.to_string()),
            ("x-total", found.len().to_string()),
            ("x-total-pages", pages.to_string()),
        ] {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        response
    }

    /// POST /projects/{id}/share.
    fn share(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[("group_id", Kind::Int), ("group_access", Kind::Int)],
            &[("expires_at", Kind::Str)],
        )?;
        let level = body["group_access"].as_u64().unwrap();
        if ![10, 20, 30, 40].contains(&level) {
            return Err(answer(
                400,
                json!({"error": "group_access does not have a valid value"}),
            ));
        }
        let group = body["group_id"].as_u64().unwrap();
        if !GROUPS.iter().any(|g| g.0 == group) {
            return Err(not_found("Group"));
        }
        let project = self.project_mut(id)?;
        if project.shares.contains_key(&group) {
            return Err(message(409, "Group already shared with this group"));
        }
        project.shares.insert(group, level);
        Ok(answer(
            201,
            json!({"id": group * 1000 + project.id, "project_id": project.id, "group_id": group, "group_access": level}),
        ))
    }

    /// POST /projects/{id}/members: 409 when the user already is a member.
    fn add_member(&mut self, id: &str, body: &Value) -> Answer {
        check(
            body,
            &[("user_id", Kind::Int), ("access_level", Kind::Int)],
            &[("expires_at", Kind::Str)],
        )?;
        let level = body["access_level"].as_u64().unwrap();
        if ![10, 20, 30, 40, 50].contains(&level) {
            return Err(answer(
                400,
                json!({"error": "access_level does not have a valid value"}),
            ));
        }
        let user = body["user_id"].as_u64().unwrap();
        if !USERS.iter().any(|u| u.0 == user) {
            return Err(not_found("User"));
        }
        let project = self.project_mut(id)?;
        if project.members.contains_key(&user) {
            return Err(message(409, "Member already exists"));
        }
        project.members.insert(user, level);
        Ok(answer(201, json!({"id": user, "access_level": level})))
    }
}
