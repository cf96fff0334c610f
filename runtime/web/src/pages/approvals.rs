//! The approvals inbox: what waits for the signed-in user's decision, with the context an
//! approver needs, and what they decided; approve, or reject with a comment.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use super::{checked_form, field};
use crate::session::Viewer;
use crate::{WebError, WebState, render};

async fn inbox_page(
    state: &WebState,
    viewer: &Viewer,
    message: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let assigned = lever_service::approvals::assigned(&state.app, &viewer.principal)
        .await?
        .approvals;
    let decided = lever_service::approvals::decided_by(&state.app, &viewer.principal, 20).await?;
    render::page(
        state,
        Some(viewer),
        "approvals.html",
        context! { assigned, decided, message, error },
    )
}

/// `GET /approvals`.
pub(crate) async fn inbox(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    inbox_page(&state, &viewer, None, None).await
}

/// `POST /approvals/{id}/decide` with `decision` (`approve` or `reject`) and `comment`
/// (required to reject).
pub(crate) async fn decide(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let approve = match field(&pairs, "decision") {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            return Err(WebError::BadRequest("choose Approve or Reject".to_string()));
        }
    };
    let comment = field(&pairs, "comment").unwrap_or("").trim().to_string();
    match lever_service::approvals::decide(
        &state.app,
        &viewer.principal,
        &id,
        approve,
        &comment,
        "web",
    )
    .await
    {
        Ok(outcome) => {
            let outcome = serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let verb = if approve { "approved" } else { "rejected" };
            Ok(inbox_page(
                &state,
                &viewer,
                Some(format!("You {verb} it ({outcome}).")),
                None,
            )
            .await?
            .into_response())
        }
        Err(e) => {
            let status = crate::error::status_of(&e);
            let html = inbox_page(&state, &viewer, None, Some(e.message.clone())).await?;
            Ok((status, html).into_response())
        }
    }
}
