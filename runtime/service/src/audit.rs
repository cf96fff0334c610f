//! The audit trail: a run's rows (whoever may see the run), the whole trail and its
//! verification (the platform role).

use lever_identity::Principal;
use lever_store::{AuditRecord, AuditVerification};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{ServiceError, Services};

/// Rows of the audit trail, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// The rows, each chained to the one before by its hash.
    pub entries: Vec<AuditRecord>,
}

/// The rows of run `run`, or of the whole trail when `run` is `None` (platform role).
pub async fn entries(
    services: &Services,
    principal: &Principal,
    run: Option<&str>,
) -> Result<AuditList, ServiceError> {
    match run {
        None => require_platform(principal, "reading the whole audit trail")?,
        Some(run) => {
            crate::visibility::visible_run(services, principal, run).await?;
        }
    }
    let entries = services.store.audit(run).await?;
    Ok(AuditList { entries })
}

/// The chain recomputed, and checked against the anchor kept outside the database when there
/// is one (platform role).
pub async fn verify(
    services: &Services,
    principal: &Principal,
) -> Result<AuditVerification, ServiceError> {
    require_platform(principal, "verifying the audit trail")?;
    Ok(match &services.audit_anchor {
        Some(anchor) => anchor.verify(&services.store).await?,
        None => services.store.verify_audit().await?,
    })
}
