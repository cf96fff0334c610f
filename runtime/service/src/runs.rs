//! Runs: submit (a template, or a single action for the platform team), resubmit with edited
//! parameters, read, control (retry, cancel, abort, a paused step's retry or skip) and rate.

use lever_identity::Principal;
use lever_registry::PluginRef;
use lever_runs::{RunRequest, Target};
use lever_store::{EventRecord, LogRecord, Pin, RatingRecord, RunRecord, RunStatus, StepStatus};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{Kind, ServiceError, Services, templates, timing};

/// A committed submission.
#[derive(Debug)]
pub struct Submitted {
    /// The run.
    pub run: RunRecord,
    /// False when an idempotency key seen before returned the earlier run.
    pub created: bool,
    /// The approval route's summary (automatic, or the stages and why).
    pub approval: Value,
}

/// What a submission asks for, whatever transport it came through.
#[derive(Debug)]
pub struct Submission {
    /// Target environment (`dev` unless said).
    pub environment: String,
    /// The same key returns the same run.
    pub idempotency_key: Option<String>,
    /// Template secrets (Backstage's task `secrets`): `${{ secrets.NAME }}` in the steps'
    /// inputs, sealed at rest until the run finishes and masked wherever the run shows.
    pub secrets: std::collections::BTreeMap<String, String>,
}

impl Submission {
    /// Invalid unless the idempotency key, when given, is 1 to 200 characters.
    fn check(&self) -> Result<(), ServiceError> {
        if let Some(key) = &self.idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(ServiceError::invalid(
                "invalid-idempotency-key",
                "idempotency_key is 1 to 200 characters",
            ));
        }
        Ok(())
    }

    fn request(self, principal: &Principal, target: Target, input: Value) -> RunRequest {
        RunRequest {
            target,
            input,
            requester: principal.id.clone(),
            environment: self.environment,
            idempotency_key: self.idempotency_key,
            resubmitted_from: None,
            approval: None,
            requester_team: principal.team.clone(),
            template_version: None,
            pins: Vec::new(),
            checked: false,
            secrets: None,
        }
    }
}

/// Submits a single action (`name` or `name@version`) with `input`: the platform role only;
/// routed through the approval policy by the action's risk, then committed.
pub async fn submit_action(
    services: &Services,
    principal: &Principal,
    action: &str,
    input: Value,
    submission: Submission,
) -> Result<Submitted, ServiceError> {
    submission.check()?;
    require_platform(
        principal,
        "running a single action directly (developers run templates)",
    )?;
    if !submission.secrets.is_empty() {
        return Err(ServiceError::invalid(
            "invalid-secrets",
            "template secrets are for template runs; give an action its secrets through the secrets store",
        ));
    }
    let reference = PluginRef::parse(action)
        .map_err(|e| ServiceError::invalid("invalid-reference", e.to_string()))?;
    let (_, plugin) = services.registry.resolve(&reference).await?;
    let routed = services.approvals.route_action(
        action,
        plugin.manifest().risk,
        &input,
        &submission.environment,
        principal,
    )?;
    let request = submission.request(principal, Target::Action(action.to_string()), input);
    commit(services, request, routed).await
}

/// Submits a template run for `principal`: the template read, its form validated, previewed
/// and routed once ([`templates::route`]), and committed with that template version and its
/// steps' plugins pinned, so what was previewed and approved is what runs. Refused when a step
/// that would run lacks its action or binding, and when the run would touch a resource the
/// requester's team may not use.
pub async fn submit_template(
    services: &Services,
    principal: &Principal,
    template: &str,
    parameters: Value,
    submission: Submission,
) -> Result<Submitted, ServiceError> {
    submission.check()?;
    // Before the preview's work, which a full queue would waste.
    services.executor.check_capacity()?;
    let (preview, routed) = templates::route(services, principal, template, &parameters).await?;
    templates::refuse_invalid(&preview)?;
    templates::refuse_unrunnable(&preview)?;
    templates::refuse_conflicts(&preview)?;
    let secrets = (!submission.secrets.is_empty())
        .then(|| services.secrets.seal_run_secrets(&submission.secrets));
    let request = RunRequest {
        template_version: Some(preview.version),
        pins: preview.pins(),
        secrets,
        ..submission.request(
            principal,
            Target::Template(template.to_string()),
            parameters,
        )
    };
    commit(services, request, routed).await
}

