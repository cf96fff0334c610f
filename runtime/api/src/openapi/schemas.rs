//! The shapes of the API's answers that are not yet typed where they are built. The answers
//! of runs (`RunCreated`, `RunView` with its `StepView`s and log lines, `Resubmitted`,
//! `RunList`, `EventList`, `RatingList`), plugins (`PluginView`, `PluginList`,
//! `PluginVersions`), the inventory (`ResourceView`, `ResourceList`) and the catalog
//! (`TemplateApplied`, `TemplateList`, `TemplateView`, `Validation`, and the preview,
//! `lever_catalog::Preview`) are the application layer's own types (`lever_service::runs`,
//! `plugins`, `resources`, `templates`), serialised by the handlers and described from the same
//! definitions; the rest are still described here field by field while their handlers build
//! JSON (nested documents the caller defines — inputs, outputs, form pages — stay free-form
//! objects). schemathesis checks every answer of a live server against the document in CI, so
//! neither can drift unseen.

// The types here are only described, never built: their handlers answer JSON themselves.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// Every error: a stable code, a message that says what to fix, and details where there are
/// some (field errors, the line of a syntax error).
#[derive(ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// The error itself.
#[derive(ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, kebab-case: `invalid-json`, `forbidden`, `not-found`, `wrong-state`...
    code: String,
    /// What went wrong and what to do about it.
    message: String,
    /// Structured details, when there are any.
    details: Option<Value>,
}

/// A WebAssembly component's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct Component(Vec<u8>);

/// A template bundle: a tar, tar.gz or zip archive of the template and its files.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct TemplateBundle(Vec<u8>);

/// Approval stages.
#[derive(ToSchema)]
pub(crate) struct ApprovalList {
    /// Each stage with its run's context, approvers, SLA and decisions.
    approvals: Vec<Value>,
}

/// A decision recorded.
#[derive(ToSchema)]
pub(crate) struct DecisionView {
    outcome: DecideOutcome,
    /// The stage after the decision.
    approval: Value,
}

/// What a decision did.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub(crate) enum DecideOutcome {
    Counted,
    StageApproved,
    RunReleased,
    RunRejected,
}

/// What was sent to the caller.
#[derive(ToSchema)]
pub(crate) struct NotificationList {
    notifications: Vec<NotificationView>,
}

/// A notification, with the caller's own one-click links.
#[derive(ToSchema)]
pub(crate) struct NotificationView {
    id: i64,
    stage_id: String,
    /// `approval-requested`, `reminder`, `escalated`, `expired`.
    kind: String,
    recipients: Vec<String>,
    body: Value,
    at: i64,
    /// `approve` and `reject` links for the caller.
    links: Option<Value>,
}

/// A policy version published.
#[derive(ToSchema)]
pub(crate) struct PolicyPublished {
    name: String,
    version: i64,
    sha256: String,
    /// The version of the policies now in force.
    in_force: String,
}

/// The stored policies and the version in force.
#[derive(ToSchema)]
pub(crate) struct PolicyList {
    in_force: String,
    policies: Vec<PolicySummary>,
}

/// A stored policy version.
#[derive(ToSchema)]
pub(crate) struct PolicySummary {
    name: String,
    version: i64,
    sha256: String,
    created_by: String,
    created_at: i64,
}

/// A policy with its Rego source.
#[derive(ToSchema)]
pub(crate) struct PolicyView {
    name: String,
    /// A number, or `builtin` for the default policy never replaced.
    #[schema(value_type = Value)]
    version: Value,
    source: String,
    sha256: Option<String>,
    created_by: Option<String>,
    created_at: Option<i64>,
}

/// A policy decision.
#[derive(ToSchema)]
pub(crate) struct Evaluation {
    /// The route, its stages and the reasons.
    decision: Value,
    policy_version: String,
}

/// Audit rows.
#[derive(ToSchema)]
pub(crate) struct AuditList {
    entries: Vec<AuditRow>,
}

/// One row of the hash-chained audit trail.
#[derive(ToSchema)]
pub(crate) struct AuditRow {
    seq: i64,
    at: i64,
    run_id: Option<String>,
    kind: String,
    actor: String,
    data: Value,
    policy_version: Option<String>,
    prev_hash: String,
    hash: String,
}

/// The audit chain checked.
#[derive(ToSchema)]
pub(crate) struct AuditCheck {
    rows: i64,
    intact: bool,
    /// The rows that do not hold, and why.
    problems: Vec<String>,
}

/// The caller.
#[derive(ToSchema)]
pub(crate) struct Me {
    id: String,
    name: String,
    email: Option<String>,
    team: Option<String>,
    groups: Vec<String>,
    /// `developer`, and what the groups grant: `approver`, `platform`.
    roles: Vec<String>,
    /// Which templates the caller's groups may run.
    runs: Vec<Value>,
    /// How the caller authenticated.
    source: Value,
}

/// A token created: the secret is shown this once.
#[derive(ToSchema)]
pub(crate) struct TokenCreated {
    token: String,
    record: TokenView,
}

/// A token, never its secret.
#[derive(ToSchema)]
pub(crate) struct TokenView {
    id: String,
    user_id: String,
    name: String,
    created_at: i64,
    created_by: String,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

/// Tokens.
#[derive(ToSchema)]
pub(crate) struct TokenList {
    tokens: Vec<TokenView>,
}

/// The manual clock moved.
#[derive(ToSchema)]
pub(crate) struct ClockView {
    now_ms: i64,
    /// RFC 3339.
    now: String,
}

/// What a reconciliation of the inventory found.
#[derive(ToSchema)]
pub(crate) struct ReconcileView {
    /// Live resources asked about.
    checked: i64,
    /// Ids of those their provider no longer has, now `drifted`.
    drifted: Vec<String>,
    /// Ids of those whose provider did not answer, left as they were.
    unchecked: Vec<String>,
}

/// What each capability is bound to.
#[derive(ToSchema)]
pub(crate) struct BindingList {
    bindings: Vec<BindingView>,
}

/// One capability.
#[derive(ToSchema)]
pub(crate) struct BindingView {
    /// `git-provider`, `secrets-store`, `infrastructure`, `notifier`, `observability`,
    /// `software-catalog`.
    capability: String,
    functions: Vec<String>,
    /// The adapter or built-in (`builtin:postgres`), `null` when unbound.
    adapter: Option<String>,
    /// Its settings; credentials are `secret://` references.
    settings: Option<Value>,
}

/// A revealed secret.
#[derive(ToSchema)]
pub(crate) struct SecretView {
    name: String,
    value: String,
}

/// The platform's adoption, efficiency, quality and satisfaction over a window, and the
/// sentences that read them together.
#[derive(ToSchema)]
pub(crate) struct InsightsView {
    from: i64,
    to: i64,
    adoption: Value,
    efficiency: Value,
    quality: Value,
    satisfaction: Value,
    /// The inventory now: `live` and `live_monthly_cost_cents`, `orphaned` and
    /// `orphaned_monthly_cost_cents`, `drifted`.
    resources: Value,
    /// Findings: a sentence with the numbers behind it.
    interpretation: Vec<Value>,
}
