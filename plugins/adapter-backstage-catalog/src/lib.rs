//! Backstage catalog adapter: the `software-catalog` capability over the catalog backend's
//! locations API, as Backstage's own `catalog:register` calls it — `POST
//! /api/catalog/locations` with `{"type": "url", "target"}`, then the same with `?dryRun=true`
//! to learn the entities the catalog reads from it (the real call answers before the catalog
//! has processed the file). A location that exists already (409) is found in the location
//! list and answered as it is, so a retried step registers once. `unregister-location` is
//! `DELETE /api/catalog/locations/{id}`; one already gone counts as done.
//!
//! The catalog authenticates a service with a static token (`backend.auth.externalAccess`,
//! type `static`) sent as `Authorization: Bearer`.

use lever_adapter_sdk::capabilities::software_catalog::CatalogLocation;
use lever_adapter_sdk::params::{LocationId, Target};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};
use lever_adapter_sdk::{
    AdapterManifest, Context, Error, Grants, Guest, input, output, settings, unsupported,
};

/// JSON Schema of the binding settings.
const SETTINGS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Backstage catalog adapter settings",
  "type": "object",
  "properties": {
    "base_url": {"type": "string", "description": "The Backstage backend's address (https://backstage.example.com)"},
    "token": {"type": "string", "description": "secret://NAME of a static external-access token the catalog accepts"}
  },
  "required": ["base_url", "token"],
  "additionalProperties": false
}"#;

struct BackstageCatalog;

impl Guest for BackstageCatalog {
    fn describe() -> AdapterManifest {
        AdapterManifest {
            name: "backstage-catalog".into(),
            version: "0.1.0".into(),
            description: "Backstage's software catalog: register and unregister entity locations"
                .into(),
            capabilities: vec!["software-catalog".into()],
            settings_schema: SETTINGS_SCHEMA.into(),
            // No default host: the binding's `base_url` is the one host granted.
            grants: Grants {
                hosts: vec![],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(
        _ctx: Context,
        function: String,
        settings: String,
        input_json: String,
    ) -> Result<String, Error> {
        if !["register-location", "unregister-location"].contains(&function.as_str()) {
            return Err(unsupported("Backstage catalog", &function));
        }
        let settings = settings::parse(&settings)?;
        let api = connect(&settings)?;
        match function.as_str() {
            "register-location" => {
                let Target { target } = input(&function, &input_json)?;
                output(&register(&api, &target)?)
            }
            _ => {
                let LocationId { id } = input(&function, &input_json)?;
                if id.is_empty() || id.contains('/') {
                    return Err(Error::InvalidInput(format!(
                        "`{id}` is not a Backstage location id"
                    )));
                }
                match api.call(
                    "DELETE",
                    &format!("/api/catalog/locations/{}", encode(&id)),
                    None,
                ) {
                    Ok(_) | Err(Error::NotFound(_)) => output(&()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

fn connect(settings: &Value) -> Result<Api, Error> {
    let base = settings::required(settings, "base_url")?;
    let token = settings::secret(settings, "token")?;
    Ok(Api {
        provider: "Backstage",
        base: base.trim_end_matches('/').to_string(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        message,
    })
}

/// Backstage's error body: `{"error": {"name": "ConflictError", "message": "…"}, "request", "response"}`.
fn message(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let text = error.get("message")?.as_str()?;
    Some(match error.get("name").and_then(Value::as_str) {
        Some(name) => format!("{name}: {text}"),
        None => text.to_string(),
    })
}

/// Registers `target` (or finds it registered) and reads its entities with a dry run.
fn register(api: &Api, target: &str) -> Result<CatalogLocation, Error> {
    if !(target.starts_with("https://") || target.starts_with("http://")) {
        return Err(Error::InvalidInput(format!(
            "`target` must be the URL of an entity file, not `{target}`"
        )));
    }
    let spec = json!({"type": "url", "target": target});
    let id = match api.post("/api/catalog/locations", &spec) {
        Ok(answer) => text(&answer.body["location"]["id"])
            .ok_or_else(|| Error::Fatal("Backstage answered no location id".into()))?,
        Err(Error::Fatal(m)) if m.contains("ConflictError") || m.contains(" 409 ") => {
            existing(api, target)?
        }
        Err(e) => return Err(e),
    };
    let dry = api.post("/api/catalog/locations?dryRun=true", &spec)?;
    let entity_refs = dry.body["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(entity_ref)
        .collect();
    Ok(CatalogLocation {
        id,
        target: target.to_string(),
        entity_refs,
    })
}

/// The id of the `url` location whose target is `target`, from `GET /api/catalog/locations`.
fn existing(api: &Api, target: &str) -> Result<String, Error> {
    let list = api.get("/api/catalog/locations")?;
    list.body
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item.get("data").unwrap_or(item))
        .find(|l| l["type"] == "url" && l["target"] == target)
        .and_then(|l| text(&l["id"]))
        .ok_or_else(|| {
            Error::Fatal(format!(
                "Backstage says `{target}` is registered but does not list it"
            ))
        })
}

/// `kind:namespace/name`, as Backstage's `stringifyEntityRef` writes it.
fn entity_ref(entity: &Value) -> Option<String> {
    let kind = entity["kind"].as_str()?;
    let name = entity["metadata"]["name"].as_str()?;
    let namespace = entity["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    Some(format!("{}:{namespace}/{name}", kind.to_ascii_lowercase()))
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

lever_adapter_sdk::bindings::export!(BackstageCatalog with_types_in lever_adapter_sdk::bindings);
