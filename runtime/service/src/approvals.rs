//! Deciding an approval stage.

use lever_identity::Principal;

use crate::{ServiceError, Services};

/// `principal` approves or rejects stage `id` (a rejection needs a comment, which says why),
/// and the executor is woken for a run the decision lets go on. `via` says where it came from
/// (`api`, `web`, `email`, `slack`).
pub async fn decide(
    services: &Services,
    principal: &Principal,
    id: &str,
    approve: bool,
    comment: &str,
    via: &str,
) -> Result<lever_store::DecideOutcome, ServiceError> {
    if !approve && comment.trim().is_empty() {
        return Err(ServiceError::invalid(
            "comment-required",
            "say why you reject: send {\"comment\": \"...\"}",
        ));
    }
    let outcome = services
        .approvals
        .decide(principal, id, approve, comment, via)
        .await?;
    services.executor.nudge();
    Ok(outcome)
}
