//! The HTTP API (axum), under `/api/v1`, plus `/healthz`.

mod auth;
mod error;
pub mod limits;
mod routes;

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
    pub use crate::routes::runs::{
        may_control, rate_run, resubmit_run, submit_template, view as run_view,
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

/// The whole router.
pub fn router(state: AppState) -> Router {
    routes::router(state.clone()).with_state(state)
}

/// `GET /metrics` (Prometheus text); `open` when the listener is loopback, else it needs a
/// platform user's bearer token.
pub fn metrics_router(state: AppState, open: bool) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(routes::metrics::metrics))
        .with_state((state, open))
}

/// Counts and times every request of `app` by its route (`lever_http_requests_total`,
/// `lever_http_request_duration_seconds`).
pub fn observed(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(routes::metrics::record))
}
