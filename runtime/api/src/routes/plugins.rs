//! `POST /api/v1/plugins` (body: the .wasm), `GET /api/v1/plugins`, `GET /api/v1/plugins/{name}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use lever_plugin::{Grants, Limits};
use lever_registry::{PluginRef, PublishOptions};
use serde::Deserialize;

use axum::Extension;
use lever_identity::Principal;

use crate::openapi::schemas::{Component, ErrorBody};
use crate::{ApiError, AppState};
use lever_service::plugins::{self, PluginList, PluginVersions, PluginView};
use utoipa::IntoParams;

/// Limits and extra grants, as query parameters of a publish.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PublishQuery {
    /// Fuel per invocation.
    fuel: Option<u64>,
    memory_bytes: Option<u64>,
    timeout_ms: Option<u64>,
    max_output_bytes: Option<u64>,
    max_log_bytes: Option<u64>,
    /// Comma-separated hosts granted on top of the manifest's.
    hosts: Option<String>,
    /// Comma-separated secret names granted on top of the manifest's.
    secrets: Option<String>,
}

fn comma_list(text: &Option<String>) -> Vec<String> {
    text.iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl PublishQuery {
    fn options(&self) -> PublishOptions {
        let d = Limits::default();
        let limits = Limits {
            fuel: self.fuel.unwrap_or(d.fuel),
            memory_bytes: self.memory_bytes.unwrap_or(d.memory_bytes),
            timeout_ms: self.timeout_ms.unwrap_or(d.timeout_ms),
            max_output_bytes: self.max_output_bytes.unwrap_or(d.max_output_bytes),
            max_log_bytes: self.max_log_bytes.unwrap_or(d.max_log_bytes),
        };
        PublishOptions {
            limits,
            extra_grants: Grants {
                hosts: comma_list(&self.hosts),
                secrets: comma_list(&self.secrets),
                ..Default::default()
            },
        }
    }
}

/// Publishes a component: 201 when new, 200 when the same bytes were already published.
#[utoipa::path(
    post, path = "/api/v1/plugins", tag = "plugins",
    params(PublishQuery),
    request_body(
        description = "The WebAssembly component (any content type: the bytes are checked)",
        content(
            (Component = "application/wasm"),
            (Component = "application/octet-stream"),
        )
    ),
    responses(
        (status = 201, description = "Published", body = PluginView),
        (status = 200, description = "The same bytes were published before", body = PluginView),
        (status = 403, description = "Publishing plugins needs the platform role", body = ErrorBody),
        (status = 409, description = "This name and version hold other bytes (`version-exists`), or these bytes with other grants or limits (`published-with-other-grants`)", body = ErrorBody),
    )
)]
pub(crate) async fn publish(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<PublishQuery>, QueryRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let Query(query) = query?;
    let (view, created) =
        plugins::publish(&state, &principal, body.to_vec(), query.options()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// Every published plugin version.
#[utoipa::path(
    get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, description = "Every published plugin version", body = PluginList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    let plugins = state
        .registry
        .list()
        .await?
        .iter()
        .map(plugins::view)
        .collect();
    Ok(Json(PluginList { plugins }))
}

/// The versions of one plugin, and which one a bare name resolves to.
#[utoipa::path(
    get, path = "/api/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin (`name`, `name@version`)")),
    responses(
        (status = 200, description = "Its versions, and the one a bare name resolves to", body = PluginVersions),
        (status = 404, description = "No such plugin", body = ErrorBody),
    )
)]
pub(crate) async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginVersions>, ApiError> {
    let reference = PluginRef::parse(&name)
        .map_err(|e| ApiError::bad_request("invalid-reference", e.to_string()))?;
    let latest = state.registry.record(&reference).await?;
    let versions = state
        .store
        .plugin_versions(&reference.name)
        .await?
        .iter()
        .map(plugins::view)
        .collect();
    Ok(Json(PluginVersions {
        name: reference.name,
        latest: latest.version,
        versions,
    }))
}
