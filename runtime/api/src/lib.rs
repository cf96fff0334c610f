//! The HTTP API (axum), under `/api/v1`, plus `/healthz`.

mod error;
mod routes;

use std::sync::Arc;

use axum::Router;
use lever_catalog::Catalog;
use lever_registry::Registry;
use lever_runs::Executor;
use lever_store::Store;

pub use error::ApiError;

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
}

/// Largest accepted plugin upload.
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;

/// The whole router.
pub fn router(state: AppState) -> Router {
    routes::router().with_state(state)
}
