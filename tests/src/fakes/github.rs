//! A fake GitHub REST API (`api.github.com`, API version 2022-11-28) speaking the subset the
//! GitHub adapter uses: organisation repositories, template generation, refs, contents, pull
//! requests, teams (paginated two to a page with `Link` headers) and the GitHub App
//! installation-token exchange. Paths, methods, status codes and error bodies follow GitHub's
//! documentation; request bodies are checked against the documented shapes so an adapter that
//! sends the wrong shape gets GitHub's 422 rather than a silent pass.

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
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{Recorder, serve};

#[path = "github_git.rs"]
mod git_data;

const DOCS: &str = "https://docs.github.com/rest";

/// The organisation every fake starts with, and its teams (name, slug): six teams, so the
/// two-per-page listing spans three pages.
const ORG: &str = "acme";
const TEAMS: &[(&str, &str)] = &[
    ("Alpha Team", "alpha-team"),
    ("Backend", "backend"),
    ("Data", "data"),
    ("Frontend", "frontend"),
    ("Platform Engineers", "platform-engineers"),
    ("Payments", "payments"),
];
/// Users every fake knows (`PUT …/collaborators/{user}` answers 404 for anyone else).
const USERS: &[&str] = &["alice", "bob", "carol"];
/// Teams per page, whatever `per_page` asks: small, so pagination is exercised.
const PAGE: usize = 2;
/// A template repository every fake starts with, holding `README.md` on `main`.
pub const TEMPLATE: &str = "acme/service-template";

/// A running fake GitHub.
pub struct FakeGitHub {
    /// Every request received, and the faults to answer with.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<GitHub>>,
}

struct App {
    app_id: String,
    installation_id: String,
    key: DecodingKey,
}

struct Pull {
    number: u64,
    title: String,
    head: String,
    base: String,
    state: String,
    merged: bool,
}

struct Repo {
    full_name: String,
    description: String,
    private: bool,
    /// `public`, `private` or `internal`.
    visibility: String,
    is_template: bool,
    default_branch: String,
    /// Branch name → tip sha.
    branches: BTreeMap<String, String>,
    /// (branch, path) → content.
    files: BTreeMap<(String, String), Vec<u8>>,
    /// (branch, path) of the files with mode 100755.
    executables: std::collections::BTreeSet<(String, String)>,
    /// (branch, path) of the symbolic links (mode 120000; the content is the target).
    links: std::collections::BTreeSet<(String, String)>,
    /// Topics (`PUT /repos/{o}/{r}/topics`).
    topics: Vec<String>,
    /// Branches with a protection rule.
    protected: std::collections::BTreeSet<String>,
    pulls: Vec<Pull>,
    /// Team slug → permission.
    teams: BTreeMap<String, String>,
    /// User login → permission (an invitation, which the fake treats as accepted).
    collaborators: BTreeMap<String, String>,
}

struct GitHub {
    token: String,
    base: String,
    app: Option<App>,
    installation_tokens: Vec<String>,
    repos: BTreeMap<String, Repo>,
    shas: u64,
    objects: git_data::Objects,
}

type Answer = Result<Response, Response>;

