//! `catalog:register`: registers the entity a template made. When a `software-catalog` is
//! bound (a Backstage catalog), the entity file's URL becomes a location there, as Backstage's
//! own action does, and the rollback removes it. Otherwise the entity goes into Lever's own
//! entity list (what `EntityPicker` offers: the `entityRef` of succeeded steps), read from the
//! workspace's `catalogInfoPath` (the file the run just published) or, when the workspace has
//! none, from the repository through the bound `git-provider`.

use backstage_scaffolder::workspace;
use lever_sdk::capabilities::{git_provider, software_catalog};
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

/// What the host says when a capability has no binding (`lever_capabilities`' `denied`
/// message): then Lever's own entity list is the catalog.
const NOT_BOUND: &str = "is not bound to a provider";

/// Input of `catalog:register` (Backstage's names).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// Where the repository's files are browsed (`…/blob/main`).
    #[serde(default)]
    repo_contents_url: Option<String>,
    /// The entity file's path in it (`/catalog-info.yaml`).
    #[serde(default)]
    catalog_info_path: Option<String>,
    /// The entity file's whole URL, instead of the two above.
    #[serde(default)]
    catalog_info_url: Option<String>,
    /// A failure to read the entity does not fail the step.
    #[serde(default)]
    optional: Option<bool>,
}

/// Output of `catalog:register`, as Backstage names it.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Output {
    /// `kind:namespace/name` of the registered entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_ref: Option<String>,
    /// Where the entity file lives.
    catalog_info_url: String,
    /// The bound catalog's id of the location registered (none in Lever's own list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location_id: Option<String>,
}

/// The first entity of a YAML stream: `kind:namespace/name`, as Backstage writes refs.
fn entity_ref(text: &str) -> Option<String> {
    use serde::Deserialize;
    for doc in serde_yaml::Deserializer::from_str(text) {
        let Ok(value) = Value::deserialize(doc) else {
            continue;
        };
        let kind = value["kind"].as_str()?;
        let name = value["metadata"]["name"].as_str()?;
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("default");
        return Some(format!("{}:{namespace}/{name}", kind.to_ascii_lowercase()));
    }
    None
}

/// `…/blob/<ref>/<path>` → (`…/tree/<ref>/<dir>`, file name): what `download-files` takes.
fn tree_url(url: &str) -> Option<(String, String)> {
    let (dir, file) = url.rsplit_once('/')?;
    Some((dir.replacen("/blob/", "/tree/", 1), file.to_string()))
}

/// The entity Backstage's action reports among those read from one file: the first that is not
/// a `Location` nor `generated-…`, else the first that is not a `Location`, else the first.
fn main_entity(refs: &[String]) -> Option<String> {
    let location = |r: &&String| r.starts_with("location:");
    let generated = |r: &&String| {
        r.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("generated-"))
    };
    refs.iter()
        .find(|r| !location(r) && !generated(r))
        .or_else(|| refs.iter().find(|r| !location(r)))
        .or_else(|| refs.first())
        .cloned()
}

/// The rollback: the location leaves the bound catalog (with its entities); an entity of
/// Lever's own list leaves it with the step, as the list offers only the entities of steps
/// that stand.
fn rollback(_ctx: &Context, _input: Input, output: Output) -> Result<(), ActionError> {
    if let Some(id) = &output.location_id {
        software_catalog::unregister_location(id)?;
        lever_sdk::log::info(&format!("location {id} removed from the catalog"));
    } else if let Some(entity) = &output.entity_ref {
        lever_sdk::log::info(&format!("unregistered {entity}"));
    }
    Ok(())
}

/// Registers `url` in the bound catalog: `Ok(None)` when none is bound.
fn into_bound_catalog(url: &str, optional: bool) -> Result<Option<Output>, ActionError> {
    match software_catalog::register_location(url).map_err(ActionError::from) {
        Ok(location) => {
            let entity = main_entity(&location.entity_refs);
            lever_sdk::log::info(&format!(
                "registered {} in the catalog (location {})",
                entity.as_deref().unwrap_or("no entity"),
                location.id
            ));
            Ok(Some(Output {
                entity_ref: entity,
                catalog_info_url: url.to_string(),
                location_id: Some(location.id),
            }))
        }
        Err(ActionError::Denied(m)) if m.contains(NOT_BOUND) => Ok(None),
        Err(e) if optional => {
            lever_sdk::log::warn(&format!("not registered (optional): {e:?}"));
            Ok(Some(Output {
                entity_ref: None,
                catalog_info_url: url.to_string(),
                location_id: None,
            }))
        }
        Err(e) => Err(e),
    }
}

#[action(
    name = "catalog-register",
    version = "0.3.0",
    description = "Registers the template's entity in the bound catalog or Lever's entity list (Backstage's catalog:register)",
    workspace = true,
    rollback = rollback
)]
fn run(_ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let path = input
        .catalog_info_path
        .clone()
        .unwrap_or_else(|| "/catalog-info.yaml".into());
    let url = match (&input.catalog_info_url, &input.repo_contents_url) {
        (Some(url), _) => url.clone(),
        (None, Some(base)) => format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        ),
        (None, None) => {
            return Err(ActionError::InvalidInput(
                "give catalogInfoUrl, or repoContentsUrl (and catalogInfoPath)".into(),
            ));
        }
    };
    let optional = input.optional == Some(true);
    if let Some(done) = into_bound_catalog(&url, optional)? {
        return Ok(done);
    }
    let local = workspace::safe_relative(path.trim_start_matches('/'), "catalogInfoPath")
        .ok()
        .map(|p| workspace::path(&p))
        .and_then(|p| std::fs::read_to_string(p).ok());
    let text = match local {
        Some(text) => Ok(text),
        None => match tree_url(&url) {
            None => Err(ActionError::InvalidInput(format!(
                "`{url}` is not a file URL"
            ))),
            Some((dir, file)) => git_provider::download_files(&dir)
                .map_err(ActionError::from)
                .and_then(|files| {
                    files
                        .into_iter()
                        .find(|f| f.path == file)
                        .ok_or_else(|| ActionError::NotFound(format!("{url} does not exist")))
                })
                .and_then(|f| {
                    workspace::entries(vec![f])
                        .map(|mut e| String::from_utf8_lossy(&e.remove(0).bytes).into_owned())
                }),
        },
    };
    let entity = match text {
        Ok(text) => match entity_ref(&text) {
            Some(r) => Some(r),
            None => {
                return Err(ActionError::InvalidInput(format!(
                    "{url} holds no entity (kind and metadata.name)"
                )));
            }
        },
        Err(e) if optional => {
            lever_sdk::log::warn(&format!("not registered (optional): {e:?}"));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(r) = &entity {
        lever_sdk::log::info(&format!("registered {r} from {url}"));
    }
    Ok(Output {
        entity_ref: entity,
        catalog_info_url: url,
        location_id: None,
    })
}
