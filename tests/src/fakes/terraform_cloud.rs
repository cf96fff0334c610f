//! Terraform Cloud's workspaces, runs and state-version outputs (JSON:API), for one
//! organization and one token. Its "configuration" is simple enough to check: every run
//! variable `k` manages a resource `terraform_data.k` and an output `k`, and every applied
//! workspace also has a sensitive output `admin_password`. Runs advance one status per
//! `GET /api/v2/runs/{id}`: an apply or destroy goes pending → applying → applied, a plan-only
//! run pending → planning → planned_and_finished; a variable `fail = true` makes it error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Recorder, serve};

/// Cost the fake estimates for each resource a plan adds, in US cents a month.
pub const CENTS_PER_RESOURCE: u64 = 525;

struct Workspace {
    id: String,
    name: String,
    /// Address → value, what applies created.
    resources: BTreeMap<String, Value>,
    /// Whether an apply ever finished (there is a current state version).
    has_state: bool,
}

/// One run as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Run {
    /// `run-…`.
    pub id: String,
    /// The workspace's name.
    pub workspace: String,
    /// Current status.
    pub status: String,
    /// Plan only.
    pub plan_only: bool,
    /// A destroy run.
    pub is_destroy: bool,
    /// The run variables as sent: key and HCL value text.
    pub variables: Vec<(String, String)>,
    /// The run message.
    pub message: String,
    additions: u64,
    changes: u64,
    destructions: u64,
}

#[derive(Default)]
struct Org {
    name: String,
    token: String,
    workspaces: Vec<Workspace>,
    runs: Vec<Run>,
}

type Shared = (Recorder, Arc<Mutex<Org>>);

/// A fake Terraform Cloud on localhost.
pub struct FakeTerraformCloud {
    /// Every request, and the faults to answer.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Org>>,
}

