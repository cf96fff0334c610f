//! The template catalog: applies templates (every version kept), searches them, serves their
//! forms, validates parameters (defaults filled, errors per field) and previews a run: the
//! steps in order with rendered inputs, each action's `plan()`, the total monthly cost and
//! the approval route.

mod availability;
mod dry_run;
mod preview;
mod single_action;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lever_registry::Registry;
use lever_store::{NewBundle, NewTemplate, NewTemplateFile, Store, StoreError, TemplateRecord};
use lever_templates::bundle::{self, Bundle};
use lever_templates::{Expressions, Form, Parsed, TemplateError, parse};

pub use availability::Availability;
pub use dry_run::{DryRun, DryRunFile, DryRunStep};
pub use preview::{Conflict, MissingAction, Preview, StepPreview, context};
pub use single_action::{SINGLE_STEP, single_action};

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The template text is invalid.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A bundle is unreadable, or a fetch step names a file it lacks.
    #[error(transparent)]
    Bundle(#[from] lever_templates::bundle::BundleError),
    /// A form page is not valid JSON Schema.
    #[error("{0}")]
    Form(String),
    /// No such template.
    #[error("{0}")]
    NotFound(String),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dry run's throwaway workspace could not be made, or was given files it cannot hold.
    #[error("{0}")]
    DryRun(String),
}

/// One template version, parsed, with its form compiled.
pub struct Entry {
    /// As stored.
    pub record: TemplateRecord,
    /// Parsed, with warnings.
    pub parsed: Parsed,
    /// The compiled form.
    pub form: Form,
}

/// The catalog. One per process.
pub struct Catalog {
    store: Store,
    registry: Arc<Registry>,
    capabilities: Arc<lever_capabilities::Capabilities>,
    expressions: Expressions,
    entries: Mutex<HashMap<(String, i64), Arc<Entry>>>,
}

/// Search filters; empty ones match everything.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Words in the name, title or description.
    pub q: Option<String>,
    /// A tag.
    pub tag: Option<String>,
    /// The owner.
    pub owner: Option<String>,
}

/// The template annotation that says which kinds of resource a template acts on (day-2
/// actions: `lever.dev/acts-on: postgresql-database`). Backstage keeps unknown annotations, so
/// such a template stays a valid Backstage template.
pub const ACTS_ON: &str = "lever.dev/acts-on";

fn compile(record: TemplateRecord) -> Result<Entry, CatalogError> {
    let parsed = parse(&record.source)?;
    let form = Form::new(&parsed.template.pages).map_err(CatalogError::Form)?;
    Ok(Entry {
        record,
        parsed,
        form,
    })
}