/// Commits a run with the route the policy chose and wakes the approval timers.
async fn commit(
    services: &Services,
    request: RunRequest,
    routed: lever_approvals::Routed,
) -> Result<Submitted, ServiceError> {
    let approval = routed.summary();
    let (run, created) = timing::timed(
        "commit",
        services.executor.submit(RunRequest {
            approval: Some(routed.approval),
            ..request
        }),
    )
    .await?;
    services.approvals.nudge();
    Ok(Submitted {
        run,
        created,
        approval,
    })
}

/// Resubmits run `id` as a new run of its template with edited `parameters`, previewed and
/// routed again for `principal` (who must be allowed to control run `id`), on the template's
/// latest version, and linked to the old run.
pub async fn resubmit(
    services: &Services,
    principal: &Principal,
    id: &str,
    parameters: Value,
) -> Result<RunRecord, ServiceError> {
    let old = may_control(services, principal, id).await?;
    let template = old.template.ok_or_else(|| {
        ServiceError::new(
            Kind::Conflict,
            "conflict",
            "only template runs can be resubmitted",
        )
    })?;
    let (preview, routed) = templates::route(services, principal, &template, &parameters).await?;
    templates::refuse_invalid(&preview)?;
    templates::refuse_unrunnable(&preview)?;
    templates::refuse_conflicts(&preview)?;
    let run = services
        .executor
        .resubmit(
            id,
            parameters,
            principal.id.clone(),
            Some(routed.approval),
            Some((preview.version, preview.pins())),
        )
        .await?;
    services.approvals.nudge();
    Ok(run)
}

/// Run `id`, or not found.
pub async fn run(services: &Services, id: &str) -> Result<RunRecord, ServiceError> {
    services
        .store
        .run(id)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no run with id `{id}`")))
}

/// Run `id` when `principal` requested it or has the platform role; forbidden to others who
/// may see it, not found to everyone else.
pub async fn may_control(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<RunRecord, ServiceError> {
    let run = crate::visibility::visible_run(services, principal, id).await?;
    if run.requester == principal.id || principal.is_platform() {
        return Ok(run);
    }
    Err(ServiceError::forbidden(format!(
        "only {} (who requested run {id}) or the platform team can control it",
        run.requester
    )))
}

/// What a requester (or the platform team) can do to a run.
#[derive(Debug, Clone)]
pub enum Control {
    /// A failed run restarts from its failed step.
    Retry,
    /// The run stops at the next step boundary and rolls back.
    Cancel,
    /// A paused run rolls back.
    Abort,
    /// A paused step runs again, with an edited input when one is given.
    RetryStep {
        /// The paused step.
        step: String,
        /// Replaces the step's input for this attempt.
        input: Option<Value>,
    },
    /// A paused step is skipped and the run goes on.
    SkipStep {
        /// The paused step.
        step: String,
    },
}

/// Applies `control` to run `id` for `principal`.
pub async fn control(
    services: &Services,
    principal: &Principal,
    id: &str,
    control: Control,
) -> Result<(), ServiceError> {
    may_control(services, principal, id).await?;
    let executor = &services.executor;
    match control {
        Control::Retry => executor.retry_run(id).await?,
        Control::Cancel => executor.cancel(id).await?,
        Control::Abort => executor.abort(id).await?,
        Control::RetryStep { step, input } => executor.resolve_step(id, &step, true, input).await?,
        Control::SkipStep { step } => executor.resolve_step(id, &step, false, None).await?,
    }
    Ok(())
}

/// Gives run `id` new template secrets for its next attempt (a retry's; Backstage's retry
/// sends them again), sealed as at submission, for `principal` who may control it.
pub async fn give_secrets(
    services: &Services,
    principal: &Principal,
    id: &str,
    secrets: &std::collections::BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    let run = may_control(services, principal, id).await?;
    if run.template.is_none() {
        return Err(ServiceError::invalid(
            "invalid-secrets",
            "template secrets are for template runs",
        ));
    }
    let sealed = services.secrets.seal_run_secrets(secrets);
    services.store.set_run_secrets(id, &sealed).await?;
    Ok(())
}

/// The steps of a template run that call `secrets-store.put` or `.rotate`.
async fn steps_writing_secrets(services: &Services, run: &RunRecord) -> Vec<String> {
    let (Some(name), Some(version)) = (&run.template, run.template_version) else {
        return Vec::new();
    };
    let Ok(entry) = services.catalog.get_version(name, version).await else {
        return Vec::new();
    };
    entry
        .parsed
        .template
        .steps
        .iter()
        .filter(|s| {
            matches!(
                lever_capabilities::capability_action(&s.action),
                Some(("secrets-store", "put" | "rotate"))
            )
        })
        .map(|s| s.id.clone())
        .collect()
}

/// A run accepted (201) or found again by its idempotency key (200).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunCreated {
    /// The run's id: `GET /api/v1/runs/{id}` follows it.
    pub id: String,
    /// `pending`, or `awaiting-approval` as the policy routed it.
    pub status: RunStatus,
    /// The approval route the policy chose: `route`, `policy_version`, `reasons`, `stages`.
    pub approval: Value,
}

