//! Backstage's catalog backend, the locations API as `catalog:register` uses it: `POST
//! /api/catalog/locations` (`{"type": "url", "target"}`; 201 `{location, entities: []}`, 409
//! `ConflictError` when the target is registered), the same with `?dryRun=true` (the file read
//! and its entities answered, `exists` saying whether it is registered), `GET
//! /api/catalog/locations` (`[{data: location}]`), `DELETE /api/catalog/locations/{id}` (204,
//! 404 `NotFoundError`). Errors are Backstage's `{"error": {name, message}, "response":
//! {statusCode}}`; a service authenticates with a static token as `Authorization: Bearer`.
//!
//! The catalog reads a target through its integrations; the fake reads it with the function it
//! is started with (a test reads the GitHub fake's repository), so what is registered is what
//! was published.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Recorder, serve};

/// How the catalog reads a target URL: its text, or `None` when it cannot be read.
pub type Reader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

struct Catalog {
    token: String,
    read: Reader,
    /// Location id → target.
    locations: BTreeMap<String, String>,
}

type Shared = (Recorder, Arc<Mutex<Catalog>>);

/// A fake Backstage catalog on localhost.
pub struct FakeBackstageCatalog {
    /// Every request, and the faults to answer.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Catalog>>,
}

impl FakeBackstageCatalog {
    /// Starts a catalog accepting `Bearer {token}` that reads targets with `read`.
    pub async fn start(token: &str, read: Reader) -> Self {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(Catalog {
            token: token.into(),
            read,
            locations: BTreeMap::new(),
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

    /// The registered locations' targets.
    pub fn targets(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .locations
            .values()
            .cloned()
            .collect()
    }

    /// The refs of every entity the registered locations hold, read now.
    pub fn entity_refs(&self) -> Vec<String> {
        let catalog = self.state.lock().unwrap();
        catalog
            .locations
            .values()
            .filter_map(|target| (catalog.read)(target))
            .filter_map(|text| entities(&text).ok())
            .flatten()
            .filter_map(|e| entity_ref(&e))
            .collect()
    }
}

fn error(status: u16, name: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({
            "error": {"name": name, "message": message},
            "response": {"statusCode": status}
        })),
    )
        .into_response()
}

/// The entities of a YAML stream, each checked as the catalog checks them.
fn entities(text: &str) -> Result<Vec<Value>, String> {
    let mut found = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let entity = Value::deserialize(doc).map_err(|e| format!("YAML error, {e}"))?;
        if entity.is_null() {
            continue;
        }
        for field in ["apiVersion", "kind"] {
            if !entity[field].is_string() {
                return Err(format!(
                    "Policy check failed; caused by Error: {field} is required"
                ));
            }
        }
        if !entity["metadata"]["name"].is_string() {
            return Err("Policy check failed; caused by Error: metadata.name is required".into());
        }
        found.push(entity);
    }
    Ok(found)
}

fn entity_ref(entity: &Value) -> Option<String> {
    Some(format!(
        "{}:{}/{}",
        entity["kind"].as_str()?.to_ascii_lowercase(),
        entity["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default"),
        entity["metadata"]["name"].as_str()?
    ))
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
    let mut catalog = state.lock().unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(catalog.token.as_str()) {
        return error(401, "AuthenticationError", "Missing credentials");
    }
    let dry_run = uri
        .query()
        .unwrap_or("")
        .split('&')
        .any(|p| p == "dryRun=true");
    let path = uri.path().trim_end_matches('/');
    match (method.as_str(), path) {
        ("POST", "/api/catalog/locations") => {
            let spec: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (Some(kind), Some(target)) = (spec["type"].as_str(), spec["target"].as_str())
            else {
                return error(
                    400,
                    "InputError",
                    "Malformed request: /type and /target are required",
                );
            };
            if kind != "url" {
                return error(400, "InputError", &format!("Unknown location type {kind}"));
            }
            let exists = catalog.locations.values().any(|t| t == target);
            if dry_run {
                let Some(text) = (catalog.read)(target) else {
                    return error(
                        404,
                        "NotFoundError",
                        &format!("Unable to read url, NotFoundError: {target} could not be read"),
                    );
                };
                return match entities(&text) {
                    Ok(found) => (
                        StatusCode::CREATED,
                        axum::Json(json!({
                            "location": {"id": format!("url:{target}"), "type": "url", "target": target},
                            "entities": found,
                            "exists": exists,
                        })),
                    )
                        .into_response(),
                    Err(e) => error(400, "InputError", &e),
                };
            }
            if exists {
                return error(
                    409,
                    "ConflictError",
                    &format!("Location url:{target} already exists"),
                );
            }
            let id = uuid::Uuid::new_v4().to_string();
            catalog.locations.insert(id.clone(), target.to_string());
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "location": {"id": id, "type": "url", "target": target},
                    "entities": [],
                })),
            )
                .into_response()
        }
        ("GET", "/api/catalog/locations") => axum::Json(Value::Array(
            catalog
                .locations
                .iter()
                .map(|(id, target)| json!({"data": {"id": id, "type": "url", "target": target}}))
                .collect(),
        ))
        .into_response(),
        ("DELETE", p) if p.starts_with("/api/catalog/locations/") => {
            let id = &p["/api/catalog/locations/".len()..];
            match catalog.locations.remove(id) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => error(
                    404,
                    "NotFoundError",
                    &format!("Found no location with ID {id}"),
                ),
            }
        }
        _ => error(404, "NotFoundError", &format!("Not found: {method} {path}")),
    }
}
