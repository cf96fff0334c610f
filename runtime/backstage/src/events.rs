//! A run's events as Backstage task events: `log` events with `stepId` and `status` as
//! Backstage's workflow runner writes them ("Beginning step …", "Finished step …"), the
//! step's log lines, and one `completion` with `output` or `error` at the end; what Backstage
//! has no word for — an approval wait, a rollback, a durable wait, a retry — said in a `log`
//! line on the step it concerns. Ids are Lever's event ids, so they increase and a client
//! resumes with `after=`. Only `log`, `completion` and (on a retry) `recovered`, the types
//! Backstage's own frontend handles.

use lever_store::{EventRecord, RunRecord, RunStatus};
use serde_json::{Map, Value, json};

use crate::task::iso;

/// What the translation needs to know of the run besides its events.
pub(crate) struct Run<'a> {
    /// The run.
    pub record: &'a RunRecord,
    /// Each step's id and name, in order.
    pub steps: &'a [(String, String)],
    /// Where a person decides a stage or resolves a paused step: the run's page in Lever.
    pub page: &'a str,
}

impl Run<'_> {
    fn name(&self, step: &str) -> String {
        self.steps
            .iter()
            .find(|(id, _)| id == step)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| step.to_string())
    }
}

/// The Backstage events of `events` (every event of the run, oldest first) with an id after
/// `after`, and the completion whenever the run has one: Backstage always sends it. A
/// completion a retry superseded is left out, as Backstage deletes it.
pub(crate) fn translate(run: &Run<'_>, events: &[EventRecord], after: i64) -> Vec<Value> {
    let last_retry = last_retry(events);
    let mut out = Vec::new();
    for event in events {
        let completion = event.kind == "run-finished";
        if completion && event.id < last_retry {
            continue;
        }
        if event.id <= after && !completion {
            continue;
        }
        for (kind, body) in bodies(run, event) {
            out.push(json!({
                "id": event.id,
                "taskId": run.record.id,
                "body": body,
                "type": kind,
                "createdAt": iso(event.at_ms),
                "isTaskRecoverable": false,
            }));
        }
    }
    // A run that ended without a `run-finished` (refused at its gate) still completes.
    if run.record.status.is_final() && !finished_since_retry(events) {
        let id = events.last().map(|e| e.id).unwrap_or(0);
        out.push(json!({
            "id": id,
            "taskId": run.record.id,
            "body": completion_body(run.record),
            "type": "completion",
            "createdAt": iso(run.record.updated_at),
            "isTaskRecoverable": false,
        }));
    }
    out
}

/// The id of the run's last retry (0: none): the events before it are of an earlier attempt.
fn last_retry(events: &[EventRecord]) -> i64 {
    events
        .iter()
        .filter(|e| e.kind == "run-retried")
        .map(|e| e.id)
        .max()
        .unwrap_or(0)
}

/// Whether `events` hold the run's `run-finished` of its last attempt.
pub(crate) fn finished_since_retry(events: &[EventRecord]) -> bool {
    let last_retry = last_retry(events);
    events
        .iter()
        .any(|e| e.kind == "run-finished" && e.id > last_retry)
}

