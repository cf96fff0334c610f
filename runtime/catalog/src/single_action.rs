//! A single-action run is a one-step template run: its one step, `main`, calls the action with
//! the run's input and the run's output is the step's. Executing it through the template step
//! loop gives it everything a template run has — a step row, the fence and lease, retries,
//! cancel, the log book, masking, recorded HTTP — with no second execution path to keep in step.

use lever_store::TemplateRecord;

use crate::{CatalogError, Entry, compile};

/// The step id a single action's invocation runs under.
pub const SINGLE_STEP: &str = "main";

/// The one-step template that runs `action` (a plugin name, or `name@version` for runs
/// submitted before actions were pinned). Its input is the whole run input as one expression,
/// so the input is passed as typed and nothing inside it is ever evaluated.
pub fn single_action(action: &str) -> Result<Entry, CatalogError> {
    let name = action.split('@').next().unwrap_or(action);
    // JSON strings are YAML strings: the action cannot break out of its field.
    let quoted = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let source = format!(
        "apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: {name}
  title: {action}
spec:
  steps:
    - id: {SINGLE_STEP}
      name: {action}
      action: {action}
      input: ${{{{ parameters }}}}
  output: ${{{{ steps.{SINGLE_STEP}.output }}}}
",
        name = quoted(name),
        action = quoted(action),
    );
    compile(TemplateRecord {
        name: name.to_string(),
        version: 0,
        source,
        title: Some(action.to_string()),
        description: None,
        owner: None,
        tags: Vec::new(),
        created_at: 0,
        bundle_path: None,
        bundle_paths: Vec::new(),
        bundle_digest: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_one_step_passes_the_input_as_typed_and_never_evaluates_it() {
        let entry = single_action("hello@0.1.0").unwrap();
        let steps = &entry.parsed.template.steps;
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].id, SINGLE_STEP);
        assert_eq!(steps[0].action, "hello@0.1.0");
        let input = json!({"n": 3, "text": "${{ secrets.token }}", "list": [true, null]});
        let ctx = crate::context(&input, "alice");
        let expressions = lever_templates::Expressions::new();
        let rendered = expressions.render(&steps[0].input, &ctx).unwrap();
        assert_eq!(rendered, input);
        let mut ctx = ctx;
        ctx["steps"]["main"] = json!({"output": {"greeting": "hi", "count": 2}});
        let (output, warnings) = expressions
            .render_output(&entry.parsed.template.output, &ctx)
            .unwrap();
        assert_eq!(output, json!({"greeting": "hi", "count": 2}));
        assert!(warnings.is_empty());
    }
}
