//! Backstage's template secrets: the `secrets` of `POST /v2/tasks` and of a retry, each a
//! string, checked against the names the template's `spec.secrets.schema` requires, then
//! handed to the application layer, which seals them with the run until it finishes; the
//! executor masks them wherever the run shows (`${{ secrets.NAME }}` in step inputs).

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The secrets given, checked: each a string, every name `spec.secrets.schema.required` lists
/// (of `document`, the template) present and not empty. Refused as Backstage refuses them:
/// 400 with the `errors`.
pub(crate) fn given(
    secrets: Option<Map<String, Value>>,
    document: Option<&Value>,
) -> Result<BTreeMap<String, String>, Box<Response>> {
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, value) in secrets.unwrap_or_default() {
        match value {
            Value::String(text) => {
                values.insert(name, text);
            }
            _ => errors.push(json!({
                "field": format!("secrets.{name}"),
                "message": "is not a string",
            })),
        }
    }
    let required = document
        .map(|d| &d["spec"]["secrets"]["schema"]["required"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        if values.get(name).is_none_or(|v| v.is_empty()) {
            errors.push(json!({
                "field": format!("secrets.{name}"),
                "message": format!("is required: the template needs the secret {name}"),
            }));
        }
    }
    if errors.is_empty() {
        return Ok(values);
    }
    let details = Value::Array(errors);
    Err(Box::new(
        (
            StatusCode::BAD_REQUEST,
            Json(crate::tasks::validation_errors(Some(&details))),
        )
            .into_response(),
    ))
}
