//! Route table.

mod health;
mod plugins;
mod runs;
mod secrets;
mod templates;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::{AppState, MAX_PLUGIN_BYTES};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route(
            "/api/v1/plugins",
            post(plugins::publish).layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES)).get(plugins::list),
        )
        .route("/api/v1/plugins/{name}", get(plugins::versions))
        .route("/api/v1/runs", post(runs::create).get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::show))
        .route("/api/v1/runs/{id}/events", get(runs::events))
        .route("/api/v1/runs/{id}/retry", post(runs::retry))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/api/v1/runs/{id}/abort", post(runs::abort))
        .route("/api/v1/runs/{id}/resubmit", post(runs::resubmit))
        .route("/api/v1/runs/{id}/steps/{step}/retry", post(runs::retry_step))
        .route("/api/v1/runs/{id}/steps/{step}/skip", post(runs::skip_step))
        .route("/api/v1/secrets/{*name}", put(secrets::put))
        .route("/api/v1/templates", post(templates::apply).get(templates::search))
        .route("/api/v1/templates/{name}", get(templates::show))
        .route("/api/v1/templates/{name}/validate", post(templates::validate))
        .route("/api/v1/templates/{name}/preview", post(templates::preview))
}
