//! A Lever template run as a Backstage task: its status in Backstage's five words, its `spec`
//! (the template's steps, parameters, output, `templateInfo` and `user`), its times as ISO
//! strings, who created it as an entity ref.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lever_service::Services;
use lever_store::{RunRecord, RunStatus};
use serde_json::{Value, json};

use crate::error::Failure;

/// Backstage's task statuses and the Lever run statuses each stands for. A run waiting for a
/// timer, for approvers or for a person after a paused step is `processing` to Backstage: it
/// is under way, and its log says what it waits for.
pub(crate) const STATUSES: [(&str, &[RunStatus]); 5] = [
    ("open", &[RunStatus::Pending]),
    (
        "processing",
        &[
            RunStatus::Running,
            RunStatus::Waiting,
            RunStatus::AwaitingApproval,
            RunStatus::Paused,
            RunStatus::RollingBack,
        ],
    ),
    ("completed", &[RunStatus::Succeeded]),
    (
        "failed",
        &[
            RunStatus::Failed,
            RunStatus::RolledBack,
            RunStatus::RollbackFailed,
            RunStatus::Rejected,
        ],
    ),
    ("cancelled", &[RunStatus::Cancelled]),
];

/// The Backstage status of a run status.
pub(crate) fn status(status: RunStatus) -> &'static str {
    STATUSES
        .iter()
        .find(|(_, runs)| runs.contains(&status))
        .map(|(name, _)| *name)
        .unwrap_or("processing")
}

/// The entity ref Backstage names user `id` by.
pub(crate) fn user_ref(services: &Services, id: &str) -> String {
    services.identity.backstage_ref(id)
}

/// Milliseconds since the epoch as Backstage writes times: `2026-12-07T22:10:03.120Z`.
pub(crate) fn iso(ms: i64) -> String {
    let text = lever_identity::format_rfc3339(ms);
    // format_rfc3339 writes whole seconds; Backstage's times carry milliseconds.
    match text.strip_suffix('Z') {
        Some(seconds) => format!("{seconds}.{:03}Z", ms.rem_euclid(1000)),
        None => text,
    }
}

/// The template documents of the versions tasks were created from, parsed once each: a
/// version never changes once applied.
#[derive(Default)]
pub(crate) struct Documents {
    parsed: Mutex<HashMap<(String, i64), Arc<Value>>>,
}

impl Documents {
    /// The YAML document of template `name` at `version`, as JSON.
    pub(crate) async fn get(
        &self,
        services: &Services,
        name: &str,
        version: i64,
    ) -> Result<Arc<Value>, Failure> {
        let key = (name.to_string(), version);
        if let Some(found) = self.parsed.lock().expect("documents lock").get(&key) {
            return Ok(found.clone());
        }
        let entry = services.catalog.get_version(name, version).await?;
        let document: Value = serde_yaml::from_str(&entry.record.source)
            .map_err(|e| Failure::input(format!("template `{name}` is not valid YAML: {e}")))?;
        let document = Arc::new(document);
        self.parsed
            .lock()
            .expect("documents lock")
            .insert(key, document.clone());
        Ok(document)
    }

    /// The document of the template version template run `run` was submitted on; not a task
    /// when it is a single-action run.
    pub(crate) async fn of_run(
        &self,
        services: &Services,
        run: &RunRecord,
    ) -> Result<Arc<Value>, Failure> {
        let (Some(name), Some(version)) = (&run.template, run.template_version) else {
            return Err(not_a_task(&run.id));
        };
        self.get(services, name, version).await
    }
}

/// A template's steps as Backstage's task `spec` has them: a step without an `id` is
/// `step-N`, one without a `name` is named after its action.
pub(crate) fn steps(document: &Value) -> Vec<Value> {
    document["spec"]["steps"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let mut step = step.clone();
            let id = step["id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("step-{}", i + 1));
            let action = step["action"].clone();
            if let Some(fields) = step.as_object_mut() {
                fields.insert("id".into(), json!(id));
                fields.entry("name").or_insert(action);
            }
            step
        })
        .collect()
}

/// The run `id` as a task, when it is a template run.
pub(crate) async fn serialize(
    services: &Services,
    documents: &Documents,
    run: &RunRecord,
) -> Result<Value, Failure> {
    let document = documents.of_run(services, run).await?;
    let spec = &document["spec"];
    let steps = steps(&document);
    let user = user_ref(services, &run.requester);
    let namespace = document["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    Ok(json!({
        "id": run.id,
        "spec": {
            "apiVersion": document["apiVersion"],
            "steps": steps,
            "output": spec.get("output").cloned().unwrap_or_else(|| json!({})),
            "parameters": run.input,
            "user": {"ref": user},
            "templateInfo": {
                "entityRef": format!("template:{namespace}/{}", run.template.as_deref().unwrap_or_default()),
                "entity": {"metadata": document["metadata"]},
            },
        },
        "status": status(run.status),
        "createdAt": iso(run.created_at),
        "lastHeartbeatAt": iso(run.updated_at),
        "createdBy": user,
    }))
}

/// What Backstage answers for a task it does not have.
pub(crate) fn not_a_task(id: &str) -> Failure {
    Failure::not_found(format!("Task with id {id} does not exist"))
}
