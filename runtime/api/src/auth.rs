//! Every `/api/v1` call has a principal: the middleware authenticates the `Authorization`
//! header and puts the [`Principal`] in the request; anonymous calls get 401.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use lever_identity::Principal;

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
        lever_service::timing::timed("auth", state.identity.authenticate(header.as_deref()))
            .await?;
    let Some(permit) = state.gate.enter(&principal.id).await else {
        return Ok(crate::limits::refusal(&state.gate, &principal.id));
    };
    request.extensions_mut().insert(principal);
    let response = next.run(request).await;
    drop(permit);
    Ok(response)
}

/// 403 unless `principal` has the platform role (the application layer's rule).
pub(crate) fn require_platform(principal: &Principal, what: &str) -> Result<(), ApiError> {
    Ok(lever_service::access::require_platform(principal, what)?)
}