impl FakeGitHub {
    /// Starts a fake that accepts `Authorization: Bearer {token}`.
    pub async fn start(token: &str) -> FakeGitHub {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(GitHub {
            token: token.to_string(),
            base: String::new(),
            app: None,
            installation_tokens: Vec::new(),
            repos: BTreeMap::new(),
            shas: 0,
            objects: Default::default(),
        }));
        {
            let mut github = state.lock().unwrap();
            let mut template = github.new_repo(TEMPLATE, "Service template", true);
            template.is_template = true;
            let sha = github.sha();
            template.branches.insert("main".into(), sha);
            template.files.insert(
                ("main".into(), "README.md".into()),
                b"# Service template\n".to_vec(),
            );
            github.repos.insert(TEMPLATE.into(), template);
        }
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((recorder.clone(), state.clone()));
        let addr = serve(app).await;
        state.lock().unwrap().base = format!("http://{addr}");
        FakeGitHub {
            recorder,
            addr,
            state,
        }
    }

    /// Also accepts GitHub App `app_id` installation `installation_id`: a JWT signed with the
    /// private half of `public_key_pem` exchanges for an installation token.
    pub fn enable_app(&self, app_id: &str, installation_id: &str, public_key_pem: &str) {
        let key =
            DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).expect("an RSA public key in PEM");
        self.state.lock().unwrap().app = Some(App {
            app_id: app_id.into(),
            installation_id: installation_id.into(),
            key,
        });
    }

    /// The API root to put in the binding's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, the host to grant the adapter.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Whether repository `owner/name` exists.
    pub fn repo_exists(&self, full_name: &str) -> bool {
        self.state.lock().unwrap().repos.contains_key(full_name)
    }

    /// `open`, `closed` or `merged`.
    pub fn pull_state(&self, full_name: &str, number: u64) -> Option<String> {
        let github = self.state.lock().unwrap();
        let pull = github
            .repos
            .get(full_name)?
            .pulls
            .iter()
            .find(|p| p.number == number)?;
        Some(if pull.merged {
            "merged".into()
        } else {
            pull.state.clone()
        })
    }

    /// Merges pull request `number`, as a person clicking "Merge" would.
    pub fn merge(&self, full_name: &str, number: u64) {
        let mut github = self.state.lock().unwrap();
        let repo = github.repos.get_mut(full_name).expect("repository exists");
        let pull = repo
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("pull request exists");
        pull.state = "closed".into();
        pull.merged = true;
    }

    /// The permission team `team` (name or slug) has on `owner/name`.
    pub fn team_permission(&self, full_name: &str, team: &str) -> Option<String> {
        let slug = TEAMS
            .iter()
            .find(|(name, slug)| *name == team || *slug == team)
            .map(|(_, s)| *s)?;
        self.state
            .lock()
            .unwrap()
            .repos
            .get(full_name)?
            .teams
            .get(slug)
            .cloned()
    }

    /// The permission user `login` has (or is invited with) on `owner/name`.
    pub fn collaborator_permission(&self, full_name: &str, login: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .repos
            .get(full_name)?
            .collaborators
            .get(login)
            .cloned()
    }

    /// Reads `…/{owner}/{repo}/blob/{branch}/{path}` from this fake's
    /// repositories, as a Backstage catalog reads a registered location through its GitHub
    /// integration.
    pub fn blob_reader(&self) -> super::backstage_catalog::Reader {
        let state = self.state.clone();
        Arc::new(move |url: &str| {
            let github = state.lock().unwrap();
            // The fake's own web addresses (its `html_url`s) or github.com's.
            let rest = url
                .strip_prefix(&format!("{}/", github.base))
                .or_else(|| url.strip_prefix("https://github.com/"))?;
            let mut parts = rest.splitn(5, '/');
            let (owner, repo, blob, branch, path) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if blob != "blob" {
                return None;
            }
            let bytes = github
                .repos
                .get(&format!("{owner}/{repo}"))?
                .files
                .get(&(branch.to_string(), path.to_string()))?;
            String::from_utf8(bytes.clone()).ok()
        })
    }

    /// The symbolic links on `branch` of `owner/name`: path → target.
    pub fn links(&self, full_name: &str, branch: &str) -> BTreeMap<String, String> {
        self.state
            .lock()
            .unwrap()
            .repos
            .get(full_name)
            .map(|r| r.links(branch))
            .unwrap_or_default()
    }

    /// The content of `path` on `branch`.
    pub fn file(&self, full_name: &str, branch: &str, path: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .repos
            .get(full_name)?
            .files
            .get(&(branch.to_string(), path.to_string()))
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Every file on `branch` of `owner/name`: path → (bytes, executable).
    pub fn tree(&self, full_name: &str, branch: &str) -> BTreeMap<String, (Vec<u8>, bool)> {
        self.state
            .lock()
            .unwrap()
            .repos
            .get(full_name)
            .map(|r| r.tree(branch))
            .unwrap_or_default()
    }

    /// Default branch, visibility, topics and protected branches of `owner/name`.
    pub fn settings(&self, full_name: &str) -> Option<(String, String, Vec<String>, Vec<String>)> {
        let github = self.state.lock().unwrap();
        let repo = github.repos.get(full_name)?;
        Some((
            repo.default_branch.clone(),
            repo.visibility.clone(),
            repo.topics.clone(),
            repo.protected.iter().cloned().collect(),
        ))
    }

    /// Creates `owner/name` holding `files` (path, content, executable) on `main`, as an
    /// existing repository a template fetches from or opens a pull request on.
    pub fn seed(&self, full_name: &str, files: &[(&str, &[u8], bool)]) {
        let mut github = self.state.lock().unwrap();
        let mut repo = github.new_repo(full_name, "seeded", false);
        let sha = github.sha();
        repo.branches.insert("main".into(), sha);
        for (path, bytes, executable) in files {
            repo.files
                .insert(("main".into(), path.to_string()), bytes.to_vec());
            if *executable {
                repo.executables.insert(("main".into(), path.to_string()));
            }
        }
        github.repos.insert(full_name.into(), repo);
    }

    /// The title of pull request `number`.
    pub fn pull_title(&self, full_name: &str, number: u64) -> Option<String> {
        let github = self.state.lock().unwrap();
        Some(
            github
                .repos
                .get(full_name)?
                .pulls
                .iter()
                .find(|p| p.number == number)?
                .title
                .clone(),
        )
    }
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn error(status: u16, message: &str) -> Response {
    answer(
        status,
        json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
    )
}

fn not_found() -> Response {
    error(404, "Not Found")
}

/// GitHub's 422 for a failed validation, with one entry in `errors`.
fn validation(resource: &str, field: &str, code: &str, message: Option<&str>) -> Response {
    let mut entry = json!({"resource": resource, "field": field, "code": code});
    if let Some(m) = message {
        entry["message"] = json!(m);
    }
    answer(
        422,
        json!({"message": "Validation Failed", "errors": [entry], "documentation_url": DOCS, "status": "422"}),
    )
}

/// The JSON types GitHub's request schemas use.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Arr,
    Obj,
}

