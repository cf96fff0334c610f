//! `GET /api`: the API reference, rendered from the OpenAPI document the API serves at
//! `/api/v1/openapi.json` — the same document, so the page cannot describe another API.

use axum::extract::State;
use axum::response::Html;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// One operation as the page lists it.
#[derive(Serialize)]
struct Operation {
    /// `get-api-v1-runs-id`: the anchor.
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<Value>,
    /// Content type and schema of the body, if it takes one.
    body: Option<(String, Schema)>,
    /// Status, description and the schema of each answer.
    responses: Vec<(String, String, Option<Schema>)>,
}

/// A schema as the page shows it: a link to a named one, or the schema itself.
#[derive(Serialize)]
struct Schema {
    /// The named schema it refers to.
    name: Option<String>,
    /// Whether it is an array of the named schema.
    array: bool,
    /// The schema, when it names none.
    inline: Value,
}

impl Schema {
    fn of(schema: &Value) -> Schema {
        let name_of = |s: &Value| {
            s["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_string)
        };
        match (name_of(schema), name_of(&schema["items"])) {
            (Some(name), _) => Schema {
                name: Some(name),
                array: false,
                inline: Value::Null,
            },
            (None, Some(name)) if schema["type"] == "array" => Schema {
                name: Some(name),
                array: true,
                inline: Value::Null,
            },
            _ => Schema {
                name: None,
                array: false,
                inline: schema.clone(),
            },
        }
    }
}

/// A tag with its operations.
#[derive(Serialize)]
struct Section {
    name: String,
    description: String,
    operations: Vec<Operation>,
}

/// The document grouped by tag, in the document's order.
fn sections(document: &Value) -> Vec<Section> {
    let mut sections: Vec<Section> = document["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Section {
            name: t["name"].as_str().unwrap_or_default().to_string(),
            description: t["description"].as_str().unwrap_or_default().to_string(),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("other");
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(kind, content)| (kind.clone(), Schema::of(&content["schema"])));
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| {
                    let schema = r["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|c| Schema::of(&c["schema"]));
                    (
                        status.clone(),
                        r["description"].as_str().unwrap_or_default().to_string(),
                        schema,
                    )
                })
                .collect();
            let operation = Operation {
                anchor: format!("{method}{path}")
                    .replace(['/', '{', '}'], "-")
                    .replace("--", "-"),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: op["summary"].as_str().unwrap_or_default().to_string(),
                description: op["description"].as_str().unwrap_or_default().to_string(),
                parameters: op["parameters"].as_array().cloned().unwrap_or_default(),
                body,
                responses,
            };
            match sections.iter_mut().find(|s| s.name == tag) {
                Some(section) => section.operations.push(operation),
                None => sections.push(Section {
                    name: tag.to_string(),
                    description: String::new(),
                    operations: vec![operation],
                }),
            }
        }
    }
    sections
}

/// `GET /api`: every operation with its parameters, body and answers, then every schema.
pub(crate) async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    let document = state.api_document;
    let schemas: Vec<(String, Value)> = document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    render::page(
        &state,
        Some(&viewer),
        "api_reference.html",
        context! {
            info => document["info"].clone(),
            version => document["openapi"].clone(),
            sections => sections(document),
            schemas,
        },
    )
}
