//! YAML or JSON text to a [`Template`], with warnings for unknown fields and errors with lines.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Expressions;
use crate::model::{OnFailure, Page, Retry, Step, StepCall, Template, WaitFor};

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct TemplateError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A field Lever does not know: kept, not fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    /// Where, as a dotted path (`spec.steps[1].foo`).
    pub path: String,
    /// What was ignored.
    pub message: String,
}

/// A template and the warnings its text produced.
#[derive(Debug, Clone, Serialize)]
pub struct Parsed {
    /// The template.
    pub template: Template,
    /// Unknown fields.
    pub warnings: Vec<Warning>,
}

struct Parser<'a> {
    text: &'a str,
    warnings: Vec<Warning>,
}

const TOP: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA: &[&str] = &[
    "name",
    "title",
    "description",
    "tags",
    "namespace",
    "annotations",
    "labels",
    "links",
    "uid",
    "etag",
];
const SPEC: &[&str] = &[
    "owner",
    "type",
    "parameters",
    "steps",
    "output",
    "lifecycle",
    "presentation",
    "EXPERIMENTAL_formDecorators",
    "EXPERIMENTAL_recovery",
    "recovery",
];
const STEP: &[&str] = &[
    "id",
    "name",
    "action",
    "input",
    "if",
    "each",
    "backstage:permissions",
    "onFailure",
    "retry",
    "timeout",
    "rollback",
    "needs",
    "waitFor",
    "approval",
];

/// Parses a template from YAML (or JSON, which is YAML).
pub fn parse(text: &str) -> Result<Parsed, TemplateError> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| TemplateError {
        // The YAML parser places an error found at the end of the text on the line after the
        // last one; the person is pointed at the last line they wrote instead.
        line: e
            .location()
            .map(|l| l.line().min(text.lines().count().max(1))),
        message: format!("not valid YAML: {e}"),
    })?;
    let doc: Value = serde_json::to_value(yaml).map_err(|e| TemplateError {
        line: None,
        message: format!("the document cannot be read as JSON data: {e}"),
    })?;
    let mut parser = Parser {
        text,
        warnings: Vec::new(),
    };
    let template = parser.template(&doc)?;
    Ok(Parsed {
        template,
        warnings: parser.warnings,
    })
}

