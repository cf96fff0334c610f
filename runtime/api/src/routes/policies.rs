//! Approval policies: publish a version (platform), list, read, and evaluate an input.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::policies::{Evaluation, PolicyList, PolicyPublished, PolicyView};
use serde_json::Value;

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};

/// `PUT /api/v1/policies/{name}` with the Rego source as the body: 201 with the new
/// version, 200 when it is the latest version already, 400 with line and column for a
/// syntax error.
#[utoipa::path(
    put, path = "/api/v1/policies/{name}", tag = "policies",
    params(("name" = String, Path, description = "1 to 64 of a-z, 0-9, - and _")),
    request_body(content = String, content_type = "text/plain", description = "The Rego source"),
    responses(
        (status = 201, description = "A new version, now in force", body = PolicyPublished),
        (status = 200, description = "The latest version already has this source", body = PolicyPublished),
        (status = 403, description = "Publishing policies needs the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<PolicyPublished>), ApiError> {
    let (published, created) =
        lever_service::policies::publish(&state, &principal, &name, &body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(published)))
}

/// `GET /api/v1/policies`: the policies in force.
#[utoipa::path(
    get, path = "/api/v1/policies", tag = "policies",
    responses((status = 200, description = "The stored policies and the version in force", body = PolicyList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<PolicyList>, ApiError> {
    Ok(Json(lever_service::policies::list(&state).await?))
}

/// `GET /api/v1/policies/{name}`: its latest version with the source (`default` without a
/// stored version answers the built-in one).
#[utoipa::path(
    get, path = "/api/v1/policies/{name}", tag = "policies",
    params(("name" = String, Path, description = "The policy")),
    responses(
        (status = 200, description = "Its latest version with the source", body = PolicyView),
        (status = 404, description = "No such policy", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(lever_service::policies::show(&state, &name).await?))
}

/// `POST /api/v1/policies/evaluate` with a policy input: the decision of the policies in force.
#[utoipa::path(
    post, path = "/api/v1/policies/evaluate", tag = "policies",
    request_body(content = Object, description = "A policy input: `request`, `requester`, `plan`..."),
    responses(
        (status = 200, description = "The decision of the policies in force", body = Evaluation),
        (status = 422, description = "The policy could not decide this input", body = ErrorBody),
    )
)]
pub(crate) async fn evaluate(
    State(state): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Evaluation>, ApiError> {
    let Json(input) = body?;
    Ok(Json(lever_service::policies::evaluate(&state, &input)?))
}
