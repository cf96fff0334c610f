//! The probes: `GET /healthz` (the process answers) and `GET /readyz` (it can do its job: the
//! database answers within a second and holds every migration; 503 with the reason if not).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;

/// Liveness: answers 200 while the process serves requests.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 when the database answers and is migrated, else 503 saying why.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let ready = tokio::time::timeout(Duration::from_secs(1), state.store.ready())
        .await
        .unwrap_or_else(|_| Err("the database did not answer within 1 s".into()));
    match ready {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not-ready", "reason": reason})),
        )
            .into_response(),
    }
}
