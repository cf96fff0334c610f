//! Slack's `chat.postMessage` as the Web API documents it: a bot token in `Authorization:
//! Bearer`, a JSON body, HTTP 200 with `{"ok": false, "error": CODE}` for every refusal, and
//! Block Kit checked (section text, actions of buttons with unique action ids, label, style,
//! value and URL limits) the way Slack answers `invalid_blocks`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Recorder, serve};

#[derive(Default)]
struct Workspace {
    token: String,
    /// Channel names, without `#`; channel `i` has id `C000i`.
    channels: Vec<String>,
    messages: Vec<Value>,
}

type Shared = (Recorder, Arc<Mutex<Workspace>>);

/// A fake Slack on localhost.
pub struct FakeSlack {
    /// Every request, and the faults to answer.
    pub recorder: Recorder,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Workspace>>,
}

impl FakeSlack {
    /// Starts Slack accepting bot token `token`, with `channels` (names without `#`).
    pub async fn start(token: &str, channels: &[&str]) -> Self {
        let recorder = Recorder::default();
        let state = Arc::new(Mutex::new(Workspace {
            token: token.into(),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            messages: Vec::new(),
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

    /// The id of channel `name`.
    pub fn channel_id(&self, name: &str) -> Option<String> {
        let ws = self.state.lock().unwrap();
        ws.channels
            .iter()
            .position(|c| c == name.trim_start_matches('#'))
            .map(|i| format!("C000{}", i + 1))
    }

    /// Every body posted successfully, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.state.lock().unwrap().messages.clone()
    }
}

fn refuse(error: &str) -> Response {
    axum::Json(json!({"ok": false, "error": error})).into_response()
}

fn invalid_blocks(detail: &str) -> Response {
    axum::Json(json!({"ok": false, "error": "invalid_blocks", "response_metadata": {"messages": [format!("[ERROR] {detail}")]}})).into_response()
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
    if uri.path() != "/api/chat.postMessage" {
        return (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(json!({"ok": false, "error": "unknown_method"})),
        )
            .into_response();
    }
    let mut ws = state.lock().unwrap();
    match headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        None => return refuse("not_authed"),
        Some(token) if token != ws.token => return refuse("invalid_auth"),
        Some(_) => {}
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return refuse("invalid_form_data");
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return refuse("invalid_json");
    };
    let Some(channel) = message["channel"].as_str().filter(|c| !c.is_empty()) else {
        return refuse("channel_not_found");
    };
    let name = channel.trim_start_matches('#');
    let Some(index) = ws
        .channels
        .iter()
        .enumerate()
        .position(|(i, c)| c == name || format!("C000{}", i + 1) == name)
    else {
        return refuse("channel_not_found");
    };
    let has_text = message["text"].as_str().is_some_and(|t| !t.is_empty());
    if let Some(blocks) = message.get("blocks") {
        if let Err(detail) = check_blocks(blocks) {
            return invalid_blocks(&detail);
        }
    } else if !has_text {
        return refuse("no_text");
    }
    ws.messages.push(message.clone());
    let ts = format!("1700000000.{:06}", ws.messages.len());
    axum::Json(
        json!({"ok": true, "channel": format!("C000{}", index + 1), "ts": ts, "message": {"type": "message", "text": message["text"], "ts": ts}}),
    )
    .into_response()
}

fn text_object(value: &Value, at: &str, types: &[&str], max: usize) -> Result<(), String> {
    let kind = value["type"].as_str().unwrap_or("");
    if !types.contains(&kind) {
        return Err(format!("must be one of {types:?} [json-pointer:{at}/type]"));
    }
    match value["text"].as_str() {
        Some(t) if !t.is_empty() && t.chars().count() <= max => Ok(()),
        _ => Err(format!(
            "must be 1 to {max} characters [json-pointer:{at}/text]"
        )),
    }
}

fn check_blocks(blocks: &Value) -> Result<(), String> {
    let blocks = blocks
        .as_array()
        .ok_or("blocks must be an array [json-pointer:/blocks]")?;
    let mut action_ids = HashSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("/blocks/{i}");
        match block["type"].as_str() {
            Some("section") => text_object(
                &block["text"],
                &format!("{at}/text"),
                &["mrkdwn", "plain_text"],
                3000,
            )?,
            Some("header") => {
                text_object(&block["text"], &format!("{at}/text"), &["plain_text"], 150)?
            }
            Some("divider") => {}
            Some("actions") => {
                let elements = block["elements"]
                    .as_array()
                    .filter(|e| !e.is_empty() && e.len() <= 25);
                let elements = elements.ok_or(format!(
                    "must have 1 to 25 elements [json-pointer:{at}/elements]"
                ))?;
                for (j, element) in elements.iter().enumerate() {
                    let at = format!("{at}/elements/{j}");
                    if element["type"] != "button" {
                        return Err(format!("unsupported element type [json-pointer:{at}/type]"));
                    }
                    text_object(&element["text"], &format!("{at}/text"), &["plain_text"], 75)?;
                    if let Some(id) = element.get("action_id") {
                        let id = id
                            .as_str()
                            .filter(|s| !s.is_empty() && s.len() <= 255)
                            .ok_or(format!("invalid action_id [json-pointer:{at}/action_id]"))?;
                        if !action_ids.insert(id.to_string()) {
                            return Err(format!(
                                "action_id `{id}` is already used [json-pointer:{at}/action_id]"
                            ));
                        }
                    }
                    if let Some(style) = element.get("style")
                        && style != "primary"
                        && style != "danger"
                    {
                        return Err(format!(
                            "style must be primary or danger [json-pointer:{at}/style]"
                        ));
                    }
                    if element
                        .get("value")
                        .is_some_and(|v| v.as_str().is_none_or(|s| s.len() > 2000))
                    {
                        return Err(format!(
                            "value must be a string up to 2000 characters [json-pointer:{at}/value]"
                        ));
                    }
                    if element.get("url").is_some_and(|v| {
                        v.as_str()
                            .is_none_or(|s| s.len() > 3000 || !s.starts_with("http"))
                    }) {
                        return Err(format!(
                            "url must be a URL up to 3000 characters [json-pointer:{at}/url]"
                        ));
                    }
                }
            }
            _ => return Err(format!("unsupported block type [json-pointer:{at}/type]")),
        }
    }
    Ok(())
}