impl Kind {
    fn fits(self, v: &Value) -> bool {
        match self {
            Kind::Str => v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::Arr => v.is_array(),
            Kind::Obj => v.is_object(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Bool => "boolean",
            Kind::Arr => "array",
            Kind::Obj => "object",
        }
    }
}

/// Checks a body against a documented schema: required and optional fields with their types,
/// answering GitHub's 422 "Invalid request" as it words them.
fn check(
    body: &Value,
    required: &[(&str, Kind)],
    optional: &[(&str, Kind)],
) -> Result<(), Response> {
    let invalid = |detail: String| error(422, &format!("Invalid request.\n\n{detail}"));
    for (field, kind) in required {
        match body.get(field) {
            None | Some(Value::Null) => {
                return Err(invalid(format!("\"{field}\" wasn't supplied.")));
            }
            Some(v) if !kind.fits(v) => {
                return Err(invalid(format!(
                    "For 'properties/{field}', {v} is not a {}.",
                    kind.name()
                )));
            }
            _ => {}
        }
    }
    for (field, kind) in optional {
        if let Some(v) = body.get(field).filter(|v| !v.is_null() && !kind.fits(v)) {
            return Err(invalid(format!(
                "For 'properties/{field}', {v} is not a {}.",
                kind.name()
            )));
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
    Extract((recorder, state)): Extract<(Recorder, Arc<Mutex<GitHub>>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = recorder.record(&method, &uri, &headers, &body) {
        return fault;
    }
    let mut github = state.lock().unwrap();
    let result = github.route(&method, &uri, &headers, &body);
    result.unwrap_or_else(|e| e)
}

impl GitHub {
    fn sha(&mut self) -> String {
        self.shas += 1;
        format!("{:040x}", 0xc0ffee_u64 * 1000 + self.shas)
    }

    fn new_repo(&self, full_name: &str, description: &str, private: bool) -> Repo {
        Repo {
            full_name: full_name.into(),
            description: description.into(),
            private,
            visibility: if private { "private" } else { "public" }.into(),
            is_template: false,
            default_branch: "main".into(),
            branches: BTreeMap::new(),
            files: BTreeMap::new(),
            executables: Default::default(),
            links: Default::default(),
            topics: Vec::new(),
            protected: Default::default(),
            pulls: Vec::new(),
            teams: BTreeMap::new(),
            collaborators: BTreeMap::new(),
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        // GitHub takes `Bearer` and the older `token` scheme alike.
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("token "))
            .unwrap_or("");
        token == self.token || self.installation_tokens.iter().any(|t| t == token)
    }

    fn route(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, raw: &Bytes) -> Answer {
        let segments: Vec<String> = uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let body: Value = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(raw).map_err(|_| error(400, "Problems parsing JSON"))?
        };
        if let ("POST", ["app", "installations", id, "access_tokens"]) =
            (method.as_str(), s.as_slice())
        {
            return self.exchange(headers, id);
        }
        if !self.authorized(headers) {
            return Err(error(401, "Bad credentials"));
        }
        let q = query(uri);
        if let Some(answer) = self.git_data(method.as_str(), &s, &body, &q) {
            return answer;
        }
        match (method.as_str(), s.as_slice()) {
            ("POST", ["orgs", org, "repos"]) => self.create_repo(org, &body),
            ("POST", ["repos", o, r, "generate"]) => self.generate(&format!("{o}/{r}"), &body),
            ("GET", ["repos", o, r]) => {
                Ok(answer(200, self.repo_json(self.repo(&format!("{o}/{r}"))?)))
            }
            ("DELETE", ["repos", o, r]) => {
                self.repos
                    .remove(&format!("{o}/{r}"))
                    .ok_or_else(not_found)?;
                Ok(no_content())
            }
            ("GET", ["repos", o, r, "git", "ref", "heads", branch @ ..]) => {
                let branch = branch.join("/");
                let sha = self
                    .repo(&format!("{o}/{r}"))?
                    .branches
                    .get(&branch)
                    .cloned()
                    .ok_or_else(not_found)?;
                Ok(answer(
                    200,
                    json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}}),
                ))
            }
            ("GET", ["repos", o, r, "contents", path @ ..]) => {
                self.get_file(&format!("{o}/{r}"), &path.join("/"), q.get("ref"))
            }
            ("PUT", ["repos", o, r, "contents", path @ ..]) => {
                self.put_file(&format!("{o}/{r}"), &path.join("/"), &body)
            }
            ("POST", ["repos", o, r, "pulls"]) => self.create_pull(&format!("{o}/{r}"), &body),
            ("GET", ["repos", o, r, "pulls"]) => self.list_pulls(&format!("{o}/{r}"), &q),
            ("GET", ["repos", o, r, "pulls", n]) => {
                let repo = self.repo(&format!("{o}/{r}"))?;
                let pull = repo
                    .pulls
                    .iter()
                    .find(|p| Some(p.number) == n.parse().ok())
                    .ok_or_else(not_found)?;
                Ok(answer(200, self.pull_json(repo, pull)))
            }
            ("PATCH", ["repos", o, r, "pulls", n]) => {
                self.update_pull(&format!("{o}/{r}"), n, &body)
            }
            ("PUT", ["repos", o, r, "collaborators", user]) => {
                self.add_collaborator(&format!("{o}/{r}"), user, &body)
            }
            ("GET", ["orgs", org, "teams"]) => self.list_teams(org, &q),
            // The listings a form's pickers read (one page: the fake holds few repositories).
            ("GET", ["user", "orgs"]) => {
                let owners: std::collections::BTreeSet<&str> = self
                    .repos
                    .keys()
                    .filter_map(|full_name| full_name.split_once('/').map(|(o, _)| o))
                    .collect();
                let orgs: Vec<Value> = owners.iter().map(|o| json!({"login": o})).collect();
                Ok(answer(200, Value::Array(orgs)))
            }
            ("GET", ["user", "repos"]) => {
                let repos: Vec<Value> = self.repos.values().map(|r| self.repo_json(r)).collect();
                Ok(answer(200, Value::Array(repos)))
            }
            ("GET", ["orgs", org, "repos"]) => {
                let repos: Vec<Value> = self
                    .repos
                    .values()
                    .filter(|r| r.full_name.starts_with(&format!("{org}/")))
                    .map(|r| self.repo_json(r))
                    .collect();
                Ok(answer(200, Value::Array(repos)))
            }
            ("GET", ["repos", o, r, "branches"]) => {
                let branches: Vec<Value> = self
                    .repo(&format!("{o}/{r}"))?
                    .branches
                    .iter()
                    .map(|(name, sha)| json!({"name": name, "commit": {"sha": sha}}))
                    .collect();
                Ok(answer(200, Value::Array(branches)))
            }
            ("PUT", ["orgs", org, "teams", slug, "repos", o, r]) => {
                self.grant(org, slug, &format!("{o}/{r}"), &body)
            }
            _ => Err(not_found()),
        }
    }

