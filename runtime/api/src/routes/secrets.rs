//! `PUT /api/v1/secrets/{name}` (names may contain `/`) stores a secret, sealed at rest;
//! `DELETE` removes it. Values are never answered back.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use axum::Extension;
use lever_identity::Principal;

use crate::auth::require_platform;
use crate::{ApiError, AppState};

/// Body of the request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutSecret {
    value: String,
}

/// Creates or replaces a secret.
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<PutSecret>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    require_platform(&principal, "storing secrets")?;
    let Json(body) = body?;
    let valid = !name.is_empty()
        && name.len() <= 200
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if !valid {
        return Err(ApiError::bad_request(
            "invalid-secret-name",
            "secret names are 1 to 200 characters of letters, digits, '-', '_', '.' and '/'",
        ));
    }
    state.secrets.put(&name, &body.value).await.map_err(secrets_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a secret: 204, or 404 when there is none.
pub(crate) async fn delete(State(state): State<AppState>, Extension(principal): Extension<Principal>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    require_platform(&principal, "deleting secrets")?;
    if state.secrets.delete(&name).await.map_err(secrets_error)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no secret `{name}`")))
    }
}

fn secrets_error(e: lever_secrets::SecretsError) -> ApiError {
    match e {
        lever_secrets::SecretsError::Store(inner) => inner.into(),
        other => {
            tracing::error!(error = %other, "secrets store failure");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "secrets-unavailable", other.to_string())
        }
    }
}
