//! `GET /runs`: the signed-in user's runs, newest first, each named by its template's title and
//! the answers that tell it apart; filtered by status, template and words; the list refreshes
//! itself.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::response::Html;
use lever_service::ServiceError;
use lever_store::RunStatus;
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
    /// Words in the title or the answers (`orders`, `production`).
    q: Option<String>,
}

const STATUSES: [RunStatus; 12] = RunStatus::ALL;

/// How many of a run's answers tell it apart in the list: the form's first ones (a name, an
/// environment, a size).
const IDENTIFYING: usize = 3;

/// `GET /runs?status=&template=&q=`.
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
    let status = query.status.unwrap_or_default();
    let template = query.template.unwrap_or_default();
    let words = query.q.unwrap_or_default();
    let needle = words.trim().to_lowercase();
    // Each template version is read once per page (the catalog keeps them compiled).
    let mut entries = HashMap::new();
    let mut templates: BTreeMap<String, String> = BTreeMap::new();
    let mut shown = Vec::new();
    for r in &runs {
        let entry = match (&r.template, r.template_version) {
            (Some(name), Some(version)) => {
                let key = (name.clone(), version);
                if let std::collections::hash_map::Entry::Vacant(slot) = entries.entry(key.clone())
                {
                    // Read and its form built once per version on the page, not once per run.
                    let found = state.app.catalog.get_version(name, version).await.ok();
                    let form = found.as_ref().map(|e| super::form::answers_form(&state, e));
                    slot.insert(found.zip(form));
                }
                entries.get(&key).and_then(Option::as_ref)
            }
            _ => None,
        };
        let title = match (&entry, &r.template) {
            (Some((e, _)), _) => e
                .parsed
                .template
                .title
                .clone()
                .unwrap_or_else(|| e.record.name.clone()),
            (None, Some(name)) => name.clone(),
            (None, None) => r.action.clone(),
        };
        if let Some(name) = &r.template {
            templates
                .entry(name.clone())
                .or_insert_with(|| title.clone());
        }
        if !status.is_empty() && r.status.as_str() != status {
            continue;
        }
        if !template.is_empty() && r.template.as_deref() != Some(template.as_str()) {
            continue;
        }
        let answers: Vec<(String, String)> = entry
            .as_ref()
            .map(|(_, form)| form.review(&r.input))
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .take(IDENTIFYING)
            .collect();
        let found = needle.is_empty()
            || title.to_lowercase().contains(&needle)
            || answers
                .iter()
                .any(|(_, v)| v.to_lowercase().contains(&needle));
        if !found {
            continue;
        }
        shown.push(json!({
            "id": r.id,
            "title": title,
            "answers": answers,
            "status": r.status.as_str(),
            "created_at": r.created_at,
        }));
    }
    let templates: Vec<(String, String)> = templates.into_iter().collect();
    render::page(
        &state,
        Some(&viewer),
        "runs.html",
        context! {
            runs => shown,
            templates,
            statuses => STATUSES,
            query => serde_urlencoded::to_string([("status", &status), ("template", &template), ("q", &words)]).unwrap_or_default(),
            status,
            template,
            q => words,
        },
    )
}
