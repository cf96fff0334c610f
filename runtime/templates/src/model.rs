//! The template model.

use serde::Serialize;
use serde_json::Value;

/// One form page: a JSON Schema object, `ui:*` keys and all.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The page title, when it has one.
    pub title: Option<String>,
    /// The schema, as written.
    pub schema: Value,
}

/// What to do when a step fails for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Stop and roll back completed steps (the default).
    Abort,
    /// Retry (with `retry`, or 3 attempts by default), then abort.
    Retry,
    /// Record the failure and carry on.
    Skip,
    /// Pause the run for a human to retry, skip or abort.
    Manual,
}

/// Retry policy of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// `true` for exponential backoff, `false` for constant.
    pub exponential: bool,
    /// First delay, in milliseconds.
    pub delay_ms: u64,
    /// Largest delay, in milliseconds.
    pub max_delay_ms: u64,
}

/// An action call: a rollback or a poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCall {
    /// Action name.
    pub action: String,
    /// Input, with expressions.
    pub input: Value,
}

/// Poll an action until it reports done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitFor {
    /// What to call.
    pub call: StepCall,
    /// Between polls, in milliseconds.
    pub interval_ms: u64,
    /// Give up after, in milliseconds.
    pub timeout_ms: u64,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Id, unique in the template (`step-N` when the YAML gives none).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Action: a plugin name, a Backstage id (`debug:log` means plugin `debug-log`), or a
    /// capability function.
    pub action: String,
    /// Input, with expressions.
    pub input: Value,
    /// `if`: the step runs when this is truthy.
    #[serde(rename = "if")]
    pub condition: Option<Value>,
    /// `each`: the step runs once per item.
    pub each: Option<Value>,
    /// Failure policy.
    pub on_failure: OnFailure,
    /// Retry policy.
    pub retry: Option<Retry>,
    /// Deadline of one attempt, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// How to undo the step.
    pub rollback: Option<StepCall>,
    /// Steps that must finish first.
    pub needs: Vec<String>,
    /// Poll after the step until done.
    pub wait_for: Option<WaitFor>,
    /// `approval: required` gates the step.
    pub approval_required: bool,
}

/// A parsed template.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// `metadata.annotations` with string values (`lever.dev/baseline`: the time this took
    /// before Lever, for the insights).
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.title`.
    pub title: Option<String>,
    /// `metadata.description`.
    pub description: Option<String>,
    /// `metadata.tags`.
    pub tags: Vec<String>,
    /// `spec.owner`.
    pub owner: Option<String>,
    /// `spec.type`.
    #[serde(rename = "type")]
    pub template_type: Option<String>,
    /// Form pages.
    pub pages: Vec<Page>,
    /// Steps, in file order.
    pub steps: Vec<Step>,
    /// `spec.output`, with expressions.
    pub output: Value,
}

/// The plugin reference an action names: Backstage ids map to plugin names by turning `:`,
/// `.` and `_` into `-` (`debug:log` → `debug-log`); `@version` is kept.
pub fn plugin_reference(action: &str) -> String {
    let (name, version) = match action.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (action, None),
    };
    let name: String = name
        .chars()
        .map(|c| {
            if matches!(c, ':' | '.' | '_') {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    match version {
        Some(v) => format!("{name}@{v}"),
        None => name,
    }
}
