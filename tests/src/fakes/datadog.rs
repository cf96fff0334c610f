//! Datadog's v1 dashboard and monitor APIs as documented: `DD-API-KEY` and
//! `DD-APPLICATION-KEY` headers (403 `Forbidden` otherwise), errors as `{"errors": [...]}`,
//! bodies checked (title, layout, widgets with a `definition.type`; monitor type and a query
//! with a threshold), and rate limits answered 429 with `X-RateLimit-Reset` seconds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Recorder, serve};

#[derive(Default)]
struct Org {
    api_key: String,
    app_key: String,
    dashboards: BTreeMap<String, Value>,
    monitors: BTreeMap<u64, Value>,
    next: u64,
    /// Requests still to answer 429, and the reset seconds to announce.
    rate_limited: (u32, u64),
}

type Shared = (Recorder, Arc<Mutex<Org>>);

/// A fake Datadog on localhost.
pub struct FakeDatadog {
    /// Every request, and the faults to answer.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Org>>,
}

impl FakeDatadog {
    /// Starts Datadog accepting API key `api_key` with application key `app_key`.
    pub async fn start(api_key: &str, app_key: &str) -> Self {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(Org {
            api_key: api_key.into(),
            app_key: app_key.into(),
            next: 1000,
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

    /// Answers the next `times` requests 429 with `X-RateLimit-Reset: reset_seconds`.
    pub fn rate_limit(&self, times: u32, reset_seconds: u64) {
        self.state.lock().unwrap().rate_limited = (times, reset_seconds);
    }

    /// Whether dashboard `id` exists.
    pub fn dashboard_exists(&self, id: &str) -> bool {
        self.state.lock().unwrap().dashboards.contains_key(id)
    }

    /// Whether monitor `id` exists.
    pub fn monitor_exists(&self, id: &str) -> bool {
        id.parse()
            .is_ok_and(|id: u64| self.state.lock().unwrap().monitors.contains_key(&id))
    }
}

fn errors(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"errors": [message]}))).into_response()
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
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if header("dd-api-key") != org.api_key || header("dd-application-key") != org.app_key {
        return errors(StatusCode::FORBIDDEN, "Forbidden");
    }
    if org.rate_limited.0 > 0 {
        org.rate_limited.0 -= 1;
        let mut response = errors(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit of 100 requests in 60 seconds reached. Please try again later.",
        );
        for (name, value) in [
            ("x-ratelimit-limit", "100".to_string()),
            ("x-ratelimit-period", "60".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", org.rate_limited.1.to_string()),
        ] {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        return response;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let segments: Vec<&str> = uri
        .path()
        .trim_start_matches("/api/v1/")
        .split('/')
        .collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["dashboard"]) => match check_dashboard(&body) {
            Ok(()) => {
                org.next += 1;
                let id = format!("abc-def-{}", org.next);
                let slug: String = body["title"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let mut dashboard = body.clone();
                dashboard["id"] = json!(id);
                dashboard["url"] = json!(format!("/dashboard/{id}/{slug}"));
                org.dashboards.insert(id, dashboard.clone());
                axum::Json(dashboard).into_response()
            }
            Err(message) => errors(StatusCode::BAD_REQUEST, &message),
        },
        ("DELETE", ["dashboard", id]) => match org.dashboards.remove(*id) {
            Some(_) => axum::Json(json!({"deleted_dashboard_id": id})).into_response(),
            None => errors(StatusCode::NOT_FOUND, "Dashboard not found"),
        },
        ("POST", ["monitor"]) => match check_monitor(&body) {
            Ok(()) => {
                org.next += 1;
                let id = org.next;
                let mut monitor = body.clone();
                monitor["id"] = json!(id);
                monitor["overall_state"] = json!("No Data");
                org.monitors.insert(id, monitor.clone());
                axum::Json(monitor).into_response()
            }
            Err(message) => errors(StatusCode::BAD_REQUEST, &message),
        },
        ("DELETE", ["monitor", id]) => match id
            .parse::<u64>()
            .ok()
            .and_then(|id| org.monitors.remove(&id))
        {
            Some(_) => axum::Json(json!({"deleted_monitor_id": id.parse::<u64>().unwrap()}))
                .into_response(),
            None => errors(StatusCode::NOT_FOUND, "Monitor not found"),
        },
        _ => errors(StatusCode::NOT_FOUND, "Not found"),
    }
}

const DASHBOARD_FIELDS: &[&str] = &[
    "title",
    "layout_type",
    "widgets",
    "description",
    "template_variables",
    "template_variable_presets",
    "notify_list",
    "reflow_type",
    "tags",
    "is_read_only",
];

fn check_dashboard(body: &Value) -> Result<(), String> {
    let fields = body.as_object().ok_or("Invalid JSON body")?;
    if let Some(unknown) = fields
        .keys()
        .find(|k| !DASHBOARD_FIELDS.contains(&k.as_str()))
    {
        return Err(format!(
            "Additional properties are not allowed ('{unknown}' was unexpected)"
        ));
    }
    if body["title"].as_str().is_none_or(str::is_empty) {
        return Err("'title' is a required property".into());
    }
    if !matches!(body["layout_type"].as_str(), Some("ordered" | "free")) {
        return Err("'layout_type' must be one of ['ordered', 'free']".into());
    }
    let widgets = body["widgets"]
        .as_array()
        .ok_or("'widgets' is a required property")?;
    if widgets.iter().any(|w| !w["definition"]["type"].is_string()) {
        return Err(
            "Invalid widget definition: each widget needs a 'definition' with a 'type'".into(),
        );
    }
    if !(body["description"].is_null() || body["description"].is_string()) {
        return Err("'description' must be a string or null".into());
    }
    Ok(())
}

const MONITOR_TYPES: &[&str] = &[
    "metric alert",
    "query alert",
    "service check",
    "event alert",
    "event-v2 alert",
    "log alert",
    "process alert",
    "composite",
    "slo alert",
];

fn check_monitor(body: &Value) -> Result<(), String> {
    for field in ["name", "type", "query"] {
        if body[field].as_str().is_none_or(str::is_empty) {
            return Err(format!("Invalid monitor: '{field}' is a required property"));
        }
    }
    if !MONITOR_TYPES.contains(&body["type"].as_str().unwrap_or("")) {
        return Err("Invalid monitor type".into());
    }
    if !(body["message"].is_null() || body["message"].is_string()) {
        return Err("'message' must be a string".into());
    }
    let query = body["query"].as_str().unwrap_or("");
    if body["type"] == "metric alert" && !query.contains(['<', '>']) {
        return Err(format!(
            "The value provided for parameter 'query' is invalid: '{query}' has no threshold comparison"
        ));
    }
    Ok(())
}