    fn repo(&self, full_name: &str) -> Result<&Repo, Response> {
        self.repos.get(full_name).ok_or_else(not_found)
    }

    fn repo_mut(&mut self, full_name: &str) -> Result<&mut Repo, Response> {
        self.repos.get_mut(full_name).ok_or_else(not_found)
    }

    fn repo_json(&self, repo: &Repo) -> Value {
        let (owner, name) = repo.full_name.split_once('/').unwrap();
        json!({
            "name": name, "full_name": repo.full_name, "owner": {"login": owner},
            "private": repo.private, "description": repo.description, "is_template": repo.is_template,
            "html_url": format!("{}/{}", self.base, repo.full_name),
            "clone_url": format!("{}/{}.git", self.base, repo.full_name),
            "default_branch": repo.default_branch,
        })
    }

    /// POST /app/installations/{id}/access_tokens with the App's JWT as the bearer.
    fn exchange(&mut self, headers: &HeaderMap, installation: &str) -> Answer {
        let Some(app) = &self.app else {
            return Err(error(401, "A JSON web token could not be decoded"));
        };
        let jwt = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        let claims = jsonwebtoken::decode::<Value>(jwt, &app.key, &validation)
            .map_err(|_| error(401, "A JSON web token could not be decoded"))?
            .claims;
        let iss = match &claims["iss"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
        if iss != app.app_id {
            return Err(error(401, &format!("Integration not found for iss {iss}")));
        }
        if lifetime > 11 * 60 {
            return Err(error(
                401,
                "'Expiration time' claim ('exp') is too far in the future",
            ));
        }
        if installation != app.installation_id {
            return Err(not_found());
        }
        let token = format!("ghs_installation{}", self.installation_tokens.len() + 1);
        self.installation_tokens.push(token.clone());
        Ok(answer(
            201,
            json!({"token": token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {}, "repository_selection": "all"}),
        ))
    }

    /// POST /orgs/{org}/repos.
    fn create_repo(&mut self, org: &str, body: &Value) -> Answer {
        check(
            body,
            &[("name", Kind::Str)],
            &[
                ("description", Kind::Str),
                ("private", Kind::Bool),
                ("auto_init", Kind::Bool),
            ],
        )?;
        if org != ORG {
            return Err(not_found());
        }
        let full_name = format!("{org}/{}", text(body, "name"));
        if self.repos.contains_key(&full_name) {
            return Err(validation(
                "Repository",
                "name",
                "custom",
                Some("name already exists on this account"),
            ));
        }
        let mut repo = self.new_repo(
            &full_name,
            text(body, "description"),
            body["private"].as_bool().unwrap_or(false),
        );
        if body["auto_init"].as_bool() == Some(true) {
            let sha = self.sha();
            repo.branches.insert("main".into(), sha);
            repo.files.insert(
                ("main".into(), "README.md".into()),
                format!("# {}\n", text(body, "name")).into_bytes(),
            );
        }
        let json = self.repo_json(&repo);
        self.repos.insert(full_name, repo);
        Ok(answer(201, json))
    }

    /// POST /repos/{template_owner}/{template_repo}/generate.
    fn generate(&mut self, template: &str, body: &Value) -> Answer {
        check(
            body,
            &[("name", Kind::Str)],
            &[
                ("owner", Kind::Str),
                ("description", Kind::Str),
                ("private", Kind::Bool),
            ],
        )?;
        let source = self.repo(template)?;
        if !source.is_template {
            return Err(error(
                422,
                &format!("{template} is not a template repository"),
            ));
        }
        let (branch, files) = (source.default_branch.clone(), source.files.clone());
        let owner = body.get("owner").and_then(Value::as_str).unwrap_or(ORG);
        let full_name = format!("{owner}/{}", text(body, "name"));
        if self.repos.contains_key(&full_name) {
            return Err(validation(
                "Repository",
                "name",
                "custom",
                Some("name already exists on this account"),
            ));
        }
        let mut repo = self.new_repo(
            &full_name,
            text(body, "description"),
            body["private"].as_bool().unwrap_or(false),
        );
        let sha = self.sha();
        repo.branches.insert(branch.clone(), sha);
        repo.files = files
            .into_iter()
            .filter(|((b, _), _)| *b == branch)
            .collect();
        let json = self.repo_json(&repo);
        self.repos.insert(full_name, repo);
        Ok(answer(201, json))
    }

    fn blob_sha(content: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(content)[..20])
    }

