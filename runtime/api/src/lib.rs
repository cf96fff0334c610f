//! The HTTP API (axum), under `/api/v1`, plus `/healthz`.

mod auth;
mod error;
pub mod limits;
mod openapi;
mod routes;
mod timing;

use std::sync::Arc;

use axum::Router;
use lever_catalog::Catalog;
use lever_registry::Registry;
use lever_runs::Executor;
use lever_store::Store;

pub use error::ApiError;

/// The operations behind the API's handlers, for the web UI, which runs them in process with
/// the same checks rather than calling the API over HTTP.
pub mod services {
    pub use crate::routes::approvals::decide_stage;
    pub use crate::routes::bindings::view as bindings_view;
    pub use crate::routes::insights::{InsightsQuery, insights};
    pub use crate::routes::plugins::plugin_json;
    pub use crate::routes::resources::{
        list_resources, may_read as may_read_resource, view as resource_view,
    };
    pub use crate::routes::runs::{
        last_event_id, may_control, rate_run, resubmit_run, submit_template, view as run_view,
    };
    pub use crate::routes::secrets::reveal as reveal_secret;
    pub use crate::routes::templates::route as route_template;
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Published plugins.
    pub registry: Arc<Registry>,
    /// Runs.
    pub executor: Arc<Executor>,
    /// Templates.
    pub catalog: Arc<Catalog>,
    /// Secrets, sealed at rest.
    pub secrets: Arc<lever_secrets::SealedSecrets>,
    /// Who is calling.
    pub identity: Arc<lever_identity::Authenticator>,
    /// Policies, stages, decisions, links.
    pub approvals: Arc<lever_approvals::Approvals>,
    /// Set when the server runs with `--manual-clock` (tests move time through the API).
    pub manual_clock: Option<Arc<lever_store::ManualClock>>,
    /// The audit head's anchor outside the database, checked by `GET /api/v1/audit/verify`.
    pub audit_anchor: Option<Arc<lever_store::AuditAnchor>>,
    /// How many API requests each principal may have in flight.
    pub gate: Arc<limits::PrincipalGate>,
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
