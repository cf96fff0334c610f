//! Deciding: the approvals assigned to the caller, one approval with its whole context,
//! approve and reject with a comment, and the caller's notifications (with their links).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use bytes::Bytes;
use lever_identity::Principal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// Query of `GET /api/v1/approvals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// `me`: open approvals the caller can decide.
    assigned: Option<String>,
    /// Every stage of one run.
    run: Option<String>,
}

/// `GET /api/v1/approvals?assigned=me` or `?run=ID`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let approvals = match (query.assigned.as_deref(), query.run) {
        (Some("me"), None) => state.approvals.assigned(&principal).await?,
        (None, Some(run)) => state.approvals.of_run(&run).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid-query",
                "ask for `?assigned=me` or `?run=RUN_ID`",
            ));
        }
    };
    Ok(Json(json!({ "approvals": approvals })))
}

/// `GET /api/v1/approvals/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.approvals.get(&id).await?))
}

/// Body of approve and reject.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    #[serde(default)]
    comment: String,
}

async fn decide(
    state: AppState,
    principal: Principal,
    id: String,
    body: Bytes,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
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
    let outcome = decide_stage(&state, &principal, &id, approve, &body.comment, "api").await?;
    let approval = state.approvals.get(&id).await?;
    Ok(Json(json!({"outcome": outcome, "approval": approval})))
}

/// `principal` approves or rejects stage `id` (a rejection needs a comment, which says why),
/// and the executor is woken for a run the decision lets go on. `via` says where it came from.
pub async fn decide_stage(
    state: &AppState,
    principal: &Principal,
    id: &str,
    approve: bool,
    comment: &str,
    via: &str,
) -> Result<lever_store::DecideOutcome, ApiError> {
    if !approve && comment.trim().is_empty() {
        return Err(ApiError::bad_request(
            "comment-required",
            "say why you reject: send {\"comment\": \"...\"}",
        ));
    }
    let outcome = state
        .approvals
        .decide(principal, id, approve, comment, via)
        .await?;
    state.executor.nudge();
    Ok(outcome)
}

/// `POST /api/v1/approvals/{id}/approve` `{"comment"}`.
pub(crate) async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    decide(state, principal, id, body, true).await
}

/// `POST /api/v1/approvals/{id}/reject` `{"comment"}` (a comment is required).
pub(crate) async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    decide(state, principal, id, body, false).await
}

/// `GET /api/v1/notifications`: what was sent to the caller, newest last, with their own
/// one-click links only.
pub(crate) async fn notifications(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for mut n in state.store.notifications(Some(&principal.id)).await? {
        let mine = n.body["links"].get(&principal.id).cloned();
        n.body["links"] = json!({});
        let mut value = json!(n);
        value["links"] = mine.unwrap_or(Value::Null);
        out.push(value);
    }
    Ok(Json(json!({ "notifications": out })))
}