    /// GET /repos/{o}/{r}/contents/{path}?ref=.
    fn get_file(&self, full_name: &str, path: &str, reference: Option<&String>) -> Answer {
        let repo = self.repo(full_name)?;
        let branch = reference
            .cloned()
            .unwrap_or_else(|| repo.default_branch.clone());
        let content = repo
            .files
            .get(&(branch, path.to_string()))
            .ok_or_else(not_found)?;
        // GitHub wraps the base64 at 60 columns.
        let encoded = STANDARD.encode(content);
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        Ok(answer(
            200,
            json!({
                "type": "file", "encoding": "base64", "path": path, "name": path.rsplit('/').next(),
                "sha": Self::blob_sha(content), "content": wrapped.join("\n") + "\n",
            }),
        ))
    }

    /// PUT /repos/{o}/{r}/contents/{path}.
    fn put_file(&mut self, full_name: &str, path: &str, body: &Value) -> Answer {
        check(
            body,
            &[("message", Kind::Str), ("content", Kind::Str)],
            &[("branch", Kind::Str), ("sha", Kind::Str)],
        )?;
        let content = STANDARD
            .decode(text(body, "content").replace(['\n', '\r'], ""))
            .ok()
            .ok_or_else(|| error(422, "content is not valid Base64"))?;
        let sha = self.sha();
        let repo = self.repo_mut(full_name)?;
        let branch = body
            .get("branch")
            .and_then(Value::as_str)
            .unwrap_or(&repo.default_branch)
            .to_string();
        if !repo.branches.contains_key(&branch) {
            return Err(error(404, &format!("Branch {branch} not found")));
        }
        let key = (branch.clone(), path.to_string());
        let status = match (
            repo.files.get(&key),
            body.get("sha").and_then(Value::as_str),
        ) {
            (Some(_), None) => {
                return Err(error(422, "Invalid request.\n\n\"sha\" wasn't supplied."));
            }
            (Some(existing), Some(given)) if Self::blob_sha(existing) != given => {
                return Err(error(409, &format!("{path} does not match {given}")));
            }
            (Some(_), Some(_)) => 200,
            (None, _) => 201,
        };
        let blob = Self::blob_sha(&content);
        repo.files.insert(key, content);
        repo.branches.insert(branch, sha.clone());
        Ok(answer(
            status,
            json!({"content": {"path": path, "sha": blob}, "commit": {"sha": sha, "message": text(body, "message")}}),
        ))
    }

