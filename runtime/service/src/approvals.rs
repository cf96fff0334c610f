//! Approvals: what waits for the caller, a run's stages, one stage, deciding, and the
//! notifications sent to the caller.

pub use lever_approvals::ApprovalView;
use lever_identity::Principal;
use lever_store::DecideOutcome;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{ServiceError, Services};

/// How many recent runs [`decided_by`] looks through.
const DECIDED_RUNS_SCANNED: i64 = 200;

/// Stages, each with its run's context.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalList {
    /// The stages asked for.
    pub approvals: Vec<ApprovalView>,
}

/// What a decision did, and the stage after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// Counted, the stage approved, the run released or rejected.
    pub outcome: DecideOutcome,
    /// The stage as it stands now.
    pub approval: ApprovalView,
}

/// Open stages `principal` may decide and has not yet.
pub async fn assigned(
    services: &Services,
    principal: &Principal,
) -> Result<ApprovalList, ServiceError> {
    let approvals = services.approvals.assigned(principal).await?;
    Ok(ApprovalList { approvals })
}

/// Every stage of run `run`, when `principal` may see the run.
pub async fn of_run(
    services: &Services,
    principal: &Principal,
    run: &str,
) -> Result<ApprovalList, ServiceError> {
    crate::visibility::visible_run(services, principal, run).await?;
    let approvals = services.approvals.of_run(run).await?;
    Ok(ApprovalList { approvals })
}

/// One stage, when `principal` may see its run.
pub async fn get(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<ApprovalView, ServiceError> {
    let view = services.approvals.get(id).await?;
    crate::visibility::visible_run(services, principal, &view.run)
        .await
        .map_err(|_| ServiceError::not_found(format!("no approval `{id}`")))?;
    Ok(view)
}

/// The stages of recent runs `principal` decided, newest run first, at most `limit`.
pub async fn decided_by(
    services: &Services,
    principal: &Principal,
    limit: usize,
) -> Result<Vec<ApprovalView>, ServiceError> {
    let mut decided = Vec::new();
    for run in services.store.recent_runs(DECIDED_RUNS_SCANNED).await? {
        for stage in services.approvals.of_run(&run.id).await? {
            if stage.decisions.iter().any(|d| d.approver == principal.id) {
                decided.push(stage);
            }
        }
        if decided.len() >= limit {
            break;
        }
    }
    Ok(decided)
}

/// The longest comment a decision keeps.
pub const MAX_COMMENT: usize = 2000;

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
) -> Result<DecideOutcome, ServiceError> {
    if !approve && comment.trim().is_empty() {
        return Err(ServiceError::invalid(
            "comment-required",
            "say why you reject: send {\"comment\": \"...\"}",
        ));
    }
    let length = comment.chars().count();
    if length > MAX_COMMENT {
        return Err(ServiceError::invalid(
            "comment-too-long",
            format!(
                "the comment is at most {MAX_COMMENT} characters (it has {length}); shorten it"
            ),
        ));
    }
    let outcome = services
        .approvals
        .decide(principal, id, approve, comment, via)
        .await?;
    services.executor.nudge();
    Ok(outcome)
}

/// [`decide`], answering the outcome with the stage as it stands after it.
pub async fn decide_and_view(
    services: &Services,
    principal: &Principal,
    id: &str,
    approve: bool,
    comment: &str,
    via: &str,
) -> Result<DecisionView, ServiceError> {
    let outcome = decide(services, principal, id, approve, comment, via).await?;
    let approval = services.approvals.get(id).await?;
    Ok(DecisionView { outcome, approval })
}

/// One notification sent to the caller, with the caller's own one-click links only.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// Its id, in sending order.
    pub id: i64,
    /// The stage it is about.
    pub stage_id: String,
    /// `request`, `reminder`, `escalation`, `expired`, `decided`...
    pub kind: String,
    /// Who it went to.
    pub recipients: Vec<String>,
    /// What it said (its links removed: see `links`).
    #[schema(value_type = Object)]
    pub body: Value,
    /// When (ms).
    pub at: i64,
    /// The caller's own approve and reject links, when it carried any.
    #[schema(value_type = Option<Object>)]
    pub links: Option<Value>,
}

/// What was sent to the caller, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// The notifications.
    pub notifications: Vec<NotificationView>,
}

/// What was sent to `principal`, with only their own one-click links (another approver's
/// links would let the caller decide in their name).
pub async fn notifications(
    services: &Services,
    principal: &Principal,
) -> Result<NotificationList, ServiceError> {
    let notifications = services
        .store
        .notifications(Some(&principal.id))
        .await?
        .into_iter()
        .map(|mut n| {
            let links = n.body["links"].get(&principal.id).cloned();
            n.body["links"] = Value::Object(Default::default());
            NotificationView {
                id: n.id,
                stage_id: n.stage_id,
                kind: n.kind,
                recipients: n.recipients,
                body: n.body,
                at: n.at,
                links,
            }
        })
        .collect();
    Ok(NotificationList { notifications })
}

/// What a one-click link (email, Slack) asks of whom, with the stage's context; checking a
/// link never decides.
pub async fn link(
    services: &Services,
    token: &str,
) -> Result<(lever_approvals::CheckedLink, ApprovalView), ServiceError> {
    let link = services.approvals.check_link(token).await?;
    let view = services.approvals.view(&link.stage).await?;
    Ok((link, view))
}

/// Decides through a one-click link, once (its nonce is spent with the decision); `caller`,
/// when the link's holder is signed in, must be the approver it was sent to. The executor is
/// woken for a run the decision lets go on.
pub async fn decide_by_link(
    services: &Services,
    token: &str,
    caller: Option<&Principal>,
    comment: &str,
) -> Result<(lever_approvals::CheckedLink, DecideOutcome), ServiceError> {
    let decided = services
        .approvals
        .decide_by_link(token, caller, comment)
        .await?;
    services.executor.nudge();
    Ok(decided)
}
