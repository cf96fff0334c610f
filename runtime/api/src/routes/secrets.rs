//! `PUT /api/v1/secrets/{name}` (names may contain `/`) stores a secret, sealed at rest;
//! `DELETE` removes it. `GET` reveals a value to those allowed to read it: the platform role,
//! and the readers a built-in provider recorded when it wrote the secret (the requester of the
//! run and the owning team, for a provisioned database's credentials). Each reveal is audited
//! by name; values appear nowhere else.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use axum::Extension;
use lever_identity::Principal;

use crate::auth::require_platform;
use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use lever_service::secrets::SecretView;
use utoipa::ToSchema;

/// Body of the request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutSecret {
    /// The value, sealed at rest.
    value: String,
}

/// Creates or replaces a secret.
#[utoipa::path(
    put, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret; may contain `/`")),
    request_body = PutSecret,
    responses(
        (status = 204, description = "Stored, sealed at rest"),
        (status = 403, description = "Storing secrets needs the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<PutSecret>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    // Refused before the body is read; the use case holds the rule for every transport.
    require_platform(&principal, "storing secrets")?;
    let Json(body) = body?;
    lever_service::secrets::put(&state, &principal, &name, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reveals a secret to a platform user or one of its recorded readers.
#[utoipa::path(
    get, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret; may contain `/`")),
    responses(
        (status = 200, description = "The value (the reveal is audited)", body = SecretView),
        (status = 403, description = "The caller is not one of the secret's readers", body = ErrorBody),
        (status = 404, description = "No such secret", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<axum::Json<SecretView>, ApiError> {
    let value = lever_service::secrets::reveal(&state, &principal, &name).await?;
    Ok(axum::Json(SecretView { name, value }))
}

/// Deletes a secret: 204, or 404 when there is none.
#[utoipa::path(
    delete, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret; may contain `/`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Deleting secrets needs the platform role", body = ErrorBody),
        (status = 404, description = "No such secret", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    lever_service::secrets::delete(&state, &principal, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
