//! `PUT /api/v1/secrets/{name}` (names may contain `/`): stores a secret. Values are never answered back.

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
    state.store.put_secret(&name, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}