/// The strings of a JSON list (none when it is not one).
fn strings(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

fn log(message: String, step: Option<&str>, status: Option<&str>) -> (&'static str, Value) {
    let mut body = Map::new();
    body.insert("message".into(), json!(message));
    if let Some(step) = step {
        body.insert("stepId".into(), json!(step));
    }
    if let Some(status) = status {
        body.insert("status".into(), json!(status));
    }
    ("log", Value::Object(body))
}

fn error_message(data: &Value) -> String {
    let error = &data["error"];
    error["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string())
}

/// The Backstage events one Lever event stands for (most stand for one, some for none).
fn bodies(run: &Run<'_>, event: &EventRecord) -> Vec<(&'static str, Value)> {
    let step = event.step_id.as_deref();
    let name = step.map(|s| run.name(s)).unwrap_or_default();
    let data = &event.data;
    match event.kind.as_str() {
        "pinned" => vec![log(
            format!("Starting up task with {} steps", run.steps.len()),
            None,
            None,
        )],
        "step-started" => {
            let attempt = data["attempt"].as_i64().unwrap_or(1);
            let message = if attempt > 1 {
                format!("Beginning step {name} (attempt {attempt})")
            } else {
                format!("Beginning step {name}")
            };
            vec![log(message, step, Some("processing"))]
        }
        "log" => strings(&data["lines"])
            .into_iter()
            .map(|line| log(line.to_string(), step, None))
            .collect(),
        "progress" => vec![log(
            format!(
                "{}% {}",
                data["percent"].as_u64().unwrap_or(0),
                data["message"].as_str().unwrap_or("")
            )
            .trim()
            .to_string(),
            step,
            None,
        )],
        "step-succeeded" => vec![log(
            format!("Finished step {name}"),
            step,
            Some("completed"),
        )],
        "step-skipped" => {
            let why = if data.get("error").is_some() {
                format!(
                    "it failed and the template allows skipping it: {}",
                    error_message(data)
                )
            } else {
                data["reason"]
                    .as_str()
                    .unwrap_or("the template says so")
                    .to_string()
            };
            vec![log(
                format!("Skipping step {name} because {why}"),
                step,
                Some("skipped"),
            )]
        }
        "step-failed" => vec![log(error_message(data), step, Some("failed"))],
        "retrying" => vec![log(
            format!(
                "Step {name} failed at attempt {} ({}); retrying in {} ms, attempt {} — Lever waits without holding a worker",
                data["attempt"],
                error_message(data),
                data["delay_ms"],
                data["next_attempt"]
            ),
            step,
            None,
        )],
        "step-polling" => vec![log(
            format!(
                "Step {name} is waiting for {} to be ready; Lever checks again later without holding a worker",
                data["action"].as_str().unwrap_or("its condition")
            ),
            step,
            None,
        )],
        "stage-opened" => {
            let groups = strings(&data["groups"]);
            let reasons = strings(&data["reasons"]);
            let why = if reasons.is_empty() {
                String::new()
            } else {
                format!(" Why: {}.", reasons.join("; "))
            };
            vec![log(
                format!(
                    "Waiting for approval ({}): {} approval{} from {} needed.{why} Approve or reject at {}",
                    data["stage"].as_str().unwrap_or("approval"),
                    data["required"].as_i64().unwrap_or(1),
                    if data["required"].as_i64().unwrap_or(1) == 1 {
                        ""
                    } else {
                        "s"
                    },
                    groups.join(", "),
                    run.page
                ),
                step,
                None,
            )]
        }
        "stage-decided" => {
            let decided = if data["decision"] == "approve" {
                "approved"
            } else {
                "rejected"
            };
            let comment = data["comment"].as_str().unwrap_or("").trim();
            vec![log(
                format!(
                    "{} {decided} stage {}{}",
                    data["approver"].as_str().unwrap_or("someone"),
                    data["stage"].as_str().unwrap_or(""),
                    if comment.is_empty() {
                        String::new()
                    } else {
                        format!(": {comment}")
                    }
                ),
                step,
                None,
            )]
        }
        "run-paused" => vec![log(
            format!(
                "Step {name} failed and waits for a person to retry or skip it at {}: {}",
                run.page,
                error_message(data)
            ),
            step,
            None,
        )],
        "step-retry-requested" => vec![log(
            format!("Step {name} will run again, as asked"),
            step,
            None,
        )],
        "rollback-started" => vec![log(
            format!(
                "Rolling back step {name}{}",
                data["action"]
                    .as_str()
                    .map(|a| format!(" with {a}"))
                    .unwrap_or_default()
            ),
            step,
            None,
        )],
        "rolled-back" => vec![log(format!("Rolled back step {name}"), step, None)],
        "rollback-failed" => vec![log(
            format!(
                "Rolling back step {name} failed, something is left behind: {}",
                error_message(data)
            ),
            step,
            None,
        )],
        "rollback-kept" => vec![log(
            format!("Step {name} is kept: the template says not to undo it"),
            step,
            None,
        )],
        "cancel-requested" => vec![log(
            "Cancelling: the task stops at its next step boundary and rolls back what it did"
                .into(),
            None,
            None,
        )],
        "run-aborted" => vec![log(
            "Aborted: Lever rolls back the completed steps".into(),
            None,
            None,
        )],
        "run-retried" => vec![(
            "recovered",
            json!({
                "message": "Retrying from the failed step: the steps that succeeded and were not rolled back are kept",
                "recoverStrategy": "lever-step-retry",
            }),
        )],
        "run-finished" => vec![("completion", completion_body(run.record))],
        other => vec![log(other.replace('-', " "), step, None)],
    }
}

/// A completion's body: Backstage's message, with the output, or the error a failed run has.
fn completion_body(run: &RunRecord) -> Value {
    let status = crate::task::status(run.status);
    let mut body = json!({"message": format!("Run completed with status: {status}")});
    if run.status == RunStatus::Succeeded {
        body["output"] = run.output.clone().unwrap_or_else(|| json!({}));
    } else {
        let message = run
            .error
            .as_ref()
            .and_then(|e| e["message"].as_str())
            .unwrap_or("the run did not complete")
            .to_string();
        body["error"] = json!({"name": "Error", "message": message});
    }
    body
}
