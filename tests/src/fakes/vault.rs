//! A Vault server's KV version 2 engine (mounted at `secret/`) and AppRole login, as the Vault
//! HTTP API documents them: tokens in `X-Vault-Token`, errors as `{"errors": [...]}`, 403
//! `permission denied` for a missing or wrong token, 404 with an empty `errors` list for a
//! missing secret, check-and-set through `options.cas`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Recorder, serve};

/// The token AppRole logins hand out.
pub const APPROLE_TOKEN: &str = "s.approle-issued";

#[derive(Default)]
struct Kv {
    token: String,
    role_id: String,
    secret_id: String,
    /// Every value written, per path; version N is `versions[N - 1]`.
    secrets: HashMap<String, Vec<String>>,
}

type Shared = (Recorder, Arc<Mutex<Kv>>);

/// A fake Vault on localhost.
pub struct FakeVault {
    /// Every request, and the faults to answer.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Kv>>,
}

impl FakeVault {
    /// Starts a Vault accepting `token`, and AppRole logins with `role_id` and `secret_id`
    /// (which then accept [`APPROLE_TOKEN`]).
    pub async fn start(token: &str, role_id: &str, secret_id: &str) -> Self {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(Kv {
            token: token.into(),
            role_id: role_id.into(),
            secret_id: secret_id.into(),
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

    /// The current value of the secret at `path` (under `secret/`).
    pub fn secret(&self, path: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .secrets
            .get(path)
            .and_then(|v| v.last().cloned())
    }

    /// Whether a secret exists at `path`.
    pub fn exists(&self, path: &str) -> bool {
        self.state.lock().unwrap().secrets.contains_key(path)
    }

    /// The current version at `path` (0 when missing).
    pub fn version(&self, path: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .secrets
            .get(path)
            .map_or(0, |v| v.len() as u64)
    }
}

fn errors(status: u16, errors: &[&str]) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"errors": errors})),
    )
        .into_response()
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
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut kv = state.lock().unwrap();
    let path = uri.path();
    if path == "/v1/auth/approle/login" && method == Method::POST {
        let (Some(role), Some(secret)) = (body["role_id"].as_str(), body["secret_id"].as_str())
        else {
            return errors(400, &["missing role_id or secret_id"]);
        };
        if role != kv.role_id {
            return errors(400, &["invalid role ID"]);
        }
        if secret != kv.secret_id {
            return errors(400, &["invalid secret id"]);
        }
        return axum::Json(json!({"auth": {"client_token": APPROLE_TOKEN, "policies": ["default"], "lease_duration": 3600, "renewable": true}}))
            .into_response();
    }
    let token = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token.is_empty() || (token != kv.token && token != APPROLE_TOKEN) {
        return errors(403, &["permission denied"]);
    }
    let route_missing = || {
        errors(
            404,
            &[&format!(
                "no handler for route \"{}\". route entry not found.",
                path.trim_start_matches("/v1/")
            )],
        )
    };
    let Some(rest) = path.strip_prefix("/v1/secret/") else {
        return route_missing();
    };
    if let Some(secret) = rest.strip_prefix("data/").filter(|s| !s.is_empty()) {
        match method {
            Method::POST | Method::PUT => {
                let Some(value) = body["data"].as_object().and_then(|d| d.get("value")).and_then(Value::as_str) else {
                    // Vault itself only wants an object; the adapter's contract is `{"value": "..."}`.
                    return errors(400, &["no data provided"]);
                };
                let current = kv.secrets.get(secret).map_or(0, |v| v.len() as u64);
                if let Some(cas) = body.pointer("/options/cas")
                    && cas.as_u64() != Some(current)
                {
                    return errors(400, &["check-and-set parameter did not match the current version"]);
                }
                kv.secrets.entry(secret.to_string()).or_default().push(value.to_string());
                let version = current + 1;
                axum::Json(json!({"data": {"created_time": "2025-01-01T00:00:00Z", "deletion_time": "", "destroyed": false, "version": version}}))
                    .into_response()
            }
            Method::GET => match kv.secrets.get(secret) {
                Some(versions) => {
                    axum::Json(json!({"data": {"data": {"value": versions.last()}, "metadata": {"version": versions.len()}}})).into_response()
                }
                None => errors(404, &[]),
            },
            _ => errors(405, &["unsupported operation"]),
        }
    } else if let Some(secret) = rest.strip_prefix("metadata/").filter(|s| !s.is_empty()) {
        match method {
            Method::GET => match kv.secrets.get(secret) {
                Some(versions) => {
                    axum::Json(json!({"data": {"current_version": versions.len(), "oldest_version": 1, "max_versions": 0}})).into_response()
                }
                None => errors(404, &[]),
            },
            Method::DELETE => {
                kv.secrets.remove(secret);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => errors(405, &["unsupported operation"]),
        }
    } else {
        route_missing()
    }
}
