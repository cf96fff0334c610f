//! Deciding: the approvals assigned to the caller, one approval with its whole context,
//! approve and reject with a comment, and the caller's notifications (with their links).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use bytes::Bytes;
use lever_approvals::ApprovalView;
use lever_identity::Principal;
use lever_service::approvals::{ApprovalList, DecisionView, NotificationList};
use serde::Deserialize;

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/approvals`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `me`: open approvals the caller can decide.
    assigned: Option<String>,
    /// Every stage of one run.
    run: Option<String>,
}

/// `GET /api/v1/approvals?assigned=me` or `?run=ID`.
#[utoipa::path(
    get, path = "/api/v1/approvals", tag = "approvals",
    params(ListQuery),
    responses(
        (status = 200, description = "The stages asked for, each with its run's context", body = ApprovalList),
        (status = 404, description = "`?run=` names no run, or one the caller may not see", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ApprovalList>, ApiError> {
    let Query(query) = query?;
    let list = match (query.assigned.as_deref(), query.run) {
        (Some("me"), None) => lever_service::approvals::assigned(&state, &principal).await?,
        (None, Some(run)) => lever_service::approvals::of_run(&state, &principal, &run).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid-query",
                "ask for `?assigned=me` or `?run=RUN_ID`",
            ));
        }
    };
    Ok(Json(list))
}

/// `GET /api/v1/approvals/{id}`.
#[utoipa::path(
    get, path = "/api/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "The approval stage")),
    responses(
        (status = 200, description = "The stage with the whole context an approver needs", body = ApprovalView),
        (status = 404, description = "No such stage, or one of a run the caller may not see", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApprovalView>, ApiError> {
    Ok(Json(
        lever_service::approvals::get(&state, &principal, &id).await?,
    ))
}

/// Body of approve and reject.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    /// Why; required to reject.
    #[serde(default)]
    comment: String,
}

async fn decide(
    state: AppState,
    principal: Principal,
    id: String,
    body: Bytes,
    approve: bool,
) -> Result<Json<DecisionView>, ApiError> {
    // The body is optional (an approval needs no comment).
    let body: DecisionBody = if body.iter().all(u8::is_ascii_whitespace) {
        DecisionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "invalid-body",
                format!("send {{\"comment\": \"...\"}}: {e}"),
            )
        })?
    };
    let view = lever_service::approvals::decide_and_view(
        &state,
        &principal,
        &id,
        approve,
        &body.comment,
        "api",
    )
    .await?;
    Ok(Json(view))
}

/// `POST /api/v1/approvals/{id}/approve` `{"comment"}`.
#[utoipa::path(
    post, path = "/api/v1/approvals/{id}/approve", tag = "approvals",
    params(("id" = String, Path, description = "The approval stage")),
    request_body(content = Option<DecisionBody>, description = "A comment, optionally"),
    responses(
        (status = 200, description = "Counted", body = DecisionView),
        (status = 403, description = "The caller may not decide this stage (not an approver, or the requester)", body = ErrorBody),
        (status = 404, description = "No such stage", body = ErrorBody),
        (status = 409, description = "The stage is decided already, or not open yet", body = ErrorBody),
    )
)]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<DecisionView>, ApiError> {
    decide(state, principal, id, body, true).await
}

/// `POST /api/v1/approvals/{id}/reject` `{"comment"}` (a comment is required).
#[utoipa::path(
    post, path = "/api/v1/approvals/{id}/reject", tag = "approvals",
    params(("id" = String, Path, description = "The approval stage")),
    request_body(content = DecisionBody, description = "Why (required)"),
    responses(
        (status = 200, description = "Rejected: the run ends", body = DecisionView),
        (status = 403, description = "The caller may not decide this stage", body = ErrorBody),
        (status = 404, description = "No such stage", body = ErrorBody),
        (status = 409, description = "The stage is decided already, or not open yet", body = ErrorBody),
    )
)]
pub(crate) async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<DecisionView>, ApiError> {
    decide(state, principal, id, body, false).await
}

/// `GET /api/v1/notifications`: what was sent to the caller, newest last, with their own
/// one-click links only.
#[utoipa::path(
    get, path = "/api/v1/notifications", tag = "approvals",
    responses((status = 200, description = "What was sent to the caller, oldest first, with the caller's own one-click links", body = NotificationList))
)]
pub(crate) async fn notifications(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<NotificationList>, ApiError> {
    Ok(Json(
        lever_service::approvals::notifications(&state, &principal).await?,
    ))
}
