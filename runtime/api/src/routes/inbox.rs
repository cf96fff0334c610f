//! The caller's Lever inbox: what the built-in notifier (`builtin:inbox`) delivered to them
//! and the approval requests addressed to them; marking it read.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::inbox::InboxView;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// `GET /api/v1/inbox`.
#[utoipa::path(
    get, path = "/api/v1/inbox", tag = "approvals",
    responses((status = 200, description = "The caller's newest 100 entries, newest first, and how many are unread", body = InboxView))
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<InboxView>, ApiError> {
    Ok(Json(lever_service::inbox::inbox(&state, &principal).await?))
}

/// Body of `POST /api/v1/inbox/read`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarkRead {
    /// Entries up to this id are read; every entry when it is left out.
    up_to: Option<i64>,
}

/// `POST /api/v1/inbox/read`.
#[utoipa::path(
    post, path = "/api/v1/inbox/read", tag = "approvals",
    request_body = MarkRead,
    responses((status = 204, description = "Marked read"))
)]
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<MarkRead>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    lever_service::inbox::mark_read(&state, &principal, body.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}
