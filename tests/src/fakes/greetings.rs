//! The greetings API the plugin templates' worked example calls (`GET /greeting?name=`, a
//! bearer token): it answers `{"greeting": "hello NAME"}`, or `{"message": …}` once switched to
//! its newer answer shape, and records every token it was sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Default)]
struct Greetings {
    token: String,
    seen_tokens: Vec<String>,
    message_shape: bool,
}

type Shared = Arc<Mutex<Greetings>>;

/// A running greetings API.
pub struct FakeGreetings {
    addr: SocketAddr,
    state: Shared,
}

impl FakeGreetings {
    /// Starts it accepting bearer token `token`.
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(Mutex::new(Greetings {
            token: token.into(),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/greeting", axum::routing::get(greet))
            .with_state(state.clone());
        let addr = super::serve(app).await;
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, what a publisher grants.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Answers `{"message": …}` instead of `{"greeting": …}` from now on.
    pub fn answer_with_message(&self) {
        self.state.lock().unwrap().message_shape = true;
    }

    /// Every bearer token requests carried, in order.
    pub fn seen_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().seen_tokens.clone()
    }
}

#[derive(serde::Deserialize)]
struct Ask {
    name: String,
}

async fn greet(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(ask): Query<Ask>,
) -> Response {
    let mut s = state.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    s.seen_tokens.push(token.clone());
    if token != s.token {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad token"})),
        )
            .into_response();
    }
    let text = format!("hello {}", ask.name);
    let body = if s.message_shape {
        json!({"message": text})
    } else {
        json!({"greeting": text})
    };
    axum::Json(body).into_response()
}
