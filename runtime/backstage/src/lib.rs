//! Backstage's scaffolder API, `/api/scaffolder/v2`, as Backstage's OpenAPI document defines
//! it (and its `eventstream`, outside that document): a transport over the application layer
//! (`lever-service`), beside `/api/v1` and the web UI and never through them, so Backstage's
//! own frontend and `ScaffolderClient` drive Lever with the same checks — who may run a
//! template, who may see and control a run, the approval policy — as every other way in.
//!
//! A Lever template run is a Backstage task ([`task`]), its events Backstage task events
//! ([`events`]); failures answer Backstage's error body ([`error`]).

mod catalog;
mod dry_run;
mod error;
mod events;
mod location;
mod secrets;
mod stream;
mod task;
mod tasks;

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use lever_identity::Principal;
use lever_service::Services;

pub use error::Failure;

/// Where the routes are mounted.
pub const BASE: &str = "/api/scaffolder/v2";

/// What the handlers reach: the application layer and the parsed template documents.
#[derive(Clone)]
pub struct Backstage {
    services: Services,
    documents: Arc<task::Documents>,
    gate: Arc<lever_service::gate::PrincipalGate>,
}

impl Backstage {
    /// Where people reach this server, for the links a task's log gives (the run's page):
    /// `public_url` from `lever.yaml`, else the host the caller used.
    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.services.identity.config().public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}

/// The routes under [`BASE`], authenticated like `/api/v1` (Lever API tokens, OIDC tokens,
/// and the Backstage portal's user and static tokens when `backstage:` is configured), each
/// caller's requests in flight bounded by `gate`, the one `/api/v1` shares.
pub fn router(services: Services, gate: Arc<lever_service::gate::PrincipalGate>) -> Router {
    let state = Backstage {
        services,
        documents: Arc::new(task::Documents::default()),
        gate,
    };
    let routes = Router::new()
        .route(
            "/templates/{namespace}/{kind}/{name}/parameter-schema",
            get(catalog::parameter_schema_route),
        )
        .route("/actions", get(catalog::actions))
        .route(
            "/templating-extensions",
            get(catalog::templating_extensions),
        )
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::show))
        .route("/tasks/{id}/cancel", post(tasks::cancel))
        .route("/tasks/{id}/retry", post(tasks::retry))
        .route("/tasks/{id}/events", get(stream::events))
        .route("/tasks/{id}/eventstream", get(stream::eventstream))
        .route("/dry-run", post(dry_run::dry_run))
        .route("/autocomplete/{provider}/{resource}", post(autocomplete))
        .fallback(|| async { Failure::not_found("no such route under /api/scaffolder/v2") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .with_state(state.clone());
    let open = Router::new()
        .route(location::PATH, get(location::templates))
        .with_state(state.clone());
    Router::new()
        .nest(BASE, routes)
        .merge(open)
        .layer(axum::middleware::from_fn(error::with_request))
}

/// The credential of the request's `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let header = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credential) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
}

/// Every call has a principal, or answers 401 in Backstage's shape.
async fn authenticate(
    State(state): State<Backstage>,
    mut request: Request,
    next: Next,
) -> Result<Response, Failure> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let principal = state
        .services
        .identity
        .authenticate(header.as_deref())
        .await?;
    let Some(slot) = state.gate.enter(&principal.id).await else {
        let mut refused = Failure::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            state.gate.refusal_message(&principal.id),
        )
        .into_response();
        refused.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return Ok(refused);
    };
    request.extensions_mut().insert(principal);
    let response = next.run(request).await;
    drop(slot);
    Ok(response)
}

/// `POST /v2/autocomplete/{provider}/{resource}`'s body: Backstage sends the user's own SCM
/// token, which Lever does not use — the listing goes through the provider's binding.
#[derive(Debug, serde::Deserialize)]
struct AutocompleteRequest {
    #[serde(default)]
    context: std::collections::BTreeMap<String, String>,
}

/// `POST /v2/autocomplete/{provider}/{resource}`: what Backstage's pickers offer — owners,
/// repositories, branches — through the git-provider binding of that adapter (`github`,
/// `gitlab`), with Backstage's resource names; 400 `Unsupported provider` when none is bound.
async fn autocomplete(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    Path((provider, resource)): Path<(String, String)>,
    body: Result<axum::Json<AutocompleteRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::Json<serde_json::Value>, Failure> {
    use lever_service::repository_pickers::{self, Listing};
    let axum::Json(body) = body.map_err(|e| Failure::input(format!("Malformed request: {e}")))?;
    if !repository_pickers::is_bound(&state.services, &provider) {
        return Err(Failure::input(format!("Unsupported provider: {provider}")));
    }
    let context = |key: &str| body.context.get(key).filter(|v| !v.is_empty()).cloned();
    let listing = match (provider.as_str(), resource.as_str()) {
        (_, "owners" | "groups") => Listing::Owners,
        (_, "repositoriesWithOwner" | "repositories") => Listing::Repositories {
            owner: context("owner").or_else(|| context("id")),
        },
        (_, "branches") => match (context("owner"), context("repository"), context("id")) {
            (Some(owner), Some(repository), _) => Listing::Branches {
                full_name: format!("{owner}/{repository}"),
            },
            (_, _, Some(id)) => Listing::Branches { full_name: id },
            _ => {
                return Err(Failure::input(
                    "Missing owner and/or repository context parameter",
                ));
            }
        },
        _ => return Err(Failure::input(format!("Invalid resource: {resource}"))),
    };
    let names = repository_pickers::list(
        &state.services,
        &principal,
        &provider,
        context("host").as_deref(),
        &listing,
    )
    .await?;
    let results: Vec<serde_json::Value> = names
        .into_iter()
        .map(|id| serde_json::json!({ "id": id }))
        .collect();
    Ok(axum::Json(serde_json::json!({ "results": results })))
}
