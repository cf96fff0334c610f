//! A template's form: one page per `spec.parameters` page and a review, checked on every
//! change by the server's one validator and previewed beside it (steps, plans, cost, the
//! approval route); submitting starts the run (or, from an earlier run, resubmits it).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use lever_service::runs::{self, Submission};
use lever_service::{Kind, ServiceError};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{checked_form, field};
use crate::fields::{Directory, FormModel};
use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// Query of the form page.
#[derive(Debug, Deserialize)]
pub(crate) struct FormQuery {
    /// Pre-fill from this run's parameters; submitting resubmits it.
    from: Option<String>,
    /// Any other key that names a field of the form pre-fills it (the Resources page opens a
    /// day-2 action with the resource's `name` and `environment`).
    #[serde(flatten)]
    values: BTreeMap<String, String>,
}

/// The host of the bound git provider (`https://api.github.com` → `github.com`).
fn git_host(state: &WebState) -> Option<String> {
    let binding = state
        .app
        .catalog
        .capabilities()
        .bindings()
        .get("git-provider")?;
    let url = binding.settings.get("base_url")?.as_str()?;
    let host = url.split("://").nth(1).unwrap_or(url).split('/').next()?;
    Some(host.strip_prefix("api.").unwrap_or(host).to_string())
}

async fn entry_for(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
) -> Result<std::sync::Arc<lever_catalog::Entry>, WebError> {
    let entry = state
        .app
        .catalog
        .get(name)
        .await
        .map_err(ServiceError::from)?;
    let t = &entry.parsed.template;
    if !viewer
        .principal
        .can_run(t.owner.as_deref().unwrap_or(""), &t.tags)
    {
        return Err(WebError::Forbidden(format!(
            "{} may not run template `{name}` (owner {}); ask its owners for access",
            viewer.principal.id,
            t.owner.as_deref().unwrap_or("none")
        )));
    }
    Ok(entry)
}

async fn model(state: &WebState, entry: &lever_catalog::Entry, values: &Value) -> FormModel {
    let directory = Directory {
        config: state.app.identity.config(),
        git_host: git_host(state),
        registered: state
            .app
            .store
            .registered_entities(200)
            .await
            .unwrap_or_default(),
    };
    FormModel::new(
        &entry.form.pages().cloned().collect::<Vec<_>>(),
        &entry.record.source,
        &directory,
        values,
    )
}

/// The form of `entry` for reading answers back ([`FormModel::review`]): labels from the
/// identity config; entities registered by runs read as their refs.
pub(crate) fn answers_form(state: &WebState, entry: &lever_catalog::Entry) -> FormModel {
    let directory = Directory {
        config: state.app.identity.config(),
        git_host: git_host(state),
        registered: Vec::new(),
    };
    FormModel::new(
        &entry.form.pages().cloned().collect::<Vec<_>>(),
        &entry.record.source,
        &directory,
        &json!({}),
    )
}

/// What a run of `entry` was asked for, as its form's review listed it: (field title, shown
/// value) in form order, an option read as its label, secrets masked. The run page opens with
/// it and the approval cards list it.
pub(crate) fn asked(
    state: &WebState,
    entry: &lever_catalog::Entry,
    values: &Value,
) -> Vec<(String, String)> {
    answers_form(state, entry).review(values)
}

/// Owner fields start as the signed-in user's team.
fn initial_values(entry: &lever_catalog::Entry, viewer: &Viewer) -> Value {
    let mut values = serde_json::Map::new();
    if let Some(team) = &viewer.principal.team {
        for page in &entry.parsed.template.pages {
            for (name, property) in page
                .schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if property.get("default").is_some() {
                    continue;
                }
                match property.get("ui:field").and_then(Value::as_str) {
                    Some("OwnerPicker") => {
                        values.insert(name.clone(), json!(format!("group:default/{team}")));
                    }
                    None if name == "owner" => {
                        values.insert(name.clone(), json!(team));
                    }
                    _ => {}
                }
            }
        }
    }
    entry.form.with_defaults(&Value::Object(values))
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &WebState,
    viewer: &Viewer,
    entry: &lever_catalog::Entry,
    values: &Value,
    errors: BTreeMap<String, String>,
    from_run: Option<String>,
    form_error: Option<String>,
) -> Result<Html<String>, WebError> {
    let form = model(state, entry, values).await;
    let active = form.active(values);
    let t = &entry.parsed.template;
    let availability = state
        .app
        .catalog
        .availability(entry)
        .await
        .map_err(ServiceError::from)?;
    render::page(
        state,
        Some(viewer),
        "form.html",
        context! {
            name => t.name,
            title => t.title.clone().unwrap_or_else(|| t.name.clone()),
            description => t.description,
            form => minijinja::Value::from_serialize(&form),
            active,
            errors,
            from_run,
            form_error,
            idempotency_key => crate::session::random_token(),
            t => context! { availability },
        },
    )
}

/// `GET /templates/{name}[?from=RUN]`.
pub(crate) async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<FormQuery>,
) -> Result<Html<String>, WebError> {
    let entry = entry_for(&state, &viewer, &name).await?;
    let values = match &query.from {
        Some(run_id) => {
            let run = runs::may_control(&state.app, &viewer.principal, run_id).await?;
            run.input
        }
        None => {
            let mut values = initial_values(&entry, &viewer);
            for (key, value) in &query.values {
                let known = entry.parsed.template.pages.iter().any(|page| {
                    page.schema
                        .get("properties")
                        .and_then(|p| p.get(key))
                        .is_some()
                });
                if known && let Some(object) = values.as_object_mut() {
                    object.insert(key.clone(), json!(value));
                }
            }
            values
        }
    };
    form_page(
        &state,
        &viewer,
        &entry,
        &values,
        BTreeMap::new(),
        query.from,
        None,
    )
    .await
}