    fn pull_json(&self, repo: &Repo, pull: &Pull) -> Value {
        let owner = repo.full_name.split('/').next().unwrap();
        json!({
            "number": pull.number, "title": pull.title, "state": pull.state, "merged": pull.merged,
            "merged_at": if pull.merged { json!("2024-01-01T00:00:00Z") } else { Value::Null },
            "html_url": format!("{}/{}/pull/{}", self.base, repo.full_name, pull.number),
            "head": {"ref": pull.head, "label": format!("{owner}:{}", pull.head)}, "base": {"ref": pull.base},
        })
    }

    /// POST /repos/{o}/{r}/pulls.
    fn create_pull(&mut self, full_name: &str, body: &Value) -> Answer {
        check(
            body,
            &[
                ("title", Kind::Str),
                ("head", Kind::Str),
                ("base", Kind::Str),
            ],
            &[("body", Kind::Str), ("draft", Kind::Bool)],
        )?;
        let repo = self.repos.get_mut(full_name).ok_or_else(not_found)?;
        let owner = repo.full_name.split('/').next().unwrap().to_string();
        let head = text(body, "head");
        let head = head
            .strip_prefix(&format!("{owner}:"))
            .unwrap_or(head)
            .to_string();
        let base = text(body, "base").to_string();
        for (field, branch) in [("head", &head), ("base", &base)] {
            if !repo.branches.contains_key(branch) {
                return Err(validation("PullRequest", field, "invalid", None));
            }
        }
        if repo
            .pulls
            .iter()
            .any(|p| p.head == head && p.base == base && p.state == "open")
        {
            let message = format!("A pull request already exists for {owner}:{head}.");
            return Err(validation("PullRequest", "head", "custom", Some(&message)));
        }
        let number = repo.pulls.len() as u64 + 1;
        repo.pulls.push(Pull {
            number,
            title: text(body, "title").into(),
            head,
            base,
            state: "open".into(),
            merged: false,
        });
        let repo = &self.repos[full_name];
        Ok(answer(
            201,
            self.pull_json(repo, repo.pulls.last().unwrap()),
        ))
    }