impl FakeTerraformCloud {
    /// Starts Terraform Cloud with organization `organization`, accepting API token `token`.
    pub async fn start(organization: &str, token: &str) -> Self {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(Org {
            name: organization.into(),
            token: token.into(),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((recorder.clone(), state.clone()));
        let addr = serve(app).await;
        Self {
            recorder,
            addr,
            state,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, what a binding grants.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Whether workspace `name` exists.
    pub fn workspace_exists(&self, name: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .workspaces
            .iter()
            .any(|w| w.name == name)
    }

    /// The resource addresses workspace `name` manages now.
    pub fn resources(&self, name: &str) -> Vec<String> {
        let org = self.state.lock().unwrap();
        org.workspaces
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.resources.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every run so far, oldest first.
    pub fn runs(&self) -> Vec<Run> {
        self.state.lock().unwrap().runs.clone()
    }

    /// The value of the sensitive output of workspace `name`.
    pub fn sensitive_value(name: &str) -> String {
        format!("tfc-sensitive-password-{name}")
    }
}

fn error(status: u16, title: &str, detail: &str) -> Response {
    let body =
        json!({"errors": [{"status": status.to_string(), "title": title, "detail": detail}]});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn not_found() -> Response {
    error(
        404,
        "not found",
        "The requested resource could not be found, or you are not authorized to access it",
    )
}

fn document(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/vnd.api+json".parse().unwrap());
    response
}

fn workspace_doc(org: &str, w: &Workspace) -> Value {
    json!({"id": w.id, "type": "workspaces", "attributes": {"name": w.name, "auto-apply": true},
           "relationships": {"organization": {"data": {"id": org, "type": "organizations"}}}})
}

async fn handle(
    State((recorder, state)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = recorder.record(&method, &uri, &headers, &body) {
        return fault;
    }
    let mut org = state.lock().unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(org.token.as_str()) {
        return document(
            StatusCode::UNAUTHORIZED,
            json!({"errors": [{"status": "401", "title": "unauthorized"}]}),
        );
    }
    if method == Method::POST {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/vnd.api+json") {
            return error(
                415,
                "unsupported media type",
                "requests must use the JSON:API media type application/vnd.api+json",
            );
        }
    }
    let Ok(body) = (if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice::<Value>(&body)
    }) else {
        return error(400, "bad request", "the body is not JSON");
    };
    let segments: Vec<&str> = uri
        .path()
        .trim_start_matches("/api/v2/")
        .split('/')
        .collect();
    let org_name = org.name.clone();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["organizations", o, "workspaces", name]) if *o == org_name => {
            match org.workspaces.iter().find(|w| w.name == *name) {
                Some(w) => document(StatusCode::OK, json!({"data": workspace_doc(&org_name, w)})),
                None => not_found(),
            }
        }
        ("POST", ["organizations", o, "workspaces"]) if *o == org_name => {
            create_workspace(&mut org, &body)
        }
        ("POST", ["runs"]) => create_run(&mut org, &body),
        ("GET", ["runs", id]) => read_run(&mut org, id, uri.query().unwrap_or("")),
        ("GET", ["workspaces", id, "current-state-version-outputs"]) => outputs(&org, id),
        _ => not_found(),
    }
}

fn create_workspace(org: &mut Org, body: &Value) -> Response {
    if body.pointer("/data/type").and_then(Value::as_str) != Some("workspaces") {
        return error(409, "conflict", "data.type must be \"workspaces\"");
    }
    let Some(name) = body
        .pointer("/data/attributes/name")
        .and_then(Value::as_str)
    else {
        return error(422, "invalid attribute", "Name can't be blank");
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return error(422, "invalid attribute", "Name is invalid");
    }
    if org.workspaces.iter().any(|w| w.name == name) {
        return error(422, "invalid attribute", "Name has already been taken");
    }
    let workspace = Workspace {
        id: format!("ws-{:04}", org.workspaces.len() + 1),
        name: name.into(),
        resources: BTreeMap::new(),
        has_state: false,
    };
    let doc = workspace_doc(&org.name, &workspace);
    org.workspaces.push(workspace);
    document(StatusCode::CREATED, json!({"data": doc}))
}

/// HCL literal text back to a value: JSON literals (with `$${` for a literal `${`); other HCL
/// (objects with `=`) stays text.
fn hcl_value(text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(&text.replace("$${", "${").replace("%%{", "%{")) {
        Ok(v) => Some(v),
        Err(_) if text.starts_with('{') || text.starts_with('[') => {
            Some(Value::String(text.into()))
        }
        Err(_) => None,
    }
}

fn create_run(org: &mut Org, body: &Value) -> Response {
    if body.pointer("/data/type").and_then(Value::as_str) != Some("runs") {
        return error(409, "conflict", "data.type must be \"runs\"");
    }
    let workspace = body.pointer("/data/relationships/workspace/data");
    if workspace
        .and_then(|w| w.get("type"))
        .and_then(Value::as_str)
        != Some("workspaces")
    {
        return error(
            422,
            "invalid relationship",
            "relationships.workspace.data must be {\"type\": \"workspaces\", \"id\": ...}",
        );
    }
    let ws_id = workspace
        .and_then(|w| w.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(ws) = org.workspaces.iter().find(|w| w.id == ws_id) else {
        return not_found();
    };
    let empty = serde_json::Map::new();
    let attributes = body
        .pointer("/data/attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (key, value) in attributes {
        let ok = match key.as_str() {
            "plan-only" | "is-destroy" | "auto-apply" | "refresh" => value.is_boolean(),
            "message" => value.is_string(),
            "variables" => value.is_array(),
            _ => {
                return error(
                    422,
                    "invalid attribute",
                    &format!("unknown attribute `{key}`"),
                );
            }
        };
        if !ok {
            return error(
                422,
                "invalid attribute",
                &format!("`{key}` has the wrong type"),
            );
        }
    }
    let flag = |k: &str| attributes.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut variables = Vec::new();
    let mut values = BTreeMap::new();
    for v in attributes
        .get("variables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(key), Some(text)) = (
            v.get("key").and_then(Value::as_str),
            v.get("value").and_then(Value::as_str),
        ) else {
            return error(
                422,
                "invalid attribute",
                "each run variable needs a string `key` and a string `value`",
            );
        };
        let Some(value) = hcl_value(text) else {
            return error(
                422,
                "invalid attribute",
                &format!(
                    "variable `{key}`: `{text}` is not a valid HCL value (strings must be quoted)"
                ),
            );
        };
        variables.push((key.to_string(), text.to_string()));
        values.insert(format!("terraform_data.{key}"), value);
    }
    let (is_destroy, plan_only) = (flag("is-destroy"), flag("plan-only"));
    let (additions, changes, destructions) = if is_destroy {
        (0, 0, ws.resources.len() as u64)
    } else {
        let added = values
            .keys()
            .filter(|k| !ws.resources.contains_key(*k))
            .count() as u64;
        let changed = values
            .iter()
            .filter(|(k, v)| ws.resources.get(*k).is_some_and(|old| old != *v))
            .count() as u64;
        let removed = ws
            .resources
            .keys()
            .filter(|k| !values.contains_key(*k))
            .count() as u64;
        (added, changed, removed)
    };
    let run = Run {
        id: format!("run-{:04}", org.runs.len() + 1),
        workspace: ws.name.clone(),
        status: "pending".into(),
        plan_only,
        is_destroy,
        variables,
        message: attributes
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        additions,
        changes,
        destructions,
    };
    let doc = run_doc(org, &run, "");
    org.runs.push(run);
    document(StatusCode::CREATED, doc)
}

/// Reads a run, advancing it one status (applying its effect when it reaches `applied`).
fn read_run(org: &mut Org, id: &str, query: &str) -> Response {
    let Some(i) = org.runs.iter().position(|r| r.id == id) else {
        return not_found();
    };
    let run = org.runs[i].clone();
    let fails = run
        .variables
        .iter()
        .any(|(k, v)| k == "fail" && v == "true");
    let next = match (run.status.as_str(), run.plan_only) {
        ("pending", _) if fails => "errored",
        ("pending", true) => "planning",
        ("planning", true) => "planned_and_finished",
        ("pending", false) => "applying",
        ("applying", false) => "applied",
        (other, _) => other,
    };
    if next == "applied" && run.status != "applied" {
        let ws = org
            .workspaces
            .iter_mut()
            .find(|w| w.name == run.workspace)
            .expect("run's workspace");
        ws.resources = if run.is_destroy {
            BTreeMap::new()
        } else {
            run.variables
                .iter()
                .map(|(k, v)| {
                    (
                        format!("terraform_data.{k}"),
                        hcl_value(v).unwrap_or(Value::Null),
                    )
                })
                .collect()
        };
        ws.has_state = true;
    }
    org.runs[i].status = next.into();
    let run = org.runs[i].clone();
    document(StatusCode::OK, run_doc(org, &run, query))
}

fn run_doc(org: &Org, run: &Run, query: &str) -> Value {
    let ws = org
        .workspaces
        .iter()
        .find(|w| w.name == run.workspace)
        .expect("run's workspace");
    let n = run.id.trim_start_matches("run-");
    let planned = !matches!(run.status.as_str(), "pending" | "planning");
    let variables: Vec<Value> = run
        .variables
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let mut included = Vec::new();
    let include = query
        .split('&')
        .find_map(|p| p.strip_prefix("include="))
        .unwrap_or("");
    for what in include.split(',') {
        match what {
            "plan" => included.push(json!({"id": format!("plan-{n}"), "type": "plans", "attributes": {
                "status": if run.status == "errored" { "errored" } else if planned { "finished" } else { "running" },
                "resource-additions": run.additions, "resource-changes": run.changes, "resource-destructions": run.destructions,
                "has-changes": run.additions + run.changes + run.destructions > 0}})),
            "cost_estimate" => {
                let cents = run.additions * CENTS_PER_RESOURCE;
                included.push(json!({"id": format!("ce-{n}"), "type": "cost-estimates", "attributes": {
                    "status": if planned { "finished" } else { "pending" },
                    "proposed-monthly-cost": format!("{}.{:02}", cents / 100, cents % 100)}}));
            }
            "workspace" => included.push(workspace_doc(&org.name, ws)),
            _ => {}
        }
    }
    json!({
        "data": {"id": run.id, "type": "runs",
            "attributes": {"status": run.status, "message": run.message, "plan-only": run.plan_only, "is-destroy": run.is_destroy,
                           "auto-apply": !run.plan_only, "variables": variables},
            "relationships": {"workspace": {"data": {"id": ws.id, "type": "workspaces"}},
                              "plan": {"data": {"id": format!("plan-{n}"), "type": "plans"}},
                              "cost-estimate": {"data": {"id": format!("ce-{n}"), "type": "cost-estimates"}}}},
        "included": included,
    })
}

fn outputs(org: &Org, id: &str) -> Response {
    let Some(ws) = org.workspaces.iter().find(|w| w.id == id) else {
        return not_found();
    };
    if !ws.has_state {
        return not_found();
    }
    let mut data: Vec<Value> = ws
        .resources
        .iter()
        .map(|(address, value)| {
            let name = address.trim_start_matches("terraform_data.");
            json!({"id": format!("wsout-{name}"), "type": "state-version-outputs", "attributes": {"name": name, "sensitive": false, "value": value}})
        })
        .collect();
    if !ws.resources.is_empty() {
        // The real API returns sensitive values to tokens that may read state: the adapter must drop them.
        data.push(json!({"id": "wsout-admin_password", "type": "state-version-outputs", "attributes": {
            "name": "admin_password", "sensitive": true, "type": "string", "value": FakeTerraformCloud::sensitive_value(&ws.name)}}));
    }
    document(
        StatusCode::OK,
        json!({"data": data, "meta": {"pagination": {"current-page": 1, "next-page": null, "total-pages": 1}}}),
    )
}