impl From<Submitted> for RunCreated {
    fn from(submitted: Submitted) -> Self {
        RunCreated {
            id: submitted.run.id,
            status: submitted.run.status,
            approval: submitted.approval,
        }
    }
}

/// A run resubmitted with edited parameters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resubmitted {
    /// The new run.
    pub id: String,
    /// The run it came from.
    pub resubmitted_from: String,
}

/// One run with its steps, log and approval stages.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// The approval stages of the run, each with its approvers, SLA and decisions.
    pub approvals: Vec<lever_approvals::ApprovalView>,
    /// The run's id.
    pub id: String,
    /// The action of a single-action run (`null` for a template run).
    pub action: Option<String>,
    /// Its version.
    pub action_version: Option<String>,
    /// The template of a template run.
    pub template: Option<String>,
    /// The template's version the run was submitted on.
    pub template_version: Option<i64>,
    /// The plugin versions the run was submitted with, which every execution runs.
    pub pins: Vec<Pin>,
    /// Where it stands.
    pub status: RunStatus,
    /// A single-action run's input.
    pub input: Option<Value>,
    /// A template run's parameters.
    pub parameters: Option<Value>,
    /// Its steps, in order (none for a single-action run).
    pub steps: Vec<StepView>,
    /// The output, once it succeeded.
    pub output: Option<Value>,
    /// The error (`{"kind", "message"}`), once it failed.
    pub error: Option<Value>,
    /// Its log.
    pub logs: Vec<LogRecord>,
    /// Who asked for it.
    pub requester: String,
    /// Its environment.
    pub environment: String,
    /// How many times the run was started.
    pub attempt: i64,
    /// `automatic`, `review`...
    pub approval_route: Option<String>,
    /// The policy version that routed it.
    pub policy_version: Option<String>,
    /// The run this one was resubmitted from.
    pub resubmitted_from: Option<String>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// One step of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    /// The step's id.
    pub id: String,
    /// Where it stands.
    pub status: StepStatus,
    /// Attempts started.
    pub attempts: i64,
    /// The rendered input (a secrets-store value is shown as `[sealed]`).
    pub input: Option<Value>,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// Its last error.
    pub error: Option<Value>,
}

/// A run as it is shown: steps (values written to the secrets store sealed), logs, approvals.
pub async fn view(services: &Services, run: RunRecord) -> Result<RunView, ServiceError> {
    let sealed = steps_writing_secrets(services, &run).await;
    // Steps before logs: a step's end commits with its log lines, so every step read as done
    // has its lines in the read that follows (read the other way, a step could end between).
    let steps = services.store.run_steps(&run.id).await?;
    let logs = services.store.run_logs(&run.id).await?;
    let steps = steps
        .into_iter()
        .map(|s| {
            let mut input = s.input;
            // A value written to the secrets store is shown as where it went, never as itself.
            if sealed.contains(&s.id)
                && let Some(value) = input.as_mut().and_then(|i| i.get_mut("value"))
            {
                *value = json!("[sealed]");
            }
            StepView {
                id: s.id,
                status: s.status,
                attempts: s.attempts,
                input,
                output: s.output,
                error: s.error,
            }
        })
        .collect();
    let is_template = run.template.is_some();
    let approvals = services.approvals.of_run(&run.id).await?;
    Ok(RunView {
        approvals,
        id: run.id,
        action: (!is_template).then_some(run.action),
        action_version: (!is_template).then_some(run.action_version),
        template: run.template,
        template_version: run.template_version,
        pins: run.pins,
        status: run.status,
        input: (!is_template).then(|| run.input.clone()),
        parameters: is_template.then_some(run.input),
        steps,
        output: run.output,
        error: run.error,
        logs,
        requester: run.requester,
        environment: run.environment,
        attempt: run.attempt,
        approval_route: run.approval_route,
        policy_version: run.policy_version,
        resubmitted_from: run.resubmitted_from,
        created_at: run.created_at,
        updated_at: run.updated_at,
    })
}

