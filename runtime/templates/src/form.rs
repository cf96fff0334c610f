//! Parameters: validated against every page with the jsonschema crate, defaults filled in,
//! errors listed per field.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::Page;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a dotted path (`name`, `db.size`); empty for the whole form.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A template's form, with its page schemas compiled once.
pub struct Form {
    pages: Vec<(Page, jsonschema::Validator)>,
}

/// The bound of a text field whose template sets none: every answer is bounded, so a pasted
/// novel is a field error rather than a 10,000-character owner on every page that shows it.
pub const DEFAULT_MAX_LENGTH: u64 = 2_000;

/// `schema` with [`DEFAULT_MAX_LENGTH`] on every free-text string property (no `maxLength`,
/// `enum`, `const` or `format` of its own), nested objects and array items included.
fn bounded(schema: &Value) -> Value {
    let mut schema = schema.clone();
    bound(&mut schema);
    schema
}

fn bound(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let is_string = match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    };
    let constrained = ["maxLength", "enum", "const", "format"]
        .iter()
        .any(|k| map.contains_key(*k));
    if is_string && !constrained {
        map.insert("maxLength".into(), Value::from(DEFAULT_MAX_LENGTH));
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(bound);
    }
    if let Some(items) = map.get_mut("items") {
        bound(items);
    }
    // Conditional fields (`dependencies`, `allOf`/`oneOf` branches) are bounded too.
    if let Some(Value::Object(dependencies)) = map.get_mut("dependencies") {
        dependencies.values_mut().for_each(bound);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            branches.iter_mut().for_each(bound);
        }
    }
}

impl Form {
    /// Compiles every page, each text field bounded ([`DEFAULT_MAX_LENGTH`] where the template
    /// sets no bound); a page that is not valid JSON Schema is an error naming it.
    pub fn new(pages: &[Page]) -> Result<Self, String> {
        let compiled = pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let page = Page {
                    title: page.title.clone(),
                    schema: bounded(&page.schema),
                };
                jsonschema::validator_for(&page.schema)
                    .map(|v| (page.clone(), v))
                    .map_err(|e| {
                        format!(
                            "parameters page {} ({}) is not valid JSON Schema: {e}",
                            i + 1,
                            page.title.as_deref().unwrap_or("untitled")
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { pages: compiled })
    }

    /// `parameters` with every missing field that has a `default` filled in.
    pub fn with_defaults(&self, parameters: &Value) -> Value {
        let mut out = match parameters {
            Value::Object(o) => o.clone(),
            _ => Map::new(),
        };
        for (page, _) in &self.pages {
            fill_defaults(&page.schema, &mut out);
        }
        Value::Object(out)
    }

    /// The pages, as written, with their text fields bounded.
    pub fn pages(&self) -> impl Iterator<Item = &Page> {
        self.pages.iter().map(|(page, _)| page)
    }

    /// Every violation, on every page: the JSON Schema's, then the field extensions' rules
    /// (`EntityNamePicker`, `RepoUrlPicker`). A broken `pattern` is said with the field's
    /// description, which says what the pattern allows, instead of the pattern itself.
    pub fn validate(&self, parameters: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (page, validator) in &self.pages {
            for e in validator.iter_errors(parameters) {
                let mut field: Vec<String> = e
                    .instance_path()
                    .to_string()
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
                    field.push(
                        property
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| property.to_string()),
                    );
                }
                let mut message = e.to_string();
                // A missing answer is said of its field, which the error is listed under.
                if matches!(
                    e.kind(),
                    jsonschema::error::ValidationErrorKind::Required { .. }
                ) {
                    message = "is required: answer it".to_string();
                }
                // An over-long answer is not quoted back in full.
                if let jsonschema::error::ValidationErrorKind::MaxLength { limit } = e.kind() {
                    let has = e.instance().as_str().map_or(0, |t| t.chars().count());
                    message = format!("is longer than {limit} characters (it has {has})");
                }
                // A broken pattern is told in the field's own words when it has a description:
                // the regular expression means nothing to the person filling the form.
                if matches!(
                    e.kind(),
                    jsonschema::error::ValidationErrorKind::Pattern { .. }
                ) && let Some(description) = property_schema(&page.schema, &field)
                    .and_then(|p| p.get("description"))
                    .and_then(Value::as_str)
                {
                    message = format!(
                        "{} does not match what this field allows: {description}",
                        e.instance()
                    );
                }
                let error = FieldError {
                    field: field.join("."),
                    message,
                };
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
            let mut extension = Vec::new();
            crate::pickers::problems(&page.schema, parameters, "", &mut extension);
            for error in extension {
                if !errors.iter().any(|e| e.field == error.field) {
                    errors.push(error);
                }
            }
        }
        errors
    }
}

/// The schema of the property at `path` (`["db", "size"]`) in a page's schema.
fn property_schema<'a>(schema: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = schema;
    for name in path {
        current = current.get("properties")?.get(name)?;
    }
    Some(current)
}

fn fill_defaults(schema: &Value, out: &mut Map<String, Value>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        match out.get_mut(name) {
            None => {
                if let Some(default) = property.get("default") {
                    out.insert(name.clone(), default.clone());
                } else if property.get("properties").is_some() {
                    let mut nested = Map::new();
                    fill_defaults(property, &mut nested);
                    if !nested.is_empty() {
                        out.insert(name.clone(), Value::Object(nested));
                    }
                }
            }
            Some(Value::Object(existing)) => fill_defaults(property, existing),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> Form {
        Form::new(&[
            Page {
                title: Some("one".into()),
                schema: json!({"required": ["name"], "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{2,30}$"}}}),
            },
            Page {
                title: Some("two".into()),
                schema: json!({"properties": {
                    "environment": {"type": "string", "enum": ["dev", "staging", "production"], "default": "dev"},
                    "size": {"type": "string", "enum": ["small", "medium"], "enumNames": ["Small ($50)", "Medium ($150)"], "default": "small"}
                }}),
            },
        ])
        .unwrap()
    }

    #[test]
    fn defaults_fill_missing_fields_only() {
        let filled = form().with_defaults(&json!({"name": "orders", "size": "medium"}));
        assert_eq!(
            filled,
            json!({"name": "orders", "environment": "dev", "size": "medium"})
        );
    }

    #[test]
    fn errors_are_listed_per_field_across_pages() {
        let f = form();
        let errors = f.validate(&json!({"environment": "prod"}));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "environment"], "{errors:?}");
        assert!(
            f.validate(&f.with_defaults(&json!({"name": "orders"})))
                .is_empty()
        );
        assert_eq!(f.validate(&json!({"name": "X"}))[0].field, "name");
    }
}
