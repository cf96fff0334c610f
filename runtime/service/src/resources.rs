//! The resource inventory (`docs/resources.md`): what Lever created, for which team, by which
//! run, what it costs and where its credentials are. Every signed-in user may list it (it
//! holds references, never values); each entry says whether the caller may read its
//! credentials.

use lever_identity::Principal;
use lever_store::{ResourceFilter, ResourceRecord, resource_state};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{Kind, ServiceError, Services};
pub use lever_capabilities::Reconciled;

/// Whether `principal` may read the credentials of a resource: the platform role, a member of
/// its owning team, or who asked for it.
pub fn may_read(principal: &Principal, resource: &ResourceRecord) -> bool {
    principal.is_platform()
        || principal.id == resource.requester
        || principal.team.as_deref() == Some(resource.owner.as_str())
        || principal.in_group(&resource.owner)
}

/// A resource as it is shown: the record, its age and whether the caller may read its
/// credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceView {
    /// The inventory's record.
    #[serde(flatten)]
    pub resource: ResourceRecord,
    /// Milliseconds since it was created.
    pub age_ms: i64,
    /// Whether the caller may read its credentials (`GET /api/v1/secrets/{path}`).
    pub may_read_credentials: bool,
}

/// The inventory, as `GET /api/v1/resources` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceList {
    /// Each resource, newest first.
    pub resources: Vec<ResourceView>,
}

/// `resource` as `principal` is shown it.
pub fn view(principal: &Principal, resource: &ResourceRecord) -> ResourceView {
    ResourceView {
        resource: resource.clone(),
        age_ms: (lever_store::now_ms() - resource.created_at).max(0),
        may_read_credentials: may_read(principal, resource),
    }
}

/// The inventory, narrowed by `filter`, newest first, at most `limit` (1 to 1000).
pub async fn list(
    services: &Services,
    principal: &Principal,
    filter: ResourceFilter,
    limit: i64,
) -> Result<Vec<ResourceView>, ServiceError> {
    if let Some(wanted) = &filter.state
        && !resource_state::ALL.contains(&wanted.as_str())
    {
        return Err(ServiceError::invalid(
            "invalid-state",
            format!(
                "state `{wanted}` is none of {}",
                resource_state::ALL.join(", ")
            ),
        ));
    }
    let resources = services
        .store
        .resources(&filter, limit.clamp(1, 1000))
        .await?;
    Ok(resources.iter().map(|r| view(principal, r)).collect())
}

/// Resource `id`, or not found.
pub async fn get(services: &Services, id: &str) -> Result<ResourceRecord, ServiceError> {
    services
        .store
        .resource(id)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no resource with id `{id}`")))
}

/// Asks each live resource's provider whether it still has it, now: the gone are marked
/// `drifted`. Platform role.
pub async fn reconcile(
    services: &Services,
    principal: &Principal,
) -> Result<lever_capabilities::Reconciled, ServiceError> {
    require_platform(principal, "reconciling the resource inventory")?;
    services
        .catalog
        .capabilities()
        .reconcile()
        .await
        .map_err(|e| ServiceError::new(Kind::Unavailable, "unavailable", e.message))
}
