//! The HTTP API (axum), under `/api/v1`, plus `/healthz`: a transport over the application
//! layer (`lever-service`). Handlers parse the request, call one use case and map its
//! [`lever_service::ServiceError`] to an [`ApiError`].

mod auth;
mod error;
pub mod limits;
mod openapi;
mod routes;
mod timing;

use std::sync::Arc;

use axum::Router;
use lever_service::Services;

pub use error::{ApiError, ErrorBody, ErrorDetail};

/// What every handler can reach: the application layer's services, and this transport's own
/// limits.
#[derive(Clone)]
pub struct AppState {
    /// The use cases' stores and engines.
    pub services: Services,
    /// How many API requests each principal may have in flight.
    pub gate: Arc<limits::PrincipalGate>,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

/// Largest accepted plugin upload.
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;
/// Largest template bundle (tar, tar.gz or zip of a template and its skeletons) accepted.
pub const MAX_BUNDLE_BYTES: usize = 32 * 1024 * 1024;

/// The whole router.
pub fn router(state: AppState) -> Router {
    routes::router(state.clone()).with_state(state)
}

/// The OpenAPI 3.1 document of `/api/v1` as JSON, as `GET /api/v1/openapi.json` serves it
/// (the web UI's API reference page renders it).
pub fn openapi_document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, document) = routes::api().split_for_parts();
        serde_json::to_value(openapi::finish(document)).expect("the document serialises")
    })
}

/// `GET /metrics` (Prometheus text); `open` when the listener is loopback, else it needs a
/// platform user's bearer token.
pub fn metrics_router(state: AppState, open: bool) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(routes::metrics::metrics))
        .with_state((state, open))
}

/// Answers a handler's panic with a 500 error body (and logs it) instead of dropping the
/// connection without a response; the panic is a bug to fix, the client still learns what
/// happened.
pub fn answer_panics(app: Router) -> Router {
    app.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |panic: Box<dyn std::any::Any + Send>| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            tracing::error!(panic = message, "a request handler panicked");
            axum::response::IntoResponse::into_response(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server failed on this request; the failure is logged, try again or report it",
            ))
        },
    ))
}

/// Counts and times every request of `app` by its route (`lever_http_requests_total`,
/// `lever_http_request_duration_seconds`).
pub fn observed(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(routes::metrics::record))
}
