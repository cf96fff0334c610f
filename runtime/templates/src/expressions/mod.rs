//! `${{ … }}` and `{{ … }}` rendered with minijinja over `parameters`, `steps`, `user`, `each`,
//! read as nunjucks reads them (Backstage's templating, `lever-nunjucks`: the syntax rewrite,
//! JavaScript's methods on values, Backstage's filters and nunjucks' `dump`). A string that is one whole expression keeps the
//! type of its value (number, list, object), as Backstage's `| dump` and `JSON.parse` do.

use lever_nunjucks as nunjucks;
use minijinja::{Environment, Error, UndefinedBehavior};
use serde_json::Value;

pub use lever_nunjucks::is_truthy;

/// Why an expression failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot render `{expression}`: {message}")]
pub struct ExpressionError {
    /// The text that failed.
    pub expression: String,
    /// What minijinja said.
    pub message: String,
}

impl ExpressionError {
    /// The 1-based line of the template `source` the expression is on, when it is found there
    /// as written.
    pub fn line_in(&self, source: &str) -> Option<usize> {
        let needle = self.expression.trim();
        source
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
    }
}

/// The renderer: a minijinja environment with Backstage's filters and JavaScript's methods.
pub struct Expressions {
    env: Environment<'static>,
}

impl Default for Expressions {
    fn default() -> Self {
        Self::new()
    }
}

fn whole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

impl Expressions {
    /// A renderer with Backstage's filters (`parseRepoUrl`, `parseEntityRef`, `pick`,
    /// `projectSlug`), nunjucks' `dump` and JavaScript's string, array and number methods.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        nunjucks::configure(&mut env);
        Self { env }
    }

    /// Renders every string in `value` against `context`.
    pub fn render(&self, value: &Value, context: &Value) -> Result<Value, ExpressionError> {
        match value {
            Value::String(s) => self.render_str(s, context),
            Value::Array(items) => items
                .iter()
                .map(|v| self.render(v, context))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.render(v, context)?)))
                .collect::<Result<_, _>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    fn render_str(&self, text: &str, context: &Value) -> Result<Value, ExpressionError> {
        let fail = |e: Error| ExpressionError {
            expression: text.to_string(),
            message: describe(&e),
        };
        if let Some(expression) = whole_expression(text) {
            let expression = nunjucks::rewrite_expression(expression);
            let evaluated = self
                .env
                .compile_expression(&expression)
                .map_err(fail)?
                .eval(context);
            // Backstage's `secrets.*` are the user's own tokens its frontend sends with a task;
            // Lever's adapters act with their binding's credentials, so a secret the run was
            // not given is empty rather than an error.
            let secret = expression.trim_start().starts_with("secrets.");
            let value = match evaluated {
                Ok(v) if secret && v.is_undefined() => return Ok(Value::Null),
                Err(e) if secret && e.kind() == minijinja::ErrorKind::UndefinedError => {
                    return Ok(Value::Null);
                }
                other => other.map_err(fail)?,
            };
            return serde_json::to_value(&value).map_err(|e| ExpressionError {
                expression: text.into(),
                message: e.to_string(),
            });
        }
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(Value::String(text.to_string()));
        }
        self.env
            .render_str(&nunjucks::rewrite_template(text), context)
            .map(Value::String)
            .map_err(fail)
    }

    /// Renders a template's `spec.output`: as [`Expressions::render`], except that a value
    /// whose expression is undefined (`steps.nope.output.url`: a step the template does not
    /// have, an output the step did not give) is left out, as Backstage leaves it out, and
    /// named in the returned warnings; any other failure is an error.
    pub fn render_output(
        &self,
        value: &Value,
        context: &Value,
    ) -> Result<(Value, Vec<String>), ExpressionError> {
        let mut warnings = Vec::new();
        let rendered = self
            .render_dropping(value, context, "spec.output", &mut warnings)?
            .unwrap_or(Value::Null);
        Ok((rendered, warnings))
    }

    fn render_dropping(
        &self,
        value: &Value,
        context: &Value,
        at: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Value>, ExpressionError> {
        Ok(Some(match value {
            Value::String(s) => match self.render_str(s, context) {
                Ok(v) => v,
                Err(e) if e.message.starts_with("undefined value") => {
                    warnings.push(format!("{at}: `{s}` is undefined, so it is left out"));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            },
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(v) =
                        self.render_dropping(item, context, &format!("{at}[{i}]"), warnings)?
                    {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    if let Some(v) =
                        self.render_dropping(v, context, &format!("{at}.{k}"), warnings)?
                    {
                        out.insert(k.clone(), v);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }))
    }

    /// Whether `condition` (an `if:`) holds in `context`, with Backstage's truthiness; a
    /// missing condition holds.
    pub fn is_true(
        &self,
        condition: Option<&Value>,
        context: &Value,
    ) -> Result<bool, ExpressionError> {
        Ok(match condition {
            None => true,
            Some(c) => is_truthy(&self.render(c, context)?),
        })
    }

    /// Parses every expression in the strings of `value` without rendering it; the first that
    /// does not parse.
    pub fn check(&self, value: &Value) -> Result<(), ExpressionError> {
        match value {
            Value::String(text) => self.check_str(text),
            Value::Array(items) => items.iter().try_for_each(|v| self.check(v)),
            Value::Object(map) => map.values().try_for_each(|v| self.check(v)),
            _ => Ok(()),
        }
    }

    fn check_str(&self, text: &str) -> Result<(), ExpressionError> {
        let fail = |e: Error| ExpressionError {
            expression: text.to_string(),
            message: describe(&e),
        };
        if let Some(expression) = whole_expression(text) {
            self.env
                .compile_expression(&nunjucks::rewrite_expression(expression))
                .map_err(fail)?;
        } else if text.contains("{{") || text.contains("{%") {
            // Parsing needs no filters or context: a bare environment, which can borrow.
            let source = nunjucks::rewrite_template(text);
            Environment::new()
                .template_from_str(&source)
                .map_err(fail)?;
        }
        Ok(())
    }
}

/// A rendered `spec.output` as Backstage's UI shows it: list items (links, text) whose `if`
/// rendered falsy are left out, and the `if` of the others is dropped.
pub fn keep_met_conditions(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(mut map) if map.contains_key("if") => {
                        let condition = map.remove("if").unwrap_or(Value::Null);
                        is_truthy(&condition).then(|| keep_met_conditions(Value::Object(map)))
                    }
                    other => Some(keep_met_conditions(other)),
                })
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, keep_met_conditions(v)))
                .collect(),
        ),
        other => other,
    }
}

