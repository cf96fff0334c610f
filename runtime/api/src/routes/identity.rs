//! Who am I, API tokens, and (test servers only) the manual clock.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::require_platform;
use crate::openapi::schemas::{ClockView, ErrorBody, Me, TokenCreated, TokenList};
use crate::{ApiError, AppState};
use utoipa::ToSchema;

/// `GET /api/v1/me`.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The caller: teams, groups, roles", body = Me))
)]
pub(crate) async fn me(Extension(principal): Extension<Principal>) -> Json<Value> {
    Json(json!(principal))
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
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let user = body.user.unwrap_or_else(|| principal.id.clone());
    if user != principal.id {
        require_platform(&principal, "creating tokens for someone else")?;
    }
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid-name",
            "give the token a name, e.g. {\"name\": \"laptop\"}",
        ));
    }
    let (record, token) = state
        .identity
        .create_token(&user, &body.name, &principal.id)
        .await?;
    state
        .store
        .append_audit(&lever_store::AuditEntry {
            run_id: None,
            kind: "token-created",
            actor: &principal.id,
            data: json!({"token": record.id, "user": user}),
            policy_version: None,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "record": record})),
    ))
}

/// `GET /api/v1/tokens`: the caller's tokens (all, for the platform team); never the secret.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "identity",
    responses((status = 200, description = "The caller's tokens (everyone's, for the platform team), never their secrets", body = TokenList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    let user = if principal.is_platform() {
        None
    } else {
        Some(principal.id.as_str())
    };
    Ok(Json(
        json!({ "tokens": state.store.tokens_of(user).await? }),
    ))
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
    let token = state
        .store
        .token(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no token `{id}`")))?;
    if token.user_id != principal.id {
        require_platform(&principal, "revoking someone else's token")?;
    }
    state.store.revoke_token(&id).await?;
    state
        .store
        .append_audit(&lever_store::AuditEntry {
            run_id: None,
            kind: "token-revoked",
            actor: &principal.id,
            data: json!({"token": id, "user": token.user_id}),
            policy_version: None,
        })
        .await?;
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
) -> Result<Json<Value>, ApiError> {
    require_platform(&principal, "moving the clock")?;
    let Some(clock) = &state.manual_clock else {
        return Err(ApiError::not_found(
            "this server runs on the system clock; start it with --manual-clock to move time",
        ));
    };
    let Json(body) = body?;
    let now = clock.advance(body.advance_ms);
    // Fire what is now due before answering, so the caller sees its effects.
    state.approvals.tick().await?;
    // Parked runs (retry backoff, `waitFor` polls, `debug:wait`) whose time has come wake too.
    state.executor.nudge();
    Ok(Json(
        json!({"now_ms": now, "now": lever_identity::format_rfc3339(now)}),
    ))
}

/// `GET /api/v1/insights/approvals`: share approved automatically and time to approval.
#[utoipa::path(
    get, path = "/api/v1/insights/approvals", tag = "platform",
    responses((status = 200, description = "The share approved automatically and the time to approval", body = Object))
)]
pub(crate) async fn insights(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.store.approval_measures().await?))
}
