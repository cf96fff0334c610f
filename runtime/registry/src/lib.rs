//! The plugin registry: accepts components, content-addresses them by sha256, keeps
//! `name@version` immutable, reads each manifest once through `describe`, and hands out
//! ready-to-run [`Plugin`]s, compiled when a run first resolves them (from the disk cache) and kept.

mod reference;
pub mod signature;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lever_sandbox::{Grants, Limits, LoadError, Plugin, Sandbox};
use lever_store::{PluginRecord, PublishOutcome, Store, StoreError, now_ms};
use sha2::{Digest, Sha256};

pub use reference::{PluginRef, ReferenceError, check_name, closest};
pub use signature::{SignatureError, SignaturePolicy, TrustedKey};

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Not a component, not a Lever world, unknown imports, or `describe` failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The manifest's name or version is not acceptable.
    #[error("{0}")]
    InvalidManifest(String),
    /// The same `name@version` exists with other bytes.
    #[error(transparent)]
    Conflict(StoreError),
    /// Storage failure.
    #[error(transparent)]
    Store(StoreError),
    /// The signature is missing, untrusted or does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Why a plugin could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No such plugin or version.
    #[error("{0}")]
    NotFound(String),
    /// The reference is malformed.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The stored component no longer loads (engine upgrade?).
    #[error("the stored plugin {0} no longer loads: {1}")]
    Load(String, LoadError),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the publisher sets besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Limits for every invocation of this version.
    pub limits: Limits,
    /// Grants added to those the manifest asks for.
    pub extra_grants: Grants,
}

/// The registry. One per process; cheap to share behind an `Arc`.
pub struct Registry {
    sandbox: Arc<Sandbox>,
    store: Store,
    loaded: Mutex<HashMap<(String, String), Arc<Plugin>>>,
    /// Each name's published versions as last read, and when. A version never changes once
    /// published, so what can be stale is only a newer version another node published: for
    /// at most [`VERSIONS_FRESH`] (a publish here forgets the name at once). Previews and steps
    /// resolve from memory instead of reading and parsing the manifests every time.
    versions: Mutex<HashMap<String, ReadVersions>>,
    signatures: SignaturePolicy,
}

/// A name's published versions, and when they were read.
type ReadVersions = (std::time::Instant, Arc<Vec<PluginRecord>>);

/// How long a name's versions as read stand for the newest one.
const VERSIONS_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// A store error of a publish: the two conflicts are the publisher's to fix.
fn publish_error(e: StoreError) -> PublishError {
    match e {
        StoreError::VersionConflict { .. } | StoreError::SettingsConflict { .. } => {
            PublishError::Conflict(e)
        }
        other => PublishError::Store(other),
    }
}

impl Registry {
    /// A registry over `store`, compiling with `sandbox`.
    pub fn new(sandbox: Arc<Sandbox>, store: Store) -> Self {
        Self {
            sandbox,
            store,
            loaded: Mutex::new(HashMap::new()),
            versions: Mutex::new(HashMap::new()),
            signatures: SignaturePolicy::default(),
        }
    }

    /// The same registry checking signatures at publish with `policy`.
    pub fn with_signatures(mut self, policy: SignaturePolicy) -> Self {
        self.signatures = policy;
        self
    }

    /// The sandbox plugins run in.
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Publishes a component. Publishing the same bytes again is a no-op.
    pub async fn publish(
        &self,
        bytes: Vec<u8>,
        options: PublishOptions,
    ) -> Result<(PluginRecord, PublishOutcome), PublishError> {
        let digest = hex::encode(Sha256::digest(&bytes));
        let signed_by = self.signatures.check(&bytes)?;
        if let Some(stored) = self
            .store
            .plugin_with_digest(&digest)
            .await
            .map_err(PublishError::Store)?
        {
            // These bytes are published already (a server restarting with `--publish`): the
            // store compares what this publish asks for with what the version has, without
            // compiling the component again only to learn its name.
            let asked = PluginRecord {
                grants: stored.manifest.grants.union(&options.extra_grants),
                limits: options.limits,
                ..stored.clone()
            };
            let outcome = self
                .store
                .publish_plugin(&asked, &bytes)
                .await
                .map_err(publish_error)?;
            return Ok((stored, outcome));
        }
        let sandbox = self.sandbox.clone();
        let bytes = Arc::new(bytes);
        let compile_bytes = bytes.clone();
        // Compiling is CPU-bound: keep it off the async workers.
        let compiled =
            tokio::task::spawn_blocking(move || sandbox.load_for_inspection(&compile_bytes))
                .await
                .map_err(|e| {
                    PublishError::InvalidManifest(format!("compilation panicked: {e}"))
                })??;
        let manifest = self.sandbox.describe(&compiled).await?;
        reference::check_name(&manifest.name).map_err(|e| {
            PublishError::InvalidManifest(format!("describe() returned an invalid name: {e}"))
        })?;
        reference::check_version(&manifest.version).map_err(|e| {
            PublishError::InvalidManifest(format!("describe() returned an invalid version: {e}"))
        })?;
        let grants = manifest.grants.union(&options.extra_grants);
        let record = PluginRecord {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            digest,
            size: bytes.len() as i64,
            manifest: manifest.clone(),
            limits: options.limits,
            grants: grants.clone(),
            published_at: now_ms(),
            signed_by,
        };
        let plugin = Plugin::new(compiled, manifest, options.limits, grants)?;
        let outcome = self
            .store
            .publish_plugin(&record, &bytes)
            .await
            .map_err(publish_error)?;
        match outcome {
            PublishOutcome::Created => {
                self.versions
                    .lock()
                    .expect("registry lock")
                    .remove(&record.name);
                // Not kept loaded: a plugin takes memory only once a run resolves it (then
                // from the compilation cache on disk), so a server publishing a folder of
                // thirty plugins at start does not hold thirty compiled components.
                drop(plugin);
                tracing::info!(name = %record.name, version = %record.version, digest = %record.digest, "plugin published");
                Ok((record, outcome))
            }
            // Same bytes as before: report what is stored (its limits and grants stay).
            PublishOutcome::Unchanged => {
                let stored = self
                    .store
                    .plugin(&record.name, &record.version)
                    .await
                    .map_err(PublishError::Store)?;
                Ok((stored.expect("an unchanged plugin is stored"), outcome))
            }
        }
    }

