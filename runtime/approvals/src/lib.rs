//! Approvals: the policy in force routes each request (automatic, or stages of approvers);
//! approvers decide through the API or a one-click link; timers remind at half the SLA,
//! escalate when it is breached, and expire stages. Every decision and timer commits with its
//! audit row (see `lever-store`), so a crash loses none of them and each timer fires once.

mod error;
mod links;
mod routing;
mod timers;
mod view;

use std::sync::{Arc, RwLock};

use lever_catalog::Preview;
use lever_identity::{Config, LinkSigner, Principal};
use lever_policy::{DEFAULT_POLICY, DEFAULT_POLICY_NAME, PolicySet};
use lever_store::{Clock, DecideOutcome, PolicyRecord, StageRecord, Store};
use serde_json::{Value, json};

pub use error::ApprovalError;
pub use links::CheckedLink;
pub use routing::{Routed, acting_team};
pub use view::ApprovalView;

/// The policy set in force and its version label (`default@builtin`, `default@3,extra@1`).
struct Active {
    set: PolicySet,
    version: String,
}

/// The approvals service. One per process.
pub struct Approvals {
    store: Store,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    signer: LinkSigner,
    link_ttl_ms: i64,
    base_url: String,
    active: RwLock<Active>,
    /// Wakes the timer task (after the clock moves, or a stage opens).
    nudge: tokio::sync::Notify,
    /// Delivers notifications by email, when `smtp:` is configured.
    email: Option<lever_notify::EmailNotifier>,
    /// Delivers them through the `notifier` capability instead, when it is bound to an adapter.
    capabilities: Arc<lever_capabilities::Capabilities>,
}

impl Approvals {
    /// Loads the policies in force from the store. Notifications go out through
    /// `capabilities`' `notifier` when it is bound to an adapter (Slack: each approver gets a
    /// message with approve and reject buttons), else by `email`; their one-click links point
    /// at `base_url` (the server's own address).
    pub async fn new(
        store: Store,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        signer: LinkSigner,
        email: Option<lever_notify::EmailNotifier>,
        capabilities: Arc<lever_capabilities::Capabilities>,
        base_url: &str,
    ) -> Result<Arc<Self>, ApprovalError> {
        let link_ttl_ms = config.links.ttl_ms();
        let this = Arc::new(Self {
            store,
            config,
            clock,
            signer,
            link_ttl_ms,
            base_url: base_url.trim_end_matches('/').to_string(),
            active: RwLock::new(Active {
                set: PolicySet::default_policy(),
                version: format!("{DEFAULT_POLICY_NAME}@builtin"),
            }),
            nudge: tokio::sync::Notify::new(),
            email,
            capabilities,
        });
        this.reload().await?;
        Ok(this)
    }

    /// The configuration (users, groups, Slack ids).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The clock approvals read.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Wakes the timers (after the clock moved).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// The stored policies plus the built-in default (unless a stored `default` replaces it).
    fn modules(stored: &[PolicyRecord]) -> (Vec<(String, String)>, String) {
        let mut modules = Vec::new();
        let mut labels = Vec::new();
        if !stored.iter().any(|p| p.name == DEFAULT_POLICY_NAME) {
            modules.push((
                format!("{DEFAULT_POLICY_NAME}.rego"),
                DEFAULT_POLICY.to_string(),
            ));
            labels.push(format!("{DEFAULT_POLICY_NAME}@builtin"));
        }
        for p in stored {
            modules.push((format!("{}.rego", p.name), p.source.clone()));
            labels.push(format!("{}@{}", p.name, p.version));
        }
        (modules, labels.join(","))
    }

    /// Recompiles the policies in force from the store.
    pub async fn reload(&self) -> Result<(), ApprovalError> {
        let stored = self.store.current_policies().await?;
        let (modules, version) = Self::modules(&stored);
        let set = PolicySet::compile(&modules)?;
        *self.active.write().expect("not poisoned") = Active { set, version };
        Ok(())
    }

