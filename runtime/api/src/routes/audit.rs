//! The audit trail: read it (one run's, or all for the platform team) and verify its chain.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::audit::AuditList;
use lever_store::AuditVerification;
use serde::Deserialize;

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use utoipa::IntoParams;

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only this run's rows.
    run: Option<String>,
}

/// `GET /api/v1/audit?run=ID` (anyone), or the whole trail (platform).
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "platform",
    params(AuditQuery),
    responses(
        (status = 200, description = "The run's rows (whoever may see the run), or the whole trail (platform)", body = AuditList),
        (status = 404, description = "No such run, or one the caller may not see", body = ErrorBody),
        (status = 403, description = "The whole trail needs the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditList>, ApiError> {
    let Query(query) = query?;
    Ok(Json(
        lever_service::audit::entries(&state, &principal, query.run.as_deref()).await?,
    ))
}

/// `GET /api/v1/audit/verify`: recomputes the chain and checks it against the anchor outside
/// the database; `intact: false` names the rows, or the rows missing from its end.
#[utoipa::path(
    get, path = "/api/v1/audit/verify", tag = "platform",
    responses(
        (status = 200, description = "The chain recomputed and checked against the anchor outside the database", body = AuditVerification),
        (status = 403, description = "Verifying needs the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<AuditVerification>, ApiError> {
    Ok(Json(
        lever_service::audit::verify(&state, &principal).await?,
    ))
}
