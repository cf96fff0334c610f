//! The chat API the adapter templates' worked example sends to (`POST /messages`, a bearer
//! token): it answers `201 {"id": "msg-N"}` to the right token and 401 to any other, and records
//! every request.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Recorder;

struct Chat {
    token: String,
    recorder: Recorder,
}

/// A running chat API.
pub struct FakeChat {
    addr: SocketAddr,
    /// Every request it received.
    pub recorder: Recorder,
}

impl FakeChat {
    /// Starts it accepting bearer token `token`.
    pub async fn start(token: &str) -> Self {
        let recorder = Recorder::default();
        let state = Arc::new(Chat {
            token: token.into(),
            recorder: recorder.clone(),
        });
        let app = axum::Router::new()
            .route("/messages", axum::routing::post(post_message))
            .with_state(state);
        let addr = super::serve(app).await;
        Self { addr, recorder }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn post_message(
    State(chat): State<Arc<Chat>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = chat.recorder.record(&method, &uri, &headers, &body) {
        return fault;
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(chat.token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad token"})),
        )
            .into_response();
    }
    let id = format!("msg-{}", chat.recorder.requests().len());
    (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
}
