//! `POST /v2/dry-run`: a template entity that is not in the catalog, with values, checked as a
//! run of it would be, then run in a throwaway workspace holding `directoryContents`
//! (`lever_catalog`'s dry run): the steps that can touch nothing outside it run, the others
//! say what they would do; the answer is the log, the output and the workspace's files.

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
    let mut given = Vec::new();
    for file in &body.directory_contents {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&file.base64_content)
            .map_err(|e| {
                Failure::input(format!(
                    "directoryContents: `{}` is not base64: {e}",
                    file.path
                ))
            })?;
        given.push((file.path.clone(), bytes));
    }
    let source = serde_json::to_string(&body.template)
        .map_err(|e| Failure::input(format!("the template cannot be read: {e}")))?;
    let entry = state
        .services
        .catalog
        .draft(
            &source,
            &given
                .iter()
                .map(|(path, _)| path.clone())
                .collect::<Vec<_>>(),
        )
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
    let done = state
        .services
        .catalog
        .dry_run(&entry, &preview, &principal.id, &given)
        .await?;
    let mut log_lines = vec![log(
        format!("Starting up task with {} steps", done.steps.len()),
        None,
        None,
    )];
    for step in &done.steps {
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
        let how = if step.status == "planned" {
            "Not run: it acts outside the dry run's workspace. Its inputs"
        } else {
            "Running in dry-run mode with inputs"
        };
        log_lines.push(log(
            format!("{} — {how}: {}", step.action, step.input),
            Some(id),
            None,
        ));
        for line in &step.log {
            log_lines.push(log(line.clone(), Some(id), None));
        }
        log_lines.push(log(
            format!("Finished step {}", step.name),
            Some(id),
            Some(if step.status == "failed" {
                "failed"
            } else {
                "completed"
            }),
        ));
    }
    let steps: Vec<Value> = done
        .steps
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "action": s.action}))
        .collect();
    let files: Vec<Value> = done
        .files
        .iter()
        .map(|f| {
            use base64::Engine;
            let content = base64::engine::general_purpose::STANDARD.encode(&f.bytes);
            // `base64Content` is what Backstage's client reads; its OpenAPI document asks for
            // `content` too.
            json!({"path": f.path, "base64Content": content, "content": content, "executable": f.executable})
        })
        .collect();
    Ok(Json(json!({
        "log": log_lines,
        "steps": steps,
        // Backstage's `output` is an object: a template without one answers `{}`.
        "output": if done.output.is_object() { done.output } else { json!({}) },
        "directoryContents": files,
    }))
    .into_response())
}