    /// GET /repos/{o}/{r}/pulls?head=owner:branch&base=&state=.
    fn list_pulls(&self, full_name: &str, q: &BTreeMap<String, String>) -> Answer {
        let repo = self.repo(full_name)?;
        let owner = full_name.split('/').next().unwrap();
        let state = q.get("state").map(String::as_str).unwrap_or("open");
        let list: Vec<Value> = repo
            .pulls
            .iter()
            .filter(|p| state == "all" || p.state == state)
            .filter(|p| {
                q.get("head")
                    .is_none_or(|h| *h == format!("{owner}:{}", p.head))
            })
            .filter(|p| q.get("base").is_none_or(|b| *b == p.base))
            .map(|p| self.pull_json(repo, p))
            .collect();
        Ok(answer(200, Value::Array(list)))
    }

    /// PATCH /repos/{o}/{r}/pulls/{n}.
    fn update_pull(&mut self, full_name: &str, number: &str, body: &Value) -> Answer {
        check(
            body,
            &[],
            &[
                ("state", Kind::Str),
                ("title", Kind::Str),
                ("body", Kind::Str),
            ],
        )?;
        let repo = self.repo_mut(full_name)?;
        let pull = repo
            .pulls
            .iter_mut()
            .find(|p| Some(p.number) == number.parse().ok())
            .ok_or_else(not_found)?;
        match body.get("state").and_then(Value::as_str) {
            None => {}
            Some(state @ ("open" | "closed")) => pull.state = state.into(),
            Some(_) => return Err(validation("PullRequest", "state", "invalid", None)),
        }
        let repo = &self.repos[full_name];
        let pull = repo
            .pulls
            .iter()
            .find(|p| Some(p.number) == number.parse().ok())
            .unwrap();
        Ok(answer(200, self.pull_json(repo, pull)))
    }

