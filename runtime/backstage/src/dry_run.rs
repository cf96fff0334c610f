//! `POST /v2/dry-run`: a template entity that is not in the catalog, with values, checked and
//! previewed as a run of it would be — each step's input rendered and its action's `plan()`
//! (or its capability's provider plan) asked — and nothing executed: a plan has no side
//! effects, so nothing outside the answer changes. Backstage runs the actions that support a
//! dry run; Lever asks every action what it would do instead (`docs/backstage.md`).

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lever_identity::Principal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Backstage;
use crate::error::Failure;

/// One file of the workspace the dry run starts with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DryRunFile {
    path: String,
    base64_content: String,
}

/// `POST /v2/dry-run`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DryRunBody {
    template: Value,
    values: Map<String, Value>,
    #[serde(default)]
    secrets: Option<Map<String, Value>>,
    directory_contents: Vec<DryRunFile>,
}

fn log(message: String, step: Option<&str>, status: Option<&str>) -> Value {
    let mut body = json!({"message": message});
    if let Some(step) = step {
        body["stepId"] = json!(step);
    }
    if let Some(status) = status {
        body["status"] = json!(status);
    }
    json!({"body": body})
}

/// A template's output rendered with what is known before a run: values that read steps'
/// outputs stay as written.
fn output(state: &Backstage, template: &Value, context: &Value) -> Value {
    match template {
        Value::String(s) if s.contains("steps.") || s.contains("steps[") => template.clone(),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), output(state, v, context)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| output(state, v, context)).collect())
        }
        other => state
            .services
            .catalog
            .expressions()
            .render(other, context)
            .unwrap_or_else(|_| other.clone()),
    }
}

pub(crate) async fn dry_run(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<DryRunBody>, JsonRejection>,
) -> Result<Response, Failure> {
    let Json(body) = body.map_err(|e| Failure::input(format!("Malformed request: {e}")))?;
    if body.template["kind"] != "Template" {
        return Err(Failure::input("Input template is not a template"));
    }
    // Checked as a task's are; a dry run renders no secret (its inputs are shown in its log).
    if let Err(refused) = crate::secrets::given(body.secrets, Some(&body.template)) {
        return Ok(*refused);
    }
    for file in &body.directory_contents {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&file.base64_content)
            .map_err(|e| {
                Failure::input(format!(
                    "directoryContents: `{}` is not base64: {e}",
                    file.path
                ))
            })?;
    }
    let source = serde_json::to_string(&body.template)
        .map_err(|e| Failure::input(format!("the template cannot be read: {e}")))?;
    let entry = state
        .services
        .catalog
        .draft(&source)
        .map_err(|e| Failure::input(format!("Input template is not a valid template: {e}")))?;
    let parameters = Value::Object(body.values);
    let preview = state
        .services
        .catalog
        .preview_entry(&entry, &parameters, &principal.id)
        .await?;
    if !preview.errors.is_empty() {
        let details = serde_json::to_value(&preview.errors).unwrap_or_default();
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(crate::tasks::validation_errors(Some(&details))),
        )
            .into_response());
    }
    let mut log_lines = vec![log(
        format!("Starting up task with {} steps", preview.steps.len()),
        None,
        None,
    )];
    for step in &preview.steps {
        let id = step.id.as_str();
        if step.status == "skipped" {
            log_lines.push(log(
                format!("Skipping step {id} because its if condition was false"),
                Some(id),
                Some("skipped"),
            ));
            continue;
        }
        log_lines.push(log(
            format!("Beginning step {}", step.name),
            Some(id),
            Some("processing"),
        ));
        log_lines.push(log(
            format!(
                "Running {} in dry-run mode with inputs: {}",
                step.action, step.input
            ),
            Some(id),
            None,
        ));
        if let Some(plan) = &step.plan {
            log_lines.push(log(
                format!(
                    "It would: {}",
                    serde_json::to_string(plan).unwrap_or_default()
                ),
                Some(id),
                None,
            ));
        }
        let failed = matches!(
            step.status,
            "missing-action" | "invalid-input" | "plan-failed"
        );
        if let Some(message) = &step.message {
            log_lines.push(log(message.clone(), Some(id), None));
        }
        log_lines.push(log(
            format!("Finished step {}", step.name),
            Some(id),
            Some(if failed { "failed" } else { "completed" }),
        ));
    }
    let context = lever_catalog::context(&preview.parameters, &principal.id);
    let steps: Vec<Value> = preview
        .steps
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "action": s.action}))
        .collect();
    let files: Vec<Value> = body
        .directory_contents
        .iter()
        // `base64Content` is what Backstage's client reads; its OpenAPI document asks for
        // `content` too.
        .map(|f| json!({"path": f.path, "base64Content": f.base64_content, "content": f.base64_content, "executable": false}))
        .collect();
    Ok(Json(json!({
        "log": log_lines,
        "steps": steps,
        "output": output(&state, &entry.parsed.template.output, &context),
        "directoryContents": files,
    }))
    .into_response())
}