impl Parser<'_> {
    /// The 1-based line where `needle` first appears at the start of a line's content.
    fn line_of(&self, needle: &str) -> Option<usize> {
        self.text
            .lines()
            .position(|l| l.trim_start().trim_start_matches("- ").starts_with(needle))
            .map(|i| i + 1)
    }

    fn error(&self, near: Option<&str>, message: impl Into<String>) -> TemplateError {
        TemplateError {
            line: near.and_then(|n| self.line_of(n)),
            message: message.into(),
        }
    }

    fn unknown(&mut self, path: &str, object: &Map<String, Value>, known: &[&str]) {
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            self.warnings.push(Warning {
                path: format!("{path}.{key}"),
                message: format!("`{key}` is not a field Lever knows at {path}; it is ignored"),
            });
        }
    }

    fn template(&mut self, doc: &Value) -> Result<Template, TemplateError> {
        let top = doc.as_object().ok_or_else(|| {
            self.error(
                None,
                "a template is a mapping with apiVersion, kind, metadata and spec",
            )
        })?;
        self.unknown("", top, TOP);
        match top.get("apiVersion").and_then(Value::as_str) {
            Some("scaffolder.backstage.io/v1beta3") => {}
            other => {
                return Err(self.error(
                    Some("apiVersion"),
                    format!(
                        "apiVersion must be scaffolder.backstage.io/v1beta3, not {}",
                        other.map(|s| format!("`{s}`")).unwrap_or("missing".into())
                    ),
                ));
            }
        }
        if top.get("kind").and_then(Value::as_str) != Some("Template") {
            return Err(self.error(Some("kind"), "kind must be Template"));
        }
        let metadata = top
            .get("metadata")
            .and_then(Value::as_object)
            .ok_or_else(|| self.error(None, "metadata is missing"))?;
        self.unknown("metadata", metadata, METADATA);
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.error(Some("metadata"), "metadata.name is missing"))?
            .to_string();
        let valid_name = name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && name.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_name {
            return Err(self.error(
                Some("name:"),
                format!("metadata.name `{name}` must be 1 to 63 letters, digits, '-', '_' or '.'"),
            ));
        }
        let spec = top
            .get("spec")
            .and_then(Value::as_object)
            .ok_or_else(|| self.error(None, "spec is missing"))?;
        self.unknown("spec", spec, SPEC);
        let text =
            |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let tags = metadata
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let annotations = metadata
            .get("annotations")
            .and_then(Value::as_object)
            .map(|a| {
                a.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let pages = self.pages(spec.get("parameters"))?;
        // Backstage's task recovery (`EXPERIMENTAL_recovery`, `recovery`) re-runs a task an
        // interrupted backend left; Lever resumes every run anyway, and reads the template's
        // wish to recover as a retry policy for the steps that name none.
        let recovery = spec.contains_key("EXPERIMENTAL_recovery") || spec.contains_key("recovery");
        let steps = self.steps(spec.get("steps"), recovery)?;
        let output = spec.get("output").cloned().unwrap_or(Value::Null);
        self.check_expressions(&steps, &output)?;
        Ok(Template {
            name,
            annotations,
            title: text(metadata, "title"),
            description: text(metadata, "description"),
            tags,
            owner: text(spec, "owner"),
            template_type: text(spec, "type"),
            pages,
            steps,
            output,
        })
    }

    /// Parses every expression of the steps and the output, so that a syntax error is
    /// refused at apply with its place, line and text, not found by a run.
    fn check_expressions(&self, steps: &[Step], output: &Value) -> Result<(), TemplateError> {
        let expressions = Expressions::new();
        let mut places: Vec<(String, &Value)> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let at = format!("spec.steps[{i}] (`{}`)", step.id);
            places.push((format!("{at}.input"), &step.input));
            if let Some(c) = &step.condition {
                places.push((format!("{at}.if"), c));
            }
            if let Some(e) = &step.each {
                places.push((format!("{at}.each"), e));
            }
            if let Some(r) = &step.rollback {
                places.push((format!("{at}.rollback.input"), &r.input));
            }
            if let Some(w) = &step.wait_for {
                places.push((format!("{at}.waitFor.input"), &w.call.input));
            }
        }
        places.push(("spec.output".into(), output));
        for (place, value) in places {
            if let Err(e) = expressions.check(value) {
                return Err(TemplateError {
                    line: e.line_in(self.text),
                    message: format!(
                        "{place}: the expression `{}` does not parse: {} (expressions are nunjucks as Backstage writes them, read by minijinja: see docs/backstage.md)",
                        e.expression, e.message
                    ),
                });
            }
        }
        Ok(())
    }

    fn pages(&mut self, parameters: Option<&Value>) -> Result<Vec<Page>, TemplateError> {
        let list = match parameters {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(pages)) => pages.clone(),
            Some(page @ Value::Object(_)) => vec![page.clone()],
            Some(_) => {
                return Err(self.error(
                    Some("parameters"),
                    "spec.parameters must be a JSON Schema object or a list of them",
                ));
            }
        };
        list.into_iter()
            .enumerate()
            .map(|(i, schema)| match &schema {
                Value::Object(o) => Ok(Page {
                    title: o.get("title").and_then(Value::as_str).map(str::to_string),
                    schema,
                }),
                _ => Err(self.error(
                    Some("parameters"),
                    format!("spec.parameters[{i}] must be a JSON Schema object"),
                )),
            })
            .collect()
    }

    fn steps(&mut self, steps: Option<&Value>, recovery: bool) -> Result<Vec<Step>, TemplateError> {
        let list = match steps {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(self.error(Some("steps"), "spec.steps must be a list")),
        };
        let mut parsed: Vec<Step> = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            let path = format!("spec.steps[{i}]");
            let step = raw
                .as_object()
                .ok_or_else(|| self.error(Some("steps"), format!("{path} must be a mapping")))?;
            self.unknown(&path, step, STEP);
            let id = step
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("step-{}", i + 1));
            let near = format!("id: {id}");
            if parsed.iter().any(|s| s.id == id) {
                return Err(self.error(
                    Some(&near),
                    format!("step id `{id}` is used twice; ids must be unique"),
                ));
            }
            let action = step
                .get("action")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| self.error(Some(&near), format!("step `{id}` has no action")))?
                .to_string();
            let on_failure = match step.get("onFailure").and_then(Value::as_str) {
                None | Some("abort") => OnFailure::Abort,
                Some("retry") => OnFailure::Retry,
                Some("skip") => OnFailure::Skip,
                Some("manual") => OnFailure::Manual,
                Some(other) => {
                    return Err(self.error(
                        Some("onFailure"),
                        format!(
                            "step `{id}`: onFailure `{other}` must be abort, retry, skip or manual"
                        ),
                    ));
                }
            };
            let retry = match step.get("retry") {
                None => (on_failure == OnFailure::Retry || recovery).then_some(Retry {
                    attempts: 3,
                    exponential: true,
                    delay_ms: 1000,
                    max_delay_ms: 60_000,
                }),
                Some(r) => Some(self.retry(&id, r)?),
            };
            let needs = match step.get("needs") {
                None => parsed
                    .last()
                    .map(|s| vec![s.id.clone()])
                    .unwrap_or_default(),
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                Some(_) => {
                    return Err(self.error(
                        Some("needs"),
                        format!("step `{id}`: needs is a list of step ids"),
                    ));
                }
            };
            for need in &needs {
                if !parsed.iter().any(|s| &s.id == need) {
                    return Err(self.error(
                        Some("needs"),
                        format!("step `{id}` needs `{need}`, which is not an earlier step; list only ids of steps above it"),
                    ));
                }
            }
            parsed.push(Step {
                name: step
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&id)
                    .to_string(),
                input: step
                    .get("input")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new())),
                condition: step.get("if").cloned(),
                each: step.get("each").cloned(),
                on_failure,
                retry,
                timeout_ms: step
                    .get("timeout")
                    .map(|t| self.duration(&id, "timeout", t))
                    .transpose()?,
                rollback: step
                    .get("rollback")
                    .map(|r| self.call(&id, "rollback", r))
                    .transpose()?,
                needs,
                wait_for: match step.get("waitFor") {
                    Some(w) => Some(self.wait_for(&id, w)?),
                    None => durable_wait(&action),
                },
                approval_required: step.get("approval").and_then(Value::as_str) == Some("required"),
                action,
                id,
            });
        }
        let ids: HashSet<&str> = parsed.iter().map(|s| s.id.as_str()).collect();
        debug_assert_eq!(ids.len(), parsed.len());
        Ok(parsed)
    }

    fn retry(&self, id: &str, value: &Value) -> Result<Retry, TemplateError> {
        let o = value
            .as_object()
            .ok_or_else(|| self.error(Some("retry"), format!("step `{id}`: retry is a mapping")))?;
        let attempts = o
            .get("attempts")
            .map(|a| a.as_u64().filter(|n| (1..=100).contains(n)))
            .unwrap_or(Some(3));
        let attempts = attempts.ok_or_else(|| {
            self.error(
                Some("attempts"),
                format!("step `{id}`: retry.attempts is a number from 1 to 100"),
            )
        })?;
        let exponential = match o.get("backoff").and_then(Value::as_str) {
            None | Some("exponential") => true,
            Some("constant") => false,
            Some(other) => {
                return Err(self.error(
                    Some("backoff"),
                    format!("step `{id}`: backoff `{other}` must be constant or exponential"),
                ));
            }
        };
        let delay_ms = o
            .get("delay")
            .map(|d| self.duration(id, "retry.delay", d))
            .transpose()?
            .unwrap_or(1000);
        let max_delay_ms = o
            .get("maxDelay")
            .map(|d| self.duration(id, "retry.maxDelay", d))
            .transpose()?
            .unwrap_or(60_000);
        Ok(Retry {
            attempts: attempts as u32,
            exponential,
            delay_ms,
            max_delay_ms: max_delay_ms.max(delay_ms),
        })
    }

    fn call(&self, id: &str, what: &str, value: &Value) -> Result<StepCall, TemplateError> {
        let o = value.as_object().ok_or_else(|| {
            self.error(
                Some(what),
                format!("step `{id}`: {what} is a mapping with action and input"),
            )
        })?;
        let action = o.get("action").and_then(Value::as_str).ok_or_else(|| {
            self.error(Some(what), format!("step `{id}`: {what} needs an action"))
        })?;
        Ok(StepCall {
            action: action.to_string(),
            input: o.get("input").cloned().unwrap_or(Value::Object(Map::new())),
        })
    }

    fn wait_for(&self, id: &str, value: &Value) -> Result<WaitFor, TemplateError> {
        let call = self.call(id, "waitFor", value)?;
        let o = value.as_object().expect("checked by call");
        let interval_ms = o
            .get("interval")
            .map(|d| self.duration(id, "waitFor.interval", d))
            .transpose()?
            .unwrap_or(10_000);
        let timeout_ms = o
            .get("timeout")
            .map(|d| self.duration(id, "waitFor.timeout", d))
            .transpose()?
            .unwrap_or(3_600_000);
        Ok(WaitFor {
            call,
            interval_ms,
            timeout_ms,
        })
    }

    /// `500ms`, `30s`, `5m`, `2h`, or a number of milliseconds.
    fn duration(&self, id: &str, what: &str, value: &Value) -> Result<u64, TemplateError> {
        let bad = || {
            self.error(
                Some(what.rsplit('.').next().unwrap_or(what)),
                format!("step `{id}`: {what} is a duration like 500ms, 30s, 5m or 2h"),
            )
        };
        match value {
            Value::Number(n) => n.as_u64().ok_or_else(bad),
            Value::String(s) => {
                let s = s.trim();
                let (digits, unit) =
                    s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
                let n: u64 = digits.parse().map_err(|_| bad())?;
                let factor = match unit {
                    "ms" => 1,
                    "" | "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    _ => return Err(bad()),
                };
                Ok(n * factor)
            }
            _ => Err(bad()),
        }
    }
}

