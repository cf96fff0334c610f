//! Templates kept in a Backstage portal's catalog (`backstage.catalog` in `lever.yaml`): the
//! template a task names is read from the portal's catalog API as the caller, the files around
//! it from its location (a `file:` location from disk under `file_roots`, a `url:` location
//! through the bound git-provider's `download-files`), and the whole is recorded as a version
//! of Lever's template of that name — so the run pins what the portal served, and an approval
//! or a retry later runs exactly that, whatever the portal holds by then.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use lever_identity::backstage::PortalCatalog;
use lever_identity::{Principal, Source};
use lever_templates::bundle::{self, Bundle, BundleFile, LINK_MODE};
use serde_json::{Value, json};

use crate::{Kind, ServiceError, Services};

/// The annotations that say where an entity came from, in the order Backstage's scaffolder
/// reads them for a template's base URL (`getEntityBaseUrl`).
const LOCATION_ANNOTATIONS: [&str; 2] = [
    "backstage.io/source-location",
    "backstage.io/managed-by-location",
];

/// The portal whose catalog templates are read from (`backstage.catalog`).
pub struct Portal<'a> {
    services: &'a Services,
    base_url: &'a str,
    catalog: &'a PortalCatalog,
}

impl<'a> Portal<'a> {
    /// The portal, when templates are read from its catalog.
    pub fn of(services: &'a Services) -> Option<Portal<'a>> {
        let backstage = services.identity.config().backstage.as_ref()?;
        Some(Portal {
            services,
            base_url: backstage.base_url.trim_end_matches('/'),
            catalog: backstage.catalog.as_ref()?,
        })
    }

    /// The template entity `namespace/name` of the portal's catalog, read as `principal`: its
    /// JSON as the catalog answers it. A template the portal does not have is not found.
    pub async fn entity(
        &self,
        principal: &Principal,
        caller_token: Option<&str>,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ServiceError> {
        let token = catalog_token(self.catalog, principal, caller_token)?;
        let url = format!(
            "{}/api/catalog/entities/by-name/template/{namespace}/{name}",
            self.base_url
        );
        let unavailable = |e: &dyn std::fmt::Display| {
            ServiceError::new(
                Kind::Unavailable,
                "portal-unavailable",
                format!("the Backstage portal's catalog did not answer ({url}): {e}"),
            )
        };
        let response = client()
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        match response.status().as_u16() {
            200 => response.json().await.map_err(|e| unavailable(&e)),
            404 => Err(ServiceError::not_found(format!(
                "the Backstage portal's catalog has no template:{namespace}/{name}"
            ))),
            401 | 403 => Err(ServiceError::forbidden(format!(
                "the Backstage portal's catalog refused to show template:{namespace}/{name} to this caller"
            ))),
            status => Err(unavailable(&format!("status {status}"))),
        }
    }

    /// Records the portal's template `entity`, with the files its location holds, as the latest
    /// version of Lever's template of its name (a new version only when something changed), and
    /// answers that name. Audited with the location it came from.
    pub async fn adopt(
        &self,
        principal: &Principal,
        entity: &Value,
    ) -> Result<String, ServiceError> {
        let document = document(entity);
        let text = serde_yaml::to_string(&document).map_err(|e| {
            ServiceError::invalid("invalid-template", format!("the portal's template: {e}"))
        })?;
        let location = location(entity)?;
        let bundle = match &location {
            Location::File(path) => from_disk(self.catalog, path, &text)?,
            Location::Url(url) => from_repository(self.services, principal, url, &text).await?,
        };
        let (entry, created) = self.services.catalog.apply_bundle(&bundle).await?;
        if created {
            self.services
                .store
                .append_audit(&lever_store::AuditEntry {
                    run_id: None,
                    kind: "template-adopted",
                    actor: &principal.id,
                    data: json!({
                        "template": entry.record.name,
                        "version": entry.record.version,
                        "location": location.to_string(),
                    }),
                    policy_version: None,
                })
                .await?;
        }
        Ok(entry.record.name.clone())
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("an HTTP client with rustls")
    })
}

/// The token Lever reads the catalog with for `principal`: their own Backstage user token
/// (`caller_token`, only when that is how they proved who they are), else the configured
/// service token. A Lever API token or an OIDC token is never sent to the portal.
fn catalog_token(
    catalog: &PortalCatalog,
    principal: &Principal,
    caller_token: Option<&str>,
) -> Result<String, ServiceError> {
    if principal.source == Source::Backstage
        && let Some(token) = caller_token
    {
        return Ok(token.to_string());
    }
    if let Some(variable) = &catalog.token_env
        && let Ok(token) = std::env::var(variable)
        && !token.is_empty()
    {
        return Ok(token);
    }
    Err(ServiceError::new(
        Kind::Unauthenticated,
        "portal-token-needed",
        "this Lever reads templates from the Backstage portal's catalog as the caller: call with a Backstage user token, or set backstage.catalog.token_env for other callers",
    ))
}

/// The entity as a template document: what the catalog added while processing it (its uid,
/// etag, relations, status) left out, so an unchanged template stays one version.
pub fn document(entity: &Value) -> Value {
    let mut document = entity.clone();
    if let Some(top) = document.as_object_mut() {
        top.remove("relations");
        top.remove("status");
        if let Some(metadata) = top.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["uid", "etag", "generation"] {
                metadata.remove(key);
            }
        }
    }
    document
}

