//! Approval policies: publish a version (platform), list, read, and evaluate an input.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use serde_json::{Value, json};

use crate::auth::require_platform;
use crate::openapi::schemas::{ErrorBody, Evaluation, PolicyList, PolicyPublished, PolicyView};
use crate::{ApiError, AppState};

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

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
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_platform(&principal, "publishing policies")?;
    if !valid_name(&name) {
        return Err(ApiError::bad_request(
            "invalid-name",
            "a policy name is 1 to 64 of a-z, 0-9, - and _",
        ));
    }
    if body.trim().is_empty() {
        return Err(ApiError::bad_request(
            "empty-body",
            "send the policy's Rego source as the request body",
        ));
    }
    let (record, created) = state.approvals.put_policy(&name, &body, &principal).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(
            json!({"name": record.name, "version": record.version, "sha256": record.sha256, "in_force": state.approvals.policy_version()}),
        ),
    ))
}

/// `GET /api/v1/policies`: the policies in force.
#[utoipa::path(
    get, path = "/api/v1/policies", tag = "policies",
    responses((status = 200, description = "The stored policies and the version in force", body = PolicyList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let stored: Vec<Value> = state
        .store
        .current_policies()
        .await?
        .into_iter()
        .map(|p| json!({"name": p.name, "version": p.version, "sha256": p.sha256, "created_by": p.created_by, "created_at": p.created_at}))
        .collect();
    Ok(Json(
        json!({"in_force": state.approvals.policy_version(), "policies": stored}),
    ))
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
) -> Result<Json<Value>, ApiError> {
    match state.store.policy(&name, None).await? {
        Some(p) => Ok(Json(json!(p))),
        None if name == lever_policy::DEFAULT_POLICY_NAME => Ok(Json(
            json!({"name": name, "version": "builtin", "source": lever_policy::DEFAULT_POLICY}),
        )),
        None => Err(ApiError::not_found(format!("no policy `{name}`"))),
    }
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
) -> Result<Json<Value>, ApiError> {
    let Json(input) = body?;
    let (decision, version) = state.approvals.evaluate(&input)?;
    Ok(Json(
        json!({"decision": decision, "policy_version": version}),
    ))
}
