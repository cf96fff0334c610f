//! The approvals inbox: what waits for the signed-in user's decision, with the context an
//! approver needs, and what they decided; approve, or reject with a comment.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use super::{checked_form, field};
use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// A decision the service refused, shown again on its card with what was typed.
#[derive(serde::Serialize)]
struct Draft {
    id: String,
    comment: String,
    error: String,
}

/// Each request's answers as its form's review listed them (by approval id), so an approver
/// reads "Size: Large ($150/month)" rather than the parameters' JSON.
async fn answers(
    state: &WebState,
    approvals: &[lever_service::approvals::ApprovalView],
) -> HashMap<String, Vec<(String, String)>> {
    let mut out = HashMap::new();
    for a in approvals {
        let (Some(name), Some(version)) = (&a.template, a.context["template_version"].as_i64())
        else {
            continue;
        };
        if let Ok(entry) = state.app.catalog.get_version(name, version).await {
            let asked = super::form::asked(state, &entry, &a.context["parameters"]);
            out.insert(a.id.clone(), asked);
        }
    }
    out
}

async fn inbox_page(
    state: &WebState,
    viewer: &Viewer,
    message: Option<String>,
    error: Option<String>,
    draft: Option<Draft>,
) -> Result<Html<String>, WebError> {
    let assigned = lever_service::approvals::assigned(&state.app, &viewer.principal)
        .await?
        .approvals;
    let decided = lever_service::approvals::decided_by(&state.app, &viewer.principal, 20).await?;
    let mut asked = answers(state, &assigned).await;
    asked.extend(answers(state, &decided).await);
    render::page(
        state,
        Some(viewer),
        "approvals.html",
        context! { assigned, decided, message, error, asked, draft },
    )
}

/// `GET /approvals`.
pub(crate) async fn inbox(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    inbox_page(&state, &viewer, None, None, None).await
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
                None,
            )
            .await?
            .into_response())
        }
        Err(e) => {
            let status = crate::error::status_of(&e);
            // What was typed stays in its card, with the error under it.
            let draft = (e.kind == lever_service::Kind::Invalid).then(|| Draft {
                id: id.clone(),
                comment: comment.clone(),
                error: e.message.clone(),
            });
            let html = inbox_page(&state, &viewer, None, Some(e.message.clone()), draft).await?;
            Ok((status, html).into_response())
        }
    }
}