    /// Every published version.
    pub async fn list(&self) -> Result<Vec<PluginRecord>, StoreError> {
        self.store.plugins().await
    }

    /// Finds the record `reference` names: an exact version, or the highest one.
    pub async fn record(&self, reference: &PluginRef) -> Result<PluginRecord, ResolveError> {
        let versions = self.versions_of(reference).await?;
        if versions.is_empty() {
            let names: Vec<String> = self
                .store
                .plugins()
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect();
            let hint = match closest(&reference.name, &names) {
                Some(best) => format!("; did you mean `{best}`?"),
                None if names.is_empty() => "; no plugin is published yet".to_string(),
                None => format!("; published: {}", dedup(names).join(", ")),
            };
            return Err(ResolveError::NotFound(format!(
                "no action named `{}` is published{hint}",
                reference.name
            )));
        }
        match &reference.version {
            Some(v) => versions
                .iter()
                .find(|r| &r.version == v)
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = versions.iter().map(|r| r.version.as_str()).collect();
                    ResolveError::NotFound(format!(
                        "`{}` has no version {v}; published versions: {}",
                        reference.name,
                        known.join(", ")
                    ))
                }),
            None => Ok(versions
                .iter()
                .max_by(|a, b| reference::compare_versions(&a.version, &b.version))
                .cloned()
                .expect("not empty")),
        }
    }

    /// The published versions of `reference`'s name: from memory while fresh (or, for a
    /// version named exactly, while it is among them), else read and kept. An unknown name is
    /// read every time, so a publish on another node is found at once.
    async fn versions_of(
        &self,
        reference: &PluginRef,
    ) -> Result<Arc<Vec<PluginRecord>>, ResolveError> {
        let kept = self
            .versions
            .lock()
            .expect("registry lock")
            .get(&reference.name)
            .cloned();
        if let Some((read_at, versions)) = kept {
            let named = reference
                .version
                .as_ref()
                .is_some_and(|v| versions.iter().any(|r| &r.version == v));
            if named || read_at.elapsed() < VERSIONS_FRESH {
                return Ok(versions);
            }
        }
        let versions = Arc::new(self.store.plugin_versions(&reference.name).await?);
        if !versions.is_empty() {
            self.versions.lock().expect("registry lock").insert(
                reference.name.clone(),
                (std::time::Instant::now(), versions.clone()),
            );
        }
        Ok(versions)
    }

    /// A ready-to-run plugin, compiled once per process and cached.
    pub async fn resolve(
        &self,
        reference: &PluginRef,
    ) -> Result<(PluginRecord, Arc<Plugin>), ResolveError> {
        let record = self.record(reference).await?;
        let key = (record.name.clone(), record.version.clone());
        if let Some(plugin) = self.loaded.lock().expect("registry lock").get(&key) {
            return Ok((record, plugin.clone()));
        }
        let label = format!("{}@{}", record.name, record.version);
        let bytes = self
            .store
            .plugin_blob(&record.digest)
            .await?
            .ok_or_else(|| {
                ResolveError::NotFound(format!(
                    "the component of {label} is missing from the store"
                ))
            })?;
        let sandbox = self.sandbox.clone();
        let compiled = tokio::task::spawn_blocking(move || sandbox.load(&bytes))
            .await
            .map_err(|e| ResolveError::Load(label.clone(), LoadError::Invalid(e.to_string())))?
            .map_err(|e| ResolveError::Load(label.clone(), e))?;
        let plugin = Arc::new(
            Plugin::new(
                compiled,
                record.manifest.clone(),
                record.limits,
                record.grants.clone(),
            )
            .map_err(|e| ResolveError::Load(label, e))?,
        );
        self.loaded
            .lock()
            .expect("registry lock")
            .insert(key, plugin.clone());
        Ok((record, plugin))
    }
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names
}
