//! Every `/api/v1` call has a principal: the middleware authenticates the `Authorization`
//! header and puts the [`Principal`] in the request; anonymous calls get 401.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use lever_identity::{IdentityError, Principal};

use crate::{ApiError, AppState};

/// Authenticates the request or answers 401.
pub(crate) async fn require_principal(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let principal =
        crate::timing::timed("auth", state.identity.authenticate(header.as_deref())).await?;
    let Some(permit) = state.gate.enter(&principal.id).await else {
        return Ok(state.gate.refusal(&principal.id));
    };
    request.extensions_mut().insert(principal);
    let response = next.run(request).await;
    drop(permit);
    Ok(response)
}

/// 403 unless `principal` has the platform role.
pub(crate) fn require_platform(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if principal.is_platform() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{what} needs the platform role; {} does not have it",
                principal.id
            ),
        ))
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = match status.as_u16() {
            401 => "unauthenticated",
            403 => "forbidden",
            404 => "unknown-user",
            400 => "invalid-config",
            _ => "identity-unavailable",
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "identity failure");
        }
        ApiError::new(status, code, e.to_string())
    }
}

impl From<lever_approvals::ApprovalError> for ApiError {
    fn from(e: lever_approvals::ApprovalError) -> Self {
        if let lever_approvals::ApprovalError::Store(inner) = e {
            return inner.into();
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = ApiError::new(status, e.code(), e.to_string());
        if let lever_approvals::ApprovalError::Policy(lever_policy::PolicyError::Syntax {
            file,
            line,
            column,
            ..
        }) = &e
        {
            error = error
                .with_details(serde_json::json!({"file": file, "line": line, "column": column}));
        }
        error
    }
}
