//! Route table. Everything under `/api/v1` needs a principal; `/healthz` and the one-click
//! link page do not.

pub(crate) mod approvals;
mod audit;
pub(crate) mod bindings;
mod health;
mod identity;
pub(crate) mod insights;
mod links;
pub(crate) mod metrics;
pub(crate) mod plugins;
mod policies;
pub(crate) mod runs;
pub(crate) mod secrets;
mod slack;
pub(crate) mod templates;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

use crate::{AppState, MAX_PLUGIN_BYTES};

pub(crate) fn router(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route(
            "/api/v1/plugins",
            post(plugins::publish)
                .layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES))
                .get(plugins::list),
        )
        .route("/api/v1/plugins/{name}", get(plugins::versions))
        .route("/api/v1/runs", post(runs::create).get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::show))
        .route("/api/v1/runs/{id}/events", get(runs::events))
        .route("/api/v1/runs/{id}/retry", post(runs::retry))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/api/v1/runs/{id}/abort", post(runs::abort))
        .route("/api/v1/runs/{id}/resubmit", post(runs::resubmit))
        .route(
            "/api/v1/runs/{id}/rating",
            post(runs::rate).get(runs::ratings),
        )
        .route(
            "/api/v1/runs/{id}/steps/{step}/retry",
            post(runs::retry_step),
        )
        .route("/api/v1/runs/{id}/steps/{step}/skip", post(runs::skip_step))
        .route(
            "/api/v1/secrets/{*name}",
            put(secrets::put).delete(secrets::delete).get(secrets::get),
        )
        .route("/api/v1/bindings", get(bindings::list))
        .route(
            "/api/v1/templates",
            post(templates::apply).get(templates::search),
        )
        .route("/api/v1/templates/{name}", get(templates::show))
        .route(
            "/api/v1/templates/{name}/validate",
            post(templates::validate),
        )
        .route("/api/v1/templates/{name}/preview", post(templates::preview))
        .route("/api/v1/approvals", get(approvals::list))
        .route("/api/v1/approvals/{id}", get(approvals::show))
        .route("/api/v1/approvals/{id}/approve", post(approvals::approve))
        .route("/api/v1/approvals/{id}/reject", post(approvals::reject))
        .route("/api/v1/notifications", get(approvals::notifications))
        .route("/api/v1/policies", get(policies::list))
        .route("/api/v1/policies/evaluate", post(policies::evaluate))
        .route(
            "/api/v1/policies/{name}",
            put(policies::put).get(policies::show),
        )
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/me", get(identity::me))
        .route("/api/v1/tokens", post(identity::create).get(identity::list))
        .route("/api/v1/tokens/{id}", delete(identity::revoke))
        .route("/api/v1/admin/clock", post(identity::advance_clock))
        .route("/api/v1/insights/approvals", get(identity::insights))
        .route("/api/v1/insights", get(insights::show))
        .route("/api/v1/nps", post(insights::answer_nps))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::require_principal,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/approve/{token}", get(links::show).post(links::confirm))
        .route("/slack/interactions", post(slack::interactions))
        .merge(api)
}
