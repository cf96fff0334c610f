//! `GET /v2/templates/{namespace}/{kind}/{name}/parameter-schema`, `GET /v2/actions` and
//! `GET /v2/templating-extensions`: what Backstage's form and editor read before a run.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::portal_templates;
use serde_json::{Map, Value, json};

use crate::Backstage;
use crate::error::Failure;

/// The template's parameter pages as Backstage's form reads them: one step per page, its
/// `when` apart, the template's `presentation`, `ui:options` and `formDecorators`.
pub(crate) fn parameter_schema(document: &Value) -> Value {
    let metadata = &document["metadata"];
    let spec = &document["spec"];
    let pages: Vec<Value> = match &spec["parameters"] {
        Value::Array(pages) => pages.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    };
    let steps: Vec<Value> = pages
        .into_iter()
        .map(|page| {
            let mut schema = page.as_object().cloned().unwrap_or_default();
            let when = schema.remove("when");
            let mut step = Map::new();
            step.insert(
                "title".into(),
                schema
                    .get("title")
                    .cloned()
                    .unwrap_or_else(|| json!("Please enter the following information")),
            );
            if let Some(description) = schema.get("description") {
                step.insert("description".into(), description.clone());
            }
            if let Some(when) = when.filter(|w| w.is_string() || w.is_boolean()) {
                step.insert("when".into(), when);
            }
            step.insert("schema".into(), Value::Object(schema));
            Value::Object(step)
        })
        .collect();
    let mut answer = Map::new();
    answer.insert(
        "title".into(),
        metadata
            .get("title")
            .cloned()
            .unwrap_or_else(|| metadata["name"].clone()),
    );
    if let Some(presentation) = spec.get("presentation") {
        answer.insert("presentation".into(), presentation.clone());
    }
    for (key, value) in [
        ("description", metadata.get("description")),
        ("ui:options", metadata.get("ui:options")),
        (
            "formDecorators",
            spec.get("formDecorators")
                .or_else(|| spec.get("EXPERIMENTAL_formDecorators")),
        ),
    ] {
        if let Some(value) = value {
            answer.insert(key.into(), value.clone());
        }
    }
    answer.insert("steps".into(), Value::Array(steps));
    Value::Object(answer)
}

pub(crate) async fn parameter_schema_route(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, Failure> {
    let name = crate::tasks::template_name(&format!("{kind}:{namespace}/{name}"))?;
    // The portal's template, read as the caller, when templates are read from its catalog.
    if let Some(portal) = portal_templates::Portal::of(&state.services) {
        let entity = portal
            .entity(&principal, crate::bearer(&headers), "default", &name)
            .await?;
        let document = portal_templates::document(&entity);
        let template = portal_templates::template(&document)?;
        refuse_unrunnable(&principal, &name, template.owner.as_deref(), &template.tags)?;
        return Ok(Json(parameter_schema(&document)));
    }
    let entry = state.services.catalog.get(&name).await?;
    let template = &entry.parsed.template;
    refuse_unrunnable(&principal, &name, template.owner.as_deref(), &template.tags)?;
    let document = state
        .documents
        .get(&state.services, &name, entry.record.version)
        .await?;
    Ok(Json(parameter_schema(&document)))
}

/// 403 unless `principal` may run template `name` of `owner` with `tags`.
fn refuse_unrunnable(
    principal: &Principal,
    name: &str,
    owner: Option<&str>,
    tags: &[String],
) -> Result<(), Failure> {
    if principal.can_run(owner.unwrap_or(""), tags) {
        return Ok(());
    }
    Err(Failure::new(
        StatusCode::FORBIDDEN,
        format!(
            "{} may not run template {name}; ask its owners for access",
            principal.id
        ),
    ))
}

/// Every published action, by id, with its input and output JSON Schema as its `describe`
/// declares them; adapters are not actions and are left out.
pub(crate) async fn actions(State(state): State<Backstage>) -> Result<Json<Value>, Failure> {
    let records = state.services.registry.list().await?;
    // The list holds every version; the newest published of each name is the one a template
    // runs.
    let mut newest: std::collections::BTreeMap<String, &lever_store::PluginRecord> =
        std::collections::BTreeMap::new();
    for record in &records {
        if record.manifest.kind != lever_plugin::PluginKind::Action {
            continue;
        }
        let keep = newest
            .get(&record.name)
            .is_none_or(|kept| kept.published_at <= record.published_at);
        if keep {
            newest.insert(record.name.clone(), record);
        }
    }
    let actions: Vec<Value> = newest
        .values()
        .map(|record| {
            json!({
                "id": record.name,
                "description": record.manifest.description,
                "examples": [],
                "schema": {
                    "input": record.manifest.input_schema,
                    "output": record.manifest.output_schema,
                },
            })
        })
        .collect();
    Ok(Json(Value::Array(actions)))
}

/// Lever's nunjucks filters; it adds no globals.
pub(crate) async fn templating_extensions() -> Json<Value> {
    let filters: Map<String, Value> = lever_nunjucks::FILTERS
        .iter()
        .map(|(name, description, example)| {
            (
                name.to_string(),
                json!({
                    "description": description,
                    "examples": [{"example": example}],
                }),
            )
        })
        .collect();
    Json(json!({
        "filters": filters,
        "globals": {"functions": {}, "values": {}},
    }))
}
