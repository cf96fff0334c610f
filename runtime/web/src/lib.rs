//! The web UI, served by `lever serve` on the API's port: sign-in, the catalog, template forms
//! with live validation and a live preview, run pages with live progress, my runs, the
//! approvals inbox and the platform pages.
//!
//! Pages are rendered on the server (minijinja, templates in `templates/`) and made live with
//! htmx and its SSE extension (vendored in `assets/vendor/`). The handlers call the same
//! use cases the API's handlers call (`lever-service`), in process, with the same checks: a session never lets a
//! principal do more than their API token would. See `docs/web.md` for why this shape.

mod assets;
mod error;
mod fields;
mod pages;
mod render;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use lever_service::Services;

pub use error::WebError;

/// What every page handler can reach.
#[derive(Clone)]
pub struct WebState {
    /// The application layer's services: the same use cases the API's handlers call.
    pub app: Services,
    /// The demo "sign in as" list is offered: the config asks for it and the server listens
    /// on loopback.
    pub demo_sign_in: bool,
    /// Session cookies are `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// How long a session lasts (ms).
    pub session_ms: i64,
    /// Where browsers reach this server (`public_url`, else the listen address): the OIDC
    /// sign-in's redirect URI is built from it.
    pub base_url: String,
    /// The HTTP API's OpenAPI document, which the API reference page renders.
    pub api_document: &'static serde_json::Value,
    templates: Arc<minijinja::Environment<'static>>,
}

impl WebState {
    /// The web UI's state for a server listening on `listen`, with the API document its
    /// reference page shows.
    pub fn new(
        app: Services,
        listen: SocketAddr,
        api_document: &'static serde_json::Value,
    ) -> WebState {
        let config = app.identity.config();
        let demo_sign_in = config.demo_sign_in && listen.ip().is_loopback();
        if config.demo_sign_in && !demo_sign_in {
            tracing::warn!(%listen, "demo_sign_in is ignored: the server does not listen on loopback");
        }
        let secure_cookies = config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let session_ms = config.session_minutes.unwrap_or(12 * 60) as i64 * 60_000;
        let base_url = config
            .public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{listen}"));
        WebState {
            app,
            demo_sign_in,
            secure_cookies,
            session_ms,
            base_url,
            api_document,
            templates: Arc::new(render::environment()),
        }
    }
}

/// The web UI's routes, to merge with the API's router.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(pages::catalog::page))
        .route(
            "/sign-in",
            get(pages::sign_in::page).post(pages::sign_in::with_token),
        )
        .route("/sign-in/demo", post(pages::sign_in::as_demo_user))
        .route("/sign-in/oidc", get(pages::sign_in::oidc_start))
        .route("/sign-in/oidc/callback", get(pages::sign_in::oidc_callback))
        .route("/sign-out", post(pages::sign_in::sign_out))
        .route("/templates/{name}", get(pages::form::page))
        .route("/templates/{name}/check", post(pages::form::check))
        .route("/templates/{name}/submit", post(pages::form::submit))
        .route("/nps", post(pages::catalog::answer_nps))
        .route("/runs", get(pages::runs::mine))
        .route("/resources", get(pages::resources::page))
        .route("/resources/{id}/reveal", post(pages::resources::reveal))
        .route("/runs/{id}", get(pages::run::page))
        .route("/runs/{id}/live", get(pages::run::live))
        .route("/runs/{id}/reveal", post(pages::run::reveal))
        .route("/runs/{id}/rating", post(pages::run::rate))
        .route("/runs/{id}/control", post(pages::run::control))
        .route("/approvals", get(pages::approvals::inbox))
        .route("/inbox", get(pages::inbox::show))
        .route("/approvals/{id}/decide", post(pages::approvals::decide))
        .route("/platform", get(pages::platform::plugins))
        .route("/platform/templates", get(pages::platform::templates))
        .route("/platform/bindings", get(pages::platform::bindings))
        .route(
            "/platform/policies",
            get(pages::platform::policies).post(pages::platform::evaluate),
        )
        .route("/platform/audit", get(pages::platform::audit))
        .route("/platform/insights", get(pages::insights::page))
        .route("/api", get(pages::api_reference::page))
        // Only the static assets are compressed: pages carry a CSRF token beside text the
        // request chose (search words), which compression would expose to BREACH.
        .route(
            "/assets/{file}",
            get(assets::serve).layer(tower_http::compression::CompressionLayer::new()),
        )
        .with_state(state)
}
