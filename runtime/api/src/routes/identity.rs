//! Who am I, API tokens, and (test servers only) the manual clock.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::clock::ClockView;
use lever_service::tokens::{TokenCreated, TokenList};
use lever_store::ApprovalMeasures;
use serde::Deserialize;

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use utoipa::ToSchema;

/// `GET /api/v1/me`.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The caller: teams, groups, roles", body = Principal))
)]
pub(crate) async fn me(Extension(principal): Extension<Principal>) -> Json<Principal> {
    Json(principal)
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// For whom (platform only; default: the caller).
    user: Option<String>,
    /// A label.
    name: String,
}

/// `POST /api/v1/tokens`: 201 with the token, shown this once.
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "identity",
    request_body = CreateToken,
    responses(
        (status = 201, description = "The token, shown this once", body = TokenCreated),
        (status = 403, description = "Tokens for someone else need the platform role", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<CreateToken>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let Json(body) = body?;
    let created = lever_service::tokens::create(&state, &principal, body.user, &body.name).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/tokens`: the caller's tokens (all, for the platform team); never the secret.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "identity",
    responses((status = 200, description = "The caller's tokens (everyone's, for the platform team), never their secrets", body = TokenList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(lever_service::tokens::list(&state, &principal).await?))
}

/// `DELETE /api/v1/tokens/{id}`: revokes.
#[utoipa::path(
    delete, path = "/api/v1/tokens/{id}", tag = "identity",
    params(("id" = String, Path, description = "The token's id (not its secret)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Revoking someone else's token needs the platform role", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    lever_service::tokens::revoke(&state, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/admin/clock`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    /// Milliseconds to move the clock forward.
    advance_ms: i64,
}

/// `POST /api/v1/admin/clock` `{"advance_ms"}`: moves the manual clock (servers started with
/// `--manual-clock` only; 404 otherwise).
#[utoipa::path(
    post, path = "/api/v1/admin/clock", tag = "identity",
    request_body = Advance,
    responses(
        (status = 200, description = "The clock moved, and what fell due fired", body = ClockView),
        (status = 403, description = "Moving the clock needs the platform role", body = ErrorBody),
        (status = 404, description = "This server runs on the system clock", body = ErrorBody),
    )
)]
pub(crate) async fn advance_clock(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<Advance>, JsonRejection>,
) -> Result<Json<ClockView>, ApiError> {
    let Json(body) = body?;
    Ok(Json(
        lever_service::clock::advance(&state, &principal, body.advance_ms).await?,
    ))
}

/// `GET /api/v1/insights/approvals`: share approved automatically and time to approval.
#[utoipa::path(
    get, path = "/api/v1/insights/approvals", tag = "platform",
    responses((status = 200, description = "The share approved automatically and the time to approval", body = ApprovalMeasures))
)]
pub(crate) async fn insights(
    State(state): State<AppState>,
) -> Result<Json<ApprovalMeasures>, ApiError> {
    Ok(Json(state.store.approval_measures().await?))
}
