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

impl Form {
    /// Compiles every page; a page that is not valid JSON Schema is an error naming it.
    pub fn new(pages: &[Page]) -> Result<Self, String> {
        let compiled = pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
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

    /// The pages, as written.
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
