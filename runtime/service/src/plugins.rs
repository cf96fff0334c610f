//! Published plugins as they are shown.

use lever_plugin::{Grants, Limits, Manifest, PluginKind};
use lever_store::PluginRecord;
use serde::Serialize;
use utoipa::ToSchema;

/// A published plugin version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `action` or `adapter`.
    pub kind: PluginKind,
    /// `sha256:` and the hex digest of the component's bytes.
    pub digest: String,
    /// Bytes.
    pub size: i64,
    /// One line for the catalog.
    pub description: String,
    /// The manifest the component declares: schemas, grants, risk.
    pub manifest: Manifest,
    /// Fuel, memory, time and output limits it runs under.
    pub limits: Limits,
    /// Hosts and secrets it may reach.
    pub grants: Grants,
    /// Milliseconds since the epoch.
    pub published_at: i64,
    /// The trusted key (`plugins.trusted_keys`) its signature verified with; null when unsigned.
    pub signed_by: Option<String>,
}

/// Every published plugin version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    /// The versions.
    pub plugins: Vec<PluginView>,
}

/// The versions of one plugin.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginVersions {
    /// The plugin.
    pub name: String,
    /// The version a bare name resolves to.
    pub latest: String,
    /// Every version.
    pub versions: Vec<PluginView>,
}

/// A published plugin as the API and the platform pages show it.
pub fn view(record: &PluginRecord) -> PluginView {
    PluginView {
        name: record.name.clone(),
        version: record.version.clone(),
        kind: record.manifest.kind,
        digest: format!("sha256:{}", record.digest),
        size: record.size,
        description: record.manifest.description.clone(),
        manifest: record.manifest.clone(),
        limits: record.limits,
        grants: record.grants.clone(),
        published_at: record.published_at,
        signed_by: record.signed_by.clone(),
    }
}
