//! Published plugins as they are shown.

use lever_identity::Principal;
use lever_plugin::{Grants, Limits, Manifest, PluginKind};
use lever_registry::PublishOptions;
use lever_store::{PluginRecord, PublishOutcome};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{ServiceError, Services};

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

/// Publishes a component for the platform team, with its limits and the grants given on top
/// of its manifest's. Answers the published version and whether it is new (the same bytes
/// published before answer the earlier record).
pub async fn publish(
    services: &Services,
    principal: &Principal,
    component: Vec<u8>,
    options: PublishOptions,
) -> Result<(PluginView, bool), ServiceError> {
    require_platform(principal, "publishing plugins")?;
    if component.is_empty() {
        return Err(ServiceError::invalid(
            "empty-body",
            "send the .wasm component as the request body (Content-Type: application/wasm)",
        ));
    }
    check_limits(&options.limits)?;
    let (record, outcome) = services.registry.publish(component, options).await?;
    Ok((view(&record), outcome == PublishOutcome::Created))
}

/// Invalid unless `limits` allow some work and at most 4 GiB of memory.
fn check_limits(limits: &Limits) -> Result<(), ServiceError> {
    if limits.fuel == 0 || limits.memory_bytes < 64 * 1024 || limits.timeout_ms == 0 {
        return Err(ServiceError::invalid(
            "invalid-limits",
            "limits must allow some work: fuel > 0, memory_bytes >= 65536 (one wasm page), timeout_ms > 0",
        ));
    }
    if limits.memory_bytes > 4 << 30 {
        return Err(ServiceError::invalid(
            "invalid-limits",
            "memory_bytes can be at most 4 GiB (4294967296)",
        ));
    }
    Ok(())
}