/// The template a portal's `document` is, as Lever's catalog parses one: its owner and tags say
/// who may run it, as for any template.
pub fn template(document: &Value) -> Result<lever_templates::Template, ServiceError> {
    lever_templates::parse(&document.to_string())
        .map(|parsed| parsed.template)
        .map_err(|e| {
            ServiceError::invalid("invalid-template", format!("the portal's template: {e}"))
        })
}

/// Where a portal's template is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// A file on the portal's disk (`file:/srv/templates/x/template.yaml`).
    File(PathBuf),
    /// A file in a repository (`url:https://github.com/o/r/blob/main/x/template.yaml`).
    Url(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "file:{}", path.display()),
            Location::Url(url) => write!(f, "url:{url}"),
        }
    }
}

/// The entity's location, as Backstage's scaffolder picks it: its source location, else the
/// location that manages it. A folder (`…/`) stands for its `template.yaml`.
fn location(entity: &Value) -> Result<Location, ServiceError> {
    let annotations = &entity["metadata"]["annotations"];
    let found = LOCATION_ANNOTATIONS
        .iter()
        .find_map(|key| annotations[*key].as_str())
        .ok_or_else(|| {
            ServiceError::invalid(
                "template-location",
                "the portal's template has no backstage.io/source-location or backstage.io/managed-by-location annotation, so its files cannot be found",
            )
        })?;
    let file = |target: &str| {
        if target.ends_with('/') {
            format!("{target}template.yaml")
        } else {
            target.to_string()
        }
    };
    if let Some(path) = found.strip_prefix("file:") {
        return Ok(Location::File(PathBuf::from(file(path))));
    }
    if let Some(url) = found.strip_prefix("url:") {
        return Ok(Location::Url(file(url)));
    }
    Err(ServiceError::invalid(
        "template-location",
        format!("the portal's template is at `{found}`: Lever reads `file:` and `url:` locations"),
    ))
}

/// A `file:` template with its files, read under the configured root that holds it.
fn from_disk(catalog: &PortalCatalog, path: &Path, text: &str) -> Result<Bundle, ServiceError> {
    let refused =
        |message: String| ServiceError::new(Kind::Forbidden, "template-location", message);
    let canonical = path
        .parent()
        .and_then(|folder| folder.canonicalize().ok())
        .ok_or_else(|| {
            refused(format!(
                "the portal's template location {} cannot be read",
                path.display()
            ))
        })?;
    let root = catalog
        .file_roots
        .iter()
        .filter_map(|root| root.canonicalize().ok())
        .find(|root| canonical.starts_with(root))
        .ok_or_else(|| {
            refused(format!(
                "the portal's template is at {}, outside backstage.catalog.file_roots: add its folder there to let Lever read it",
                path.display()
            ))
        })?;
    let file_name = path.file_name().unwrap_or_default();
    let relative = canonical.join(file_name);
    let relative = relative.strip_prefix(&root).map_err(|_| {
        refused(format!(
            "{} is not under {}",
            path.display(),
            root.display()
        ))
    })?;
    Bundle::around(&root, &relative.to_string_lossy(), text)
        .map_err(|e| ServiceError::invalid("invalid-bundle", e.to_string()))
}

/// A repository file's URL split where Backstage's URL readers split it: the repository's
/// address up to the ref (`https://github.com/o/r`, `https://gitlab.com/g/p/-`), the ref, and
/// the path inside the repository.
fn split_repository_url(url: &str) -> Option<(String, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let at = parts
        .iter()
        .position(|p| *p == "blob" || *p == "tree")
        .filter(|at| *at >= 3 && parts.len() > at + 2)?;
    Some((
        format!("{scheme}://{}", parts[..at].join("/")),
        parts[at + 1].to_string(),
        parts[at + 2..].join("/"),
    ))
}

