//! A stage as approvers see it, in every channel (API, web UI, one-click links): its run, who
//! may decide, its timers, the context the request was routed on, and the decisions so far.

use lever_store::{DecisionRecord, RunStatus, StageStatus};
use serde::Serialize;
use serde_json::Value;

/// One approval stage with its run's context and the decisions made on it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// The stage's id (what `approve` and `reject` take).
    pub id: String,
    /// The run it gates.
    pub run: String,
    /// That run's status now.
    pub run_status: Option<RunStatus>,
    /// The run's template, unless it runs one action.
    pub template: Option<String>,
    /// Who asked.
    pub requester: Option<String>,
    /// The stage's name (`team-lead`, `security-review`...).
    pub stage: String,
    /// The step it gates, when it pauses before one step rather than the whole run.
    pub step: Option<String>,
    /// Open, approved, rejected, expired...
    pub status: StageStatus,
    /// The groups whose members may decide.
    pub groups: Vec<String>,
    /// How many approvals it needs.
    pub required: i64,
    /// How many it has.
    pub approvals: i64,
    /// Stages of one order open together; a higher order opens when the lower are approved.
    pub order: i64,
    /// Why the policy asked for it.
    pub reasons: Vec<String>,
    /// What the approver is shown: the request, its parameters, steps, plan, cost, resources
    /// and the policy's reasons, as routed.
    #[schema(value_type = Object)]
    pub context: Value,
    /// When it opened (ms).
    pub opened_at: Option<i64>,
    /// When its SLA ends (ms).
    pub due_at: Option<i64>,
    /// When the half-time reminder went out (ms).
    pub reminded_at: Option<i64>,
    /// When it was escalated (ms).
    pub escalated_at: Option<i64>,
    /// The group it escalates to after its SLA.
    pub escalate_to: Option<String>,
    /// When it expires (ms), if it does.
    pub expires_at: Option<i64>,
    /// When it expired (ms).
    pub expired_at: Option<i64>,
    /// When it was decided (ms).
    pub decided_at: Option<i64>,
    /// The policy version that routed it.
    pub policy_version: String,
    /// Every decision on it, oldest first.
    pub decisions: Vec<DecisionRecord>,
}