    /// Publishes a new version of policy `name`: it must compile alone and together with the
    /// other policies in force; a syntax error names its line and column.
    pub async fn put_policy(
        &self,
        name: &str,
        source: &str,
        by: &Principal,
    ) -> Result<(PolicyRecord, bool), ApprovalError> {
        PolicySet::compile(&[(format!("{name}.rego"), source.to_string())])?;
        let mut stored: Vec<PolicyRecord> = self
            .store
            .current_policies()
            .await?
            .into_iter()
            .filter(|p| p.name != name)
            .collect();
        stored.push(PolicyRecord {
            name: name.into(),
            version: 0,
            source: source.into(),
            sha256: String::new(),
            created_by: by.id.clone(),
            created_at: 0,
        });
        let (modules, _) = Self::modules(&stored);
        let candidate = PolicySet::compile(&modules)?;
        // The decision rule must still evaluate on a typical request.
        candidate.decide(&self.sample_input(by))?;
        let stored = self.store.put_policy(name, source, &by.id).await?;
        self.reload().await?;
        Ok(stored)
    }

    fn sample_input(&self, by: &Principal) -> Value {
        json!({
            "template": {"name": "sample", "owner": by.team, "type": "service", "tags": []},
            "parameters": {}, "environment": "dev", "cost": {"monthly_usd": 0.0}, "steps": [],
            "teams_affected": [], "requester": routing::requester(by), "time": routing::time(&self.config, self.now()),
        })
    }

    /// The version label of the policies in force.
    pub fn policy_version(&self) -> String {
        self.active.read().expect("not poisoned").version.clone()
    }

    /// Evaluates the policies in force on `input`.
    pub fn evaluate(
        &self,
        input: &Value,
    ) -> Result<(lever_policy::Decision, String), ApprovalError> {
        let active = self.active.read().expect("not poisoned");
        Ok((active.set.decide(input)?, active.version.clone()))
    }

    /// The policy input a template request with this preview would be routed on, as
    /// [`Approvals::route_template`] builds it (the policy page's sample).
    pub fn input_for(
        &self,
        preview: &Preview,
        template: &lever_templates::Template,
        principal: &Principal,
    ) -> Value {
        routing::template_input(preview, template, principal, &self.config, self.now())
    }

    /// Routes a template run from its preview (which gains the route), for `principal`.
    pub fn route_template(
        &self,
        preview: &mut Preview,
        template: &lever_templates::Template,
        principal: &Principal,
    ) -> Result<Routed, ApprovalError> {
        let now = self.now();
        preview.conflicts = routing::conflicts(preview, principal);
        let input = routing::template_input(preview, template, principal, &self.config, now);
        let (decision, version) = self.evaluate(&input)?;
        let resources: Vec<Value> = preview
            .steps
            .iter()
            .filter_map(|s| s.plan.as_ref())
            .flat_map(|p| p.resources.iter())
            .map(|r| json!(r))
            .collect();
        let context = routing::context(
            &format!("template {}", template.name),
            &input,
            &decision,
            json!(resources),
        );
        let approval = routing::new_approval(
            &decision,
            &version,
            &input,
            &context,
            &self.config,
            now,
            true,
        );
        let routed = Routed {
            decision,
            input,
            policy_version: version,
            approval,
        };
        preview.approval = Some(routed.summary());
        Ok(routed)
    }

    /// Routes a single-action run: one step, the action's risk, no cost estimate. Stages the
    /// policy puts on the step gate the whole run.
    pub fn route_action(
        &self,
        action: &str,
        risk: lever_sandbox::Risk,
        input_value: &Value,
        environment: &str,
        principal: &Principal,
    ) -> Result<Routed, ApprovalError> {
        let now = self.now();
        let risk = if risk == lever_sandbox::Risk::High {
            "high"
        } else {
            "standard"
        };
        let input = json!({
            "template": {"name": action, "owner": null, "type": "action", "tags": []},
            "parameters": input_value,
            "environment": environment,
            "cost": {"monthly_usd": 0.0},
            "steps": [{"id": action, "action": action, "risk": risk, "approval_required": false}],
            "teams_affected": [],
            "requester": routing::requester(principal),
            "time": routing::time(&self.config, now),
            "directory": routing::directory(&self.config, &principal.id),
        });
        let (decision, version) = self.evaluate(&input)?;
        let context = routing::context(&format!("action {action}"), &input, &decision, json!([]));
        let approval = routing::new_approval(
            &decision,
            &version,
            &input,
            &context,
            &self.config,
            now,
            false,
        );
        Ok(Routed {
            decision,
            input,
            policy_version: version,
            approval,
        })
    }