/// The errors shown under their fields: those of fields that have a value (an empty field
/// not reached yet is listed in the review, and by Next, instead of shouting from the first
/// page).
fn field_errors(
    form: &FormModel,
    parameters: &Value,
    errors: &[lever_templates::FieldError],
) -> BTreeMap<String, String> {
    let mut by_field = BTreeMap::new();
    let names: Vec<&str> = form
        .pages
        .iter()
        .flat_map(|p| p.fields.iter().map(|f| f.name.as_str()))
        .collect();
    for e in errors {
        let has_value = e
            .field
            .split('.')
            .try_fold(parameters, |v, k| v.get(k))
            .is_some();
        if names.contains(&e.field.as_str()) && has_value {
            by_field
                .entry(e.field.clone())
                .or_insert_with(|| e.message.clone());
        }
    }
    by_field
}

/// `POST /templates/{name}/check` (htmx, on every change): the preview, and out of band the
/// field errors, the review and the submit button's label.
pub(crate) async fn check(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Html<String>, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let entry = entry_for(&state, &viewer, &name).await?;
    let form = model(&state, &entry, &json!({})).await;
    let submitted = form.parameters(&pairs);
    let (preview, _) =
        lever_service::templates::route(&state.app, &viewer.principal, &name, &submitted).await?;
    let errors = field_errors(&form, &preview.parameters, &preview.errors);
    let review = form.review(&preview.parameters);
    let approval = preview.approval.clone().unwrap_or(Value::Null);
    let route = approval["route"]
        .as_str()
        .unwrap_or("automatic")
        .to_string();
    let stages = lever_service::templates::approvers(&state.app, &preview, &viewer.principal.id);
    let mut approvers: Vec<String> = stages.iter().flat_map(|s| s.people.clone()).collect();
    approvers.sort();
    approvers.dedup();
    let nobody: Vec<String> = stages
        .iter()
        .filter(|s| s.nobody_else)
        .map(|s| s.stage.replace('-', " "))
        .collect();
    let escalated = stages.iter().any(|s| s.escalated);
    let fields: Vec<_> = form
        .pages
        .iter()
        .flat_map(|p| p.fields.iter())
        .map(|f| json!({"id": f.id, "name": f.name}))
        .collect();
    let active = form.active(&preview.parameters);
    // Every error, for the review's list (each a link to its field and page) and for Next,
    // which will not leave a page with one of its fields in it.
    let problems: Vec<Value> = preview
        .errors
        .iter()
        .map(|e| match form.locate(&e.field) {
            Some((page, id, title)) => {
                json!({"page": page, "id": id, "field": e.field, "title": title, "message": e.message})
            }
            None => json!({"page": null, "id": null, "field": e.field, "title": e.field, "message": e.message}),
        })
        .collect();
    Ok(Html(render::fragment(
        &state,
        Some(&viewer),
        "form_check.html",
        context! {
            preview => minijinja::Value::from_serialize(&preview),
            errors,
            problems,
            review,
            route,
            approvers => approvers.join(", "),
            stage_people => minijinja::Value::from_serialize(&stages),
            nobody,
            escalated,
            fields,
            active,
        },
    )?))
}

/// `POST /templates/{name}/submit`: starts the run and shows its page; a form with errors
/// comes back with them (422).
pub(crate) async fn submit(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let entry = entry_for(&state, &viewer, &name).await?;
    let form = model(&state, &entry, &json!({})).await;
    let parameters = form.parameters(&pairs);
    let from_run = field(&pairs, "from_run").map(str::to_string);
    let outcome = match &from_run {
        Some(old) => runs::resubmit(&state.app, &viewer.principal, old, parameters.clone())
            .await
            .map(|run| run.id),
        None => runs::submit_template(
            &state.app,
            &viewer.principal,
            &name,
            parameters.clone(),
            Submission {
                environment: "dev".into(),
                idempotency_key: field(&pairs, "idempotency_key").map(str::to_string),
                secrets: Default::default(),
            },
        )
        .await
        .map(|submitted| submitted.run.id),
    };
    match outcome {
        Ok(id) => Ok(Redirect::to(&format!("/runs/{id}")).into_response()),
        Err(e) if e.kind == Kind::Invalid && e.details.is_some() => {
            let filled = entry.form.with_defaults(&parameters);
            let errors: Vec<lever_templates::FieldError> = entry.form.validate(&filled);
            let by_field = field_errors(&form, &filled, &errors);
            let html = form_page(
                &state,
                &viewer,
                &entry,
                &filled,
                by_field,
                from_run,
                Some(e.message.clone()),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        // A resource another team owns (or one Lever did not create): the form again, saying
        // whose it is, so the person can choose another name.
        Err(e) if e.kind == Kind::Conflict => {
            let filled = entry.form.with_defaults(&parameters);
            let html = form_page(
                &state,
                &viewer,
                &entry,
                &filled,
                BTreeMap::new(),
                from_run,
                Some(e.message.clone()),
            )
            .await?;
            Ok((StatusCode::CONFLICT, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
