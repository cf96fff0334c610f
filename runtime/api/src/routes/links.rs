//! One-click approval links. `GET /approve/{token}` shows the request with its whole
//! context and one confirm button, and changes nothing (mail scanners follow links); the
//! button POSTs to the same address, which decides. No API token is needed: the signed,
//! single-use link is the credential; a caller who also sends a token must be its approver.

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use lever_service::ServiceError;
use serde::Deserialize;

use crate::AppState;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A one-click link page, in the web UI's layout and stylesheet (served by `lever-web` at
/// `/assets/style.css`): the link is the credential, so there is no session and no navigation.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{t} — Lever</title><link rel=stylesheet href=/assets/style.css></head>\
         <body><header class=top><a class=brand href=/>Lever</a></header><main class=narrow><h1>{t}</h1>{body}</main></body></html>",
        t = escape(title)
    );
    (status, Html(html)).into_response()
}

fn error_page(e: &ServiceError) -> Response {
    let status = StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    page(
        status,
        "This link cannot be used",
        &format!("<p id=error>{}</p>", escape(&e.message)),
    )
}

/// `GET /approve/{token}`: the context and a confirm button. Never decides.
pub(crate) async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let (link, view) = match lever_service::approvals::link(&state, &token).await {
        Ok(found) => found,
        Err(e) => return error_page(&e),
    };
    let decision = serde_json::to_value(link.claims.decision)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let context = serde_json::to_string_pretty(&view.context).unwrap_or_default();
    let reasons: String = link
        .stage
        .reasons
        .iter()
        .map(|r| format!("<li>{}</li>", escape(r)))
        .collect();
    let body = format!(
        "<p><b>{approver}</b>, you are asked to <b id=decision>{decision}</b> stage <b>{stage}</b> of run <code>{run}</code> \
         ({template}), requested by <b>{requester}</b>.</p><ul id=reasons>{reasons}</ul>\
         <h2>Context</h2><pre id=context>{context}</pre>\
         <form method=post><div class=field><label for=comment>Comment</label><input type=text id=comment name=comment></div> <button type=submit id=confirm>Confirm: {decision}</button></form>",
        approver = escape(&link.claims.approver),
        stage = escape(&link.stage.name),
        run = escape(&link.stage.run_id),
        template = escape(view.template.as_deref().unwrap_or("action")),
        requester = escape(view.requester.as_deref().unwrap_or("")),
        context = escape(&context),
    );
    page(StatusCode::OK, &format!("Confirm: {decision}"), &body)
}

/// The confirm form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Confirm {
    #[serde(default)]
    comment: String,
}

/// `POST /approve/{token}`: decides, once.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The form is optional: a bare POST confirms with no comment.
    let form: Option<Confirm> = serde_urlencoded::from_bytes(&body).ok();
    let caller = match headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(header) => match state.identity.authenticate(Some(header)).await {
            Ok(p) => Some(p),
            Err(e) => {
                return page(
                    StatusCode::UNAUTHORIZED,
                    "Not signed in",
                    &format!("<p id=error>{}</p>", escape(&e.to_string())),
                );
            }
        },
        None => None,
    };
    let comment = form.map(|f| f.comment).unwrap_or_default();
    let comment = if comment.trim().is_empty() {
        "decided by one-click link".to_string()
    } else {
        comment
    };
    match lever_service::approvals::decide_by_link(&state, &token, caller.as_ref(), &comment).await
    {
        Ok((link, outcome)) => {
            let outcome = serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            page(
                StatusCode::OK,
                "Decision recorded",
                &format!(
                    "<p id=outcome data-outcome={}>Your decision on stage <b>{}</b> is recorded ({}).</p>",
                    escape(&outcome),
                    escape(&link.stage.name),
                    escape(&outcome)
                ),
            )
        }
        Err(e) => error_page(&e),
    }
}