/// minijinja's error with its detail, without the template name it gives inline strings.
fn describe(e: &Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_undefined_output_value_is_left_out_with_a_warning_and_a_bad_one_still_fails() {
        let e = Expressions::new();
        let ctx = json!({"steps": {"publish": {"output": {"remoteUrl": "https://x"}}}});
        let output = json!({"links": [
            {"title": "Repository", "url": "${{ steps.publish.output.remoteUrl }}"},
            {"title": "Catalog", "url": "${{ steps.register.output.catalogInfoUrl }}"}
        ]});
        let (rendered, warnings) = e.render_output(&output, &ctx).unwrap();
        assert_eq!(rendered["links"][0]["url"], "https://x");
        assert_eq!(rendered["links"][1], json!({"title": "Catalog"}));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("spec.output.links[1].url")
                && warnings[0].contains("steps.register"),
            "{warnings:?}"
        );
        let bad = json!({"text": "${{ steps.publish.output.remoteUrl.frobnicate() }}"});
        assert!(e.render_output(&bad, &ctx).is_err());
    }

    #[test]
    fn whole_expressions_keep_their_type_and_mixed_text_renders() {
        let x = Expressions::new();
        let ctx = json!({"parameters": {"size": 3, "tags": ["a", "b"], "name": "db", "repoUrl": "github.com?owner=acme&repo=api"}});
        assert_eq!(
            x.render(&json!("${{ parameters.size }}"), &ctx).unwrap(),
            json!(3)
        );
        assert_eq!(
            x.render(&json!("${{ parameters.tags }}"), &ctx).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            x.render(
                &json!("db-${{ parameters.name }}-{{ parameters.size }}"),
                &ctx
            )
            .unwrap(),
            json!("db-db-3")
        );
        assert_eq!(
            x.render(&json!("${{ parameters.repoUrl | parseRepoUrl }}"), &ctx)
                .unwrap(),
            json!({"host": "github.com", "owner": "acme", "repo": "api"})
        );
        assert_eq!(
            x.render(&json!("${{ parameters.repoUrl | projectSlug }}"), &ctx)
                .unwrap(),
            json!("acme/api")
        );
        assert_eq!(
            x.render(
                &json!("${{ parameters.repoUrl | parseRepoUrl | pick('owner') }}"),
                &ctx
            )
            .unwrap(),
            json!("acme")
        );
        assert_eq!(
            x.render(&json!({"n": ["${{ parameters.size }}"]}), &ctx)
                .unwrap(),
            json!({"n": [3]})
        );
        assert!(
            x.is_true(Some(&json!("${{ parameters.size > 2 }}")), &ctx)
                .unwrap()
        );
        assert!(
            !x.is_true(Some(&json!("${{ parameters.missing }}")), &ctx)
                .unwrap()
        );
        assert!(
            x.render(&json!("${{ parameters.name | parseRepoUrl }}"), &ctx)
                .is_err()
        );
    }
}

#[cfg(test)]
mod table_tests;