    /// GET /orgs/{org}/teams?per_page=&page=, at most two a page, with a `Link` header.
    fn list_teams(&self, org: &str, q: &BTreeMap<String, String>) -> Answer {
        if org != ORG {
            return Err(not_found());
        }
        let per_page = q
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(30usize)
            .clamp(1, PAGE);
        let page = q
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        let last = TEAMS.len().div_ceil(per_page);
        let list: Vec<Value> = TEAMS
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .enumerate()
            .map(|(i, (name, slug))| json!({"id": (page - 1) * per_page + i + 1, "name": name, "slug": slug, "permission": "pull"}))
            .collect();
        let mut response = answer(200, Value::Array(list));
        let link = |n: usize, rel: &str| {
            format!(
                "<{}/orgs/{org}/teams?per_page={per_page}&page={n}>; rel=\"{rel}\"",
                self.base
            )
        };
        let mut links = Vec::new();
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        if page > 1 {
            links.push(link(page - 1, "prev"));
            links.push(link(1, "first"));
        }
        if !links.is_empty() {
            response
                .headers_mut()
                .insert("link", links.join(", ").parse().unwrap());
        }
        Ok(response)
    }

    /// PUT /orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}.
    fn grant(&mut self, org: &str, slug: &str, full_name: &str, body: &Value) -> Answer {
        check(body, &[], &[("permission", Kind::Str)])?;
        if org != ORG || !TEAMS.iter().any(|(_, s)| *s == slug) {
            return Err(not_found());
        }
        // GitHub's default when no permission is given.
        let permission = body
            .get("permission")
            .and_then(Value::as_str)
            .unwrap_or("push");
        if !["pull", "triage", "push", "maintain", "admin"].contains(&permission) {
            return Err(validation("TeamRepository", "permission", "invalid", None));
        }
        if !full_name.starts_with(&format!("{org}/")) {
            return Err(error(422, "Validation Failed"));
        }
        self.repo_mut(full_name)?
            .teams
            .insert(slug.to_string(), permission.to_string());
        Ok(no_content())
    }

    /// PUT /repos/{owner}/{repo}/collaborators/{username}: 201 with the invitation for a new
    /// collaborator, 204 when the user already is one (the permission updated).
    fn add_collaborator(&mut self, full_name: &str, user: &str, body: &Value) -> Answer {
        check(body, &[], &[("permission", Kind::Str)])?;
        let permission = body
            .get("permission")
            .and_then(Value::as_str)
            .unwrap_or("push");
        if !["pull", "triage", "push", "maintain", "admin"].contains(&permission) {
            return Err(validation("Collaborator", "permission", "invalid", None));
        }
        if !USERS.contains(&user) {
            return Err(not_found());
        }
        let repo = self.repo_mut(full_name)?;
        let known = repo
            .collaborators
            .insert(user.to_string(), permission.to_string())
            .is_some();
        if known {
            return Ok(no_content());
        }
        Ok(answer(
            201,
            json!({"id": repo.collaborators.len(), "invitee": {"login": user}, "permissions": permission, "repository": {"full_name": full_name}}),
        ))
    }
}