/// A `url:` template with its files, each relative fetch's folder (or file) downloaded through
/// the git-provider bound for the repository's host.
async fn from_repository(
    services: &Services,
    principal: &Principal,
    url: &str,
    text: &str,
) -> Result<Bundle, ServiceError> {
    let (repository, reference, template_path) = split_repository_url(url).ok_or_else(|| {
        ServiceError::invalid(
            "template-location",
            format!("the portal's template is at `{url}`, not a …/blob/REF/PATH or …/tree/REF/PATH repository URL"),
        )
    })?;
    let mut bundle = Bundle::single(&template_path, text);
    let parsed = lever_templates::parse(text)
        .map_err(|e| ServiceError::invalid("invalid-template", e.to_string()))?;
    for (_, _, action, relative) in bundle::relative_fetches(&parsed.template) {
        let target = bundle::resolve(&template_path, &relative)
            .map_err(|e| ServiceError::invalid("template-location", e.to_string()))?;
        let single = action.ends_with(":file");
        let kind = if single { "blob" } else { "tree" };
        let address = format!("{repository}/{kind}/{reference}/{target}");
        for file in download(services, principal, &address).await? {
            let path = if single {
                target.clone()
            } else {
                bundle::normalize(&format!("{target}/{}", file.0))
                    .map_err(|e| ServiceError::invalid("template-location", e.to_string()))?
            };
            bundle.files.insert(path, file.1);
        }
    }
    Ok(bundle)
}

/// Every file under a repository URL, through the git-provider bound for its host.
async fn download(
    services: &Services,
    principal: &Principal,
    url: &str,
) -> Result<Vec<(String, BundleFile)>, ServiceError> {
    let input = json!({ "url": url });
    let scope = lever_capabilities::Scope {
        context: lever_sandbox::CallContext {
            run_id: "portal-catalog".into(),
            step_id: "download-files".into(),
            attempt: 1,
            requester: principal.id.clone(),
            ..Default::default()
        },
        log: lever_sandbox::LogBook::new(16 * 1024),
        host: lever_capabilities::route_host(&input),
        owner: None,
        template: None,
    };
    let answer = services
        .catalog
        .capabilities()
        .call(&scope, "git-provider", "download-files", input)
        .await
        .map_err(|e| {
            ServiceError::new(
                Kind::Unavailable,
                "template-files",
                format!("the template's files at {url} could not be read through the git-provider: {}: {}", e.kind, e.message),
            )
        })?;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut files = Vec::new();
    for file in answer.as_array().map(Vec::as_slice).unwrap_or_default() {
        let path = file["path"].as_str().unwrap_or_default().to_string();
        let bytes = engine
            .decode(file["content_base64"].as_str().unwrap_or_default())
            .map_err(|e| {
                ServiceError::new(
                    Kind::Unavailable,
                    "template-files",
                    format!("the git-provider answered {path} of {url} in invalid base64: {e}"),
                )
            })?;
        let mode = if file["link"].as_bool() == Some(true) {
            LINK_MODE
        } else if file["executable"].as_bool() == Some(true) {
            0o755
        } else {
            0o644
        };
        files.push((path, BundleFile { mode, bytes }));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_file_url_splits_at_its_ref() {
        assert_eq!(
            split_repository_url("https://github.com/acme/t/blob/main/hello/template.yaml"),
            Some((
                "https://github.com/acme/t".into(),
                "main".into(),
                "hello/template.yaml".into()
            ))
        );
        assert_eq!(
            split_repository_url("https://gitlab.com/g/sub/p/-/blob/v2/template.yaml"),
            Some((
                "https://gitlab.com/g/sub/p/-".into(),
                "v2".into(),
                "template.yaml".into()
            ))
        );
        assert_eq!(split_repository_url("https://github.com/acme/t"), None);
    }

    #[test]
    fn the_location_is_the_source_location_first_and_a_folder_stands_for_its_template() {
        let entity = json!({"metadata": {"annotations": {
            "backstage.io/managed-by-location": "url:https://github.com/o/r/blob/main/x/template.yaml",
            "backstage.io/source-location": "url:https://github.com/o/r/tree/main/y/",
        }}});
        assert_eq!(
            location(&entity).unwrap(),
            Location::Url("https://github.com/o/r/tree/main/y/template.yaml".into())
        );
        let entity = json!({"metadata": {"annotations": {
            "backstage.io/managed-by-location": "file:/srv/t/template.yaml",
        }}});
        assert_eq!(
            location(&entity).unwrap(),
            Location::File("/srv/t/template.yaml".into())
        );
        let entity = json!({"metadata": {"annotations": {
            "backstage.io/managed-by-location": "bitbucket-server:x",
        }}});
        assert_eq!(location(&entity).unwrap_err().code, "template-location");
    }

    #[test]
    fn what_the_catalog_adds_is_left_out_of_the_document() {
        let entity = json!({
            "apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
            "metadata": {"name": "t", "uid": "u", "etag": "e", "namespace": "default"},
            "spec": {"steps": []}, "relations": [], "status": {}
        });
        assert_eq!(
            document(&entity),
            json!({
                "apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
                "metadata": {"name": "t", "namespace": "default"}, "spec": {"steps": []}
            })
        );
    }
}