/// The `waitFor` Lever gives a `debug:wait` step: its output's `next_poll_ms` parks the run
/// for the wait (a row with a wake time, no worker held), then one poll ends it.
fn durable_wait(action: &str) -> Option<WaitFor> {
    let reference = crate::model::plugin_reference(action);
    let name = reference.split('@').next().unwrap_or("");
    (name == "debug-wait").then(|| WaitFor {
        call: StepCall {
            action: action.to_string(),
            input: serde_json::json!({"poll": true}),
        },
        interval_ms: 1000,
        timeout_ms: 31 * 24 * 3_600_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\nspec:\n  steps:\n";

    #[test]
    fn lever_extensions_parse_and_needs_default_to_the_previous_step() {
        let text = format!(
            "{MINIMAL}    - id: a\n      action: debug:log\n      onFailure: retry\n      retry: {{attempts: 5, backoff: constant, delay: 2s}}\n      timeout: 5m\n      rollback: {{action: undo, input: {{x: 1}}}}\n    - id: b\n      action: debug-log\n      waitFor: {{action: poll, interval: 500ms, timeout: 1h}}\n      surprise: 1\n"
        );
        let parsed = parse(&text).unwrap();
        let a = &parsed.template.steps[0];
        assert_eq!(a.on_failure, OnFailure::Retry);
        assert_eq!(
            a.retry,
            Some(Retry {
                attempts: 5,
                exponential: false,
                delay_ms: 2000,
                max_delay_ms: 60_000
            })
        );
        assert_eq!(a.timeout_ms, Some(300_000));
        assert_eq!(a.rollback.as_ref().unwrap().action, "undo");
        let b = &parsed.template.steps[1];
        assert_eq!(b.needs, ["a"]);
        assert_eq!(b.wait_for.as_ref().unwrap().interval_ms, 500);
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].path, "spec.steps[1].surprise");
    }

    #[test]
    fn errors_carry_line_numbers() {
        let bad_yaml = parse("apiVersion: x\nkind: [unclosed\n").unwrap_err();
        assert!(bad_yaml.line.is_some(), "{bad_yaml}");
        let no_action =
            parse(&format!("{MINIMAL}    - id: first\n      name: nothing\n")).unwrap_err();
        assert_eq!(no_action.line, Some(7), "{no_action}");
        assert!(no_action.message.contains("has no action"));
        let bad_need = parse(&format!(
            "{MINIMAL}    - id: a\n      action: x\n      needs: [zz]\n"
        ))
        .unwrap_err();
        assert!(bad_need.message.contains("needs `zz`"), "{bad_need}");
        let wrong_version = parse("apiVersion: v1\nkind: Template\n").unwrap_err();
        assert_eq!(wrong_version.line, Some(1));
    }

    #[test]
    fn an_expression_that_does_not_parse_is_refused_with_its_place_and_line() {
        let text = format!(
            "{MINIMAL}    - id: log\n      action: debug:log\n      input:\n        message: ${{{{ parameters.a === }}}}\n  output:\n    text: ok\n"
        );
        let error = parse(&text).unwrap_err();
        assert_eq!(error.line, Some(10), "{error}");
        assert!(
            error.message.contains("spec.steps[0] (`log`).input")
                && error.message.contains("${{ parameters.a === }}"),
            "{error}"
        );
        let output = format!(
            "{MINIMAL}    - id: log\n      action: debug:log\n  output:\n    links:\n      - url: '{{% if x %}}'\n"
        );
        let error = parse(&output).unwrap_err();
        assert!(error.message.starts_with("spec.output"), "{error}");
        // What Backstage writes parses.
        let fine = format!(
            "{MINIMAL}    - id: log\n      action: debug:log\n      if: ${{{{ parameters.enableCI === \"Yes\" and parameters.url.includes('github') }}}}\n"
        );
        parse(&fine).unwrap();
    }
}