impl Catalog {
    /// A catalog over `store`, resolving actions through `registry`.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        capabilities: Arc<lever_capabilities::Capabilities>,
    ) -> Self {
        Self {
            store,
            registry,
            capabilities,
            expressions: Expressions::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The capability bindings template steps call.
    pub fn capabilities(&self) -> &Arc<lever_capabilities::Capabilities> {
        &self.capabilities
    }

    /// Parses and stores a template; returns the entry and whether it is a new version.
    pub async fn apply(&self, source: &str) -> Result<(Arc<Entry>, bool), CatalogError> {
        self.apply_parts(source, None).await
    }

    /// Parses and stores a template with its files; every relative `url` of its fetch steps
    /// must name a folder (or file) of the bundle.
    pub async fn apply_bundle(&self, bundle: &Bundle) -> Result<(Arc<Entry>, bool), CatalogError> {
        self.apply_parts(bundle.template_text()?, Some(bundle))
            .await
    }

    async fn apply_parts(
        &self,
        source: &str,
        bundle: Option<&Bundle>,
    ) -> Result<(Arc<Entry>, bool), CatalogError> {
        let parsed = parse(source)?;
        Form::new(&parsed.template.pages).map_err(CatalogError::Form)?;
        let t = &parsed.template;
        match bundle {
            Some(b) => {
                bundle::check_fetches(t, &b.template_path, b.files.keys().map(String::as_str))?
            }
            None => bundle::check_fetches(t, "template.yaml", std::iter::empty())?,
        }
        let stored = bundle.map(|b| NewBundle {
            template_path: &b.template_path,
            digest: b.digest(),
            files: b
                .files
                .iter()
                .map(|(path, file)| NewTemplateFile {
                    path,
                    mode: file.mode,
                    bytes: &file.bytes,
                    digest: file.digest(),
                })
                .collect(),
        });
        let (record, created) = self
            .store
            .put_template(&NewTemplate {
                name: &t.name,
                source,
                title: t.title.as_deref(),
                description: t.description.as_deref(),
                owner: t.owner.as_deref(),
                tags: &t.tags,
                bundle: stored,
            })
            .await?;
        Ok((self.entry(record)?, created))
    }

    fn entry(&self, record: TemplateRecord) -> Result<Arc<Entry>, CatalogError> {
        let key = (record.name.clone(), record.version);
        if let Some(entry) = self.entries.lock().expect("catalog lock").get(&key) {
            return Ok(entry.clone());
        }
        let entry = Arc::new(compile(record)?);
        self.entries
            .lock()
            .expect("catalog lock")
            .insert(key, entry.clone());
        Ok(entry)
    }

    /// A template that is not applied and never stored (version 0): parsed, its fetch steps
    /// checked against `files` (paths beside it, as a dry run's `directoryContents` give them)
    /// and its form compiled, for a dry run to preview and run.
    pub fn draft(&self, source: &str, files: &[String]) -> Result<Entry, CatalogError> {
        let parsed = parse(source)?;
        let t = &parsed.template;
        let paths = files
            .iter()
            .map(|f| bundle::normalize(f))
            .collect::<Result<Vec<_>, _>>()?;
        bundle::check_fetches(t, "template.yaml", paths.iter().map(String::as_str))?;
        let record = TemplateRecord {
            name: t.name.clone(),
            version: 0,
            source: source.to_string(),
            title: t.title.clone(),
            description: t.description.clone(),
            owner: t.owner.clone(),
            tags: t.tags.clone(),
            created_at: lever_store::now_ms(),
            bundle_path: (!paths.is_empty()).then(|| "template.yaml".to_string()),
            bundle_paths: paths,
            bundle_digest: None,
        };
        let form = Form::new(&t.pages).map_err(CatalogError::Form)?;
        Ok(Entry {
            record,
            parsed,
            form,
        })
    }

    /// The latest version of `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Entry>, CatalogError> {
        let record = self.store.template(name, None).await?.ok_or_else(|| {
            CatalogError::NotFound(format!(
                "no template named `{name}`; GET /api/v1/templates lists them"
            ))
        })?;
        self.entry(record)
    }

    /// One exact version of `name`.
    pub async fn get_version(&self, name: &str, version: i64) -> Result<Arc<Entry>, CatalogError> {
        // A version never changes once applied: one compiled here answers without a read
        // (a run's steps ask for it at every step).
        let kept = self
            .entries
            .lock()
            .expect("catalog lock")
            .get(&(name.to_string(), version))
            .cloned();
        if let Some(entry) = kept {
            return Ok(entry);
        }
        let record = self
            .store
            .template(name, Some(version))
            .await?
            .ok_or_else(|| {
                CatalogError::NotFound(format!("template `{name}` has no version {version}"))
            })?;
        self.entry(record)
    }

    /// The renderer of `${{ }}` expressions.
    pub fn expressions(&self) -> &Expressions {
        &self.expressions
    }

    /// Latest versions matching `search`.
    pub async fn search(&self, search: &Search) -> Result<Vec<TemplateRecord>, CatalogError> {
        let q = search
            .q
            .as_deref()
            .map(str::to_lowercase)
            .unwrap_or_default();
        Ok(self
            .store
            .latest_templates()
            .await?
            .into_iter()
            .filter(|t| {
                let text = format!(
                    "{} {} {}",
                    t.name,
                    t.title.as_deref().unwrap_or(""),
                    t.description.as_deref().unwrap_or("")
                )
                .to_lowercase();
                q.split_whitespace().all(|w| text.contains(w))
            })
            .filter(|t| {
                search
                    .tag
                    .as_ref()
                    .is_none_or(|tag| t.tags.iter().any(|x| x == tag))
            })
            .filter(|t| {
                search
                    .owner
                    .as_ref()
                    .is_none_or(|o| t.owner.as_ref() == Some(o))
            })
            .collect())
    }

    /// The latest templates that declare they act on resources of `kind` (the Lever
    /// annotation [`ACTS_ON`], a comma-separated list of kinds): the day-2 actions a resource's
    /// page offers.
    pub async fn acting_on(&self, kind: &str) -> Result<Vec<Arc<Entry>>, CatalogError> {
        let mut found = Vec::new();
        for record in self.store.latest_templates().await? {
            let entry = self.get_version(&record.name, record.version).await?;
            let acts = entry
                .parsed
                .template
                .annotations
                .get(ACTS_ON)
                .is_some_and(|kinds| kinds.split(',').any(|k| k.trim() == kind));
            if acts {
                found.push(entry);
            }
        }
        Ok(found)
    }
}
