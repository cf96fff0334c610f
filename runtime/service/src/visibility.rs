//! Who may see a run: its requester and their team (the run's acting team too), the people
//! asked to approve it — from the moment a stage opens to them — and the platform team. To
//! anyone else a run does not exist: 404, as if there were no such run, on every transport,
//! so its parameters, logs and comments are not read by people who had no part in it.

use lever_identity::Principal;
use lever_store::RunRecord;

use crate::{ServiceError, Services};

/// Run `id` when `principal` may see it; not found otherwise (and when there is none).
pub async fn visible_run(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<RunRecord, ServiceError> {
    let not_found = || ServiceError::not_found(format!("no run with id `{id}`"));
    let run = services.store.run(id).await?.ok_or_else(not_found)?;
    if may_see(services, principal, &run).await? {
        Ok(run)
    } else {
        Err(not_found())
    }
}

/// Whether `principal` may see `run`.
pub async fn may_see(
    services: &Services,
    principal: &Principal,
    run: &RunRecord,
) -> Result<bool, ServiceError> {
    if principal.is_platform() || shares_the_run(services, principal, run) {
        return Ok(true);
    }
    asked_to_approve(services, principal, run).await
}

/// The requester, their team, and the team the run acts for.
fn shares_the_run(services: &Services, principal: &Principal, run: &RunRecord) -> bool {
    if run.requester == principal.id {
        return true;
    }
    let requester_team = services
        .identity
        .config()
        .principal(&run.requester)
        .and_then(|p| p.team);
    [requester_team.as_deref(), run.owner_team.as_deref()]
        .into_iter()
        .flatten()
        .any(|team| principal.team.as_deref() == Some(team) || principal.in_group(team))
}

/// A member of a group an opened stage of the run asks (or escalated to), or someone who
/// decided one.
async fn asked_to_approve(
    services: &Services,
    principal: &Principal,
    run: &RunRecord,
) -> Result<bool, ServiceError> {
    for stage in services.store.run_stages(&run.id).await? {
        if stage.opened_at.is_none() {
            continue;
        }
        let asked = stage.groups.iter().any(|g| principal.in_group(g))
            || (stage.escalated_at.is_some()
                && stage
                    .escalate_to
                    .as_deref()
                    .is_some_and(|g| principal.in_group(g)));
        if asked {
            return Ok(true);
        }
        if services
            .store
            .stage_decisions(&stage.id)
            .await?
            .iter()
            .any(|d| d.approver == principal.id)
        {
            return Ok(true);
        }
    }
    Ok(false)
}
