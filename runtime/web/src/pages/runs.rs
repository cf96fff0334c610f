//! `GET /runs`: the signed-in user's runs, newest first, filtered by status and template; the
//! list refreshes itself.

use axum::extract::{Query, State};
use axum::response::Html;
use lever_service::ServiceError;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// The filters.
#[derive(Debug, Deserialize)]
pub(crate) struct RunsQuery {
    status: Option<String>,
    template: Option<String>,
}

const STATUSES: &[&str] = &[
    "pending",
    "running",
    "waiting",
    "awaiting-approval",
    "paused",
    "rolling-back",
    "succeeded",
    "failed",
    "cancelled",
    "rejected",
    "rolled-back",
    "rollback-failed",
];

/// `GET /runs?status=&template=`.
pub(crate) async fn mine(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(query): Query<RunsQuery>,
) -> Result<Html<String>, WebError> {
    let runs = state
        .app
        .store
        .runs_of(&viewer.principal.id, 200)
        .await
        .map_err(ServiceError::from)?;
    let mut templates: Vec<String> = runs.iter().filter_map(|r| r.template.clone()).collect();
    templates.sort();
    templates.dedup();
    let status = query.status.unwrap_or_default();
    let template = query.template.unwrap_or_default();
    let shown: Vec<_> = runs
        .iter()
        .filter(|r| status.is_empty() || r.status.as_str() == status)
        .filter(|r| template.is_empty() || r.template.as_deref() == Some(template.as_str()))
        .map(|r| json!({"id": r.id, "template": r.template, "action": r.action, "status": r.status.as_str(), "created_at": r.created_at}))
        .collect();
    render::page(
        &state,
        Some(&viewer),
        "runs.html",
        context! {
            runs => shown,
            templates,
            statuses => STATUSES,
            query => serde_urlencoded::to_string([("status", &status), ("template", &template)]).unwrap_or_default(),
            status,
            template,
        },
    )
}
