//! `${{ … }}` and `{{ … }}` rendered with minijinja over `parameters`, `steps`, `user`, `each`.
//! A string that is one whole expression keeps the type of its value (number, list, object).

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as Jinja};
use serde_json::Value;

/// Why an expression failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot render `{expression}`: {message}")]
pub struct ExpressionError {
    /// The text that failed.
    pub expression: String,
    /// What minijinja said.
    pub message: String,
}

/// The renderer: a minijinja environment with Backstage's filters.
pub struct Expressions {
    env: Environment<'static>,
}

impl Default for Expressions {
    fn default() -> Self {
        Self::new()
    }
}

/// `github.com?owner=o&repo=r` → `{host, owner, repo, …}`, as Backstage's RepoUrlPicker writes it.
fn parse_repo_url(url: String) -> Result<Jinja, Error> {
    let (host, query) = url.split_once('?').ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("`{url}` is not a repository URL like github.com?owner=o&repo=r"),
        )
    })?;
    let mut map = serde_json::Map::new();
    map.insert("host".into(), Value::String(host.to_string()));
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            map.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    if !map.contains_key("repo") {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{url}` names no repo"),
        ));
    }
    Ok(Jinja::from_serialize(&map))
}

/// `github.com?owner=o&repo=r` → `o/r`.
fn project_slug(url: String) -> Result<String, Error> {
    let parsed = parse_repo_url(url)?;
    let owner = parsed
        .get_attr("owner")
        .ok()
        .filter(|v| !v.is_undefined())
        .or_else(|| parsed.get_attr("organization").ok());
    Ok(format!(
        "{}/{}",
        owner.map(|o| o.to_string()).unwrap_or_default(),
        parsed.get_attr("repo")?
    ))
}

/// `obj | pick('key')`.
fn pick(value: Jinja, key: String) -> Result<Jinja, Error> {
    value.get_attr(&key)
}

fn whole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

impl Expressions {
    /// A renderer with `parseRepoUrl`, `pick` and `projectSlug`.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.add_filter("parseRepoUrl", parse_repo_url);
        env.add_filter("projectSlug", project_slug);
        env.add_filter("pick", pick);
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
            message: e.to_string(),
        };
        if let Some(expression) = whole_expression(text) {
            let value = self
                .env
                .compile_expression(expression)
                .map_err(fail)?
                .eval(context)
                .map_err(fail)?;
            return serde_json::to_value(&value).map_err(|e| ExpressionError {
                expression: text.into(),
                message: e.to_string(),
            });
        }
        if !text.contains("{{") {
            return Ok(Value::String(text.to_string()));
        }
        let source = text.replace("${{", "{{");
        self.env
            .render_str(&source, context)
            .map(Value::String)
            .map_err(fail)
    }

    /// Whether `condition` (an `if:`) is truthy in `context`; a missing condition is true.
    pub fn is_true(
        &self,
        condition: Option<&Value>,
        context: &Value,
    ) -> Result<bool, ExpressionError> {
        Ok(match condition {
            None => true,
            Some(c) => match self.render(c, context)? {
                Value::Null => false,
                Value::Bool(b) => b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty() && s != "false",
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