/// Stores `principal`'s rating of run `id`: only its requester rates it, once it is finished,
/// with a score from 1 to 5 and a comment of at most 2,000 characters.
pub async fn rate(
    services: &Services,
    principal: &Principal,
    id: &str,
    score: i64,
    comment: &str,
) -> Result<(), ServiceError> {
    let run = crate::visibility::visible_run(services, principal, id).await?;
    if run.requester != principal.id {
        return Err(ServiceError::forbidden(format!(
            "only {} (who requested run {id}) rates it",
            run.requester
        )));
    }
    if !run.status.is_final() {
        return Err(ServiceError::new(
            Kind::Conflict,
            "wrong-state",
            format!(
                "run {id} is {}; rate it once it has finished",
                run.status.as_str()
            ),
        ));
    }
    if !(1..=5).contains(&score) {
        return Err(ServiceError::invalid(
            "invalid-rating",
            format!("score is a whole number from 1 to 5, not {score}"),
        ));
    }
    if comment.chars().count() > 2000 {
        return Err(ServiceError::invalid(
            "invalid-rating",
            "the comment is at most 2,000 characters",
        ));
    }
    services
        .store
        .rate_run(id, &principal.id, score, comment.trim())
        .await?;
    Ok(())
}

/// A run in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    /// The run's id.
    pub id: String,
    /// The action of a single-action run (empty for a template run).
    pub action: String,
    /// The template of a template run.
    pub template: Option<String>,
    /// Where it stands.
    pub status: RunStatus,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

/// The most recent runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    /// Newest first.
    pub runs: Vec<RunSummary>,
}

/// The `limit` most recent runs `principal` may see, newest first.
pub async fn recent(
    services: &Services,
    principal: &Principal,
    limit: i64,
) -> Result<RunList, ServiceError> {
    let mut runs = Vec::new();
    // Read past the runs the caller may not see, up to a bound.
    for r in services.store.recent_runs(limit.saturating_mul(10)).await? {
        if runs.len() as i64 >= limit {
            break;
        }
        if !crate::visibility::may_see(services, principal, &r).await? {
            continue;
        }
        runs.push(RunSummary {
            id: r.id,
            action: r.action,
            template: r.template,
            status: r.status,
            created_at: r.created_at,
        });
    }
    Ok(RunList { runs })
}

/// Events of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// In the order they happened; each `id` larger than the last.
    pub events: Vec<EventRecord>,
}

/// A run's ratings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingList {
    /// One per user who rated it.
    pub ratings: Vec<RatingRecord>,
}

/// The ratings of run `id`.
pub async fn ratings(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<RatingList, ServiceError> {
    crate::visibility::visible_run(services, principal, id).await?;
    Ok(RatingList {
        ratings: services.store.run_ratings(id).await?,
    })
}

/// Where a reconnecting event-stream client resumes: the `Last-Event-ID` it sent (each
/// event's id is its position), or 0.
pub fn resume_after(last_event_id: Option<&str>) -> i64 {
    last_event_id
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A page of the template runs `principal` may list, filtered and ordered as `filter` says,
/// and how many the filter matches: everyone's for the platform team, else their own and
/// their teams' (a run an approver was asked about is found through their approvals, not
/// here).
pub async fn page(
    services: &Services,
    principal: &Principal,
    mut filter: lever_store::RunPageFilter,
) -> Result<(Vec<RunRecord>, i64), ServiceError> {
    if !principal.is_platform() {
        let config = services.identity.config();
        let mut allowed: Vec<String> = config
            .users
            .iter()
            .filter(|u| {
                u.team.as_deref().is_some_and(|team| {
                    principal.team.as_deref() == Some(team) || principal.in_group(team)
                })
            })
            .map(|u| u.id.clone())
            .collect();
        if !allowed.contains(&principal.id) {
            allowed.push(principal.id.clone());
        }
        filter.requesters = Some(match filter.requesters.take() {
            Some(asked) => asked.into_iter().filter(|r| allowed.contains(r)).collect(),
            None => allowed,
        });
    }
    Ok(services.store.run_page(&filter).await?)
}