    /// Whether `principal` may decide on `stage` of a run requested by `requester`.
    fn check_approver(
        principal: &Principal,
        stage: &StageRecord,
        requester: &str,
    ) -> Result<(), ApprovalError> {
        if principal.id == requester {
            return Err(ApprovalError::Forbidden(format!(
                "{} requested this run and cannot approve it; someone in {} must",
                principal.id,
                stage.groups.join(" or ")
            )));
        }
        if !stage.groups.iter().any(|g| principal.in_group(g)) {
            return Err(ApprovalError::Forbidden(format!(
                "stage `{}` is for members of {}; {} is in none of them",
                stage.name,
                stage.groups.join(", "),
                principal.id
            )));
        }
        Ok(())
    }

    /// `principal` approves or rejects a stage.
    pub async fn decide(
        &self,
        principal: &Principal,
        stage_id: &str,
        approve: bool,
        comment: &str,
        via: &str,
    ) -> Result<DecideOutcome, ApprovalError> {
        let stage = self
            .store
            .stage(stage_id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(format!("no approval `{stage_id}`")))?;
        let run = self
            .store
            .run(&stage.run_id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(format!("no run `{}`", stage.run_id)))?;
        Self::check_approver(principal, &stage, &run.requester)?;
        let outcome = self
            .store
            .decide_stage(stage_id, &principal.id, approve, comment, via, self.now())
            .await?;
        self.nudge();
        if outcome != DecideOutcome::Counted
            && let Some(opened) = stage.opened_at
        {
            let waited = (self.now() - opened) as f64 / 1000.0;
            lever_metrics::approval_decided(&stage.policy_version, &stage.name, waited);
        }
        tracing::info!(stage = %stage.name, run = %run.id, approver = %principal.id, ?outcome, "approval decided");
        Ok(outcome)
    }

    /// A stage as approvers see it: its context, decisions and what remains.
    pub async fn view(&self, stage: &StageRecord) -> Result<ApprovalView, ApprovalError> {
        let decisions = self.store.stage_decisions(&stage.id).await?;
        let approvals = decisions.iter().filter(|d| d.decision == "approve").count() as i64;
        let run = self.store.run(&stage.run_id).await?;
        Ok(ApprovalView {
            id: stage.id.clone(),
            run: stage.run_id.clone(),
            run_status: run.as_ref().map(|r| r.status),
            template: run.as_ref().and_then(|r| r.template.clone()),
            requester: run.as_ref().map(|r| r.requester.clone()),
            stage: stage.name.clone(),
            step: stage.step_id.clone(),
            status: stage.status,
            groups: stage.groups.clone(),
            required: stage.required,
            approvals,
            order: stage.order,
            reasons: stage.reasons.clone(),
            context: stage.context.clone(),
            opened_at: stage.opened_at,
            due_at: stage.due_at(),
            reminded_at: stage.reminded_at,
            escalated_at: stage.escalated_at,
            escalate_to: stage.escalate_to.clone(),
            expires_at: stage.opened_at.zip(stage.expire_ms).map(|(o, e)| o + e),
            expired_at: stage.expired_at,
            decided_at: stage.decided_at,
            policy_version: stage.policy_version.clone(),
            decisions,
        })
    }

    /// Open stages `principal` can decide on and has not yet.
    pub async fn assigned(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ApprovalView>, ApprovalError> {
        let mut out = Vec::new();
        for stage in self.store.open_stages().await? {
            let Some(run) = self.store.run(&stage.run_id).await? else {
                continue;
            };
            if Self::check_approver(principal, &stage, &run.requester).is_err() {
                continue;
            }
            if self
                .store
                .stage_decisions(&stage.id)
                .await?
                .iter()
                .any(|d| d.approver == principal.id)
            {
                continue;
            }
            out.push(self.view(&stage).await?);
        }
        Ok(out)
    }

    /// Every stage of a run, as approvers see them.
    pub async fn of_run(&self, run_id: &str) -> Result<Vec<ApprovalView>, ApprovalError> {
        let mut out = Vec::new();
        for stage in self.store.run_stages(run_id).await? {
            out.push(self.view(&stage).await?);
        }
        Ok(out)
    }

    /// One stage, as approvers see it.
    pub async fn get(&self, stage_id: &str) -> Result<ApprovalView, ApprovalError> {
        let stage = self
            .store
            .stage(stage_id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(format!("no approval `{stage_id}`")))?;
        self.view(&stage).await
    }

    /// Starts the timer task: request notifications, half-time reminders, escalations and
    /// expiries, every second and whenever nudged.
    pub fn spawn_timers(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(this) = weak.upgrade() else { break };
                if let Err(e) = this.tick().await {
                    tracing::warn!(error = %e, "approval timers failed; trying again");
                }
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    () = this.nudge.notified() => {}
                }
            }
        });
    }
}
