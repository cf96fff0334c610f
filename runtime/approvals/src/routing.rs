//! From a request to a route: the policy's input (template, parameters, environment, cost,
//! step risks, teams affected, requester, time and freeze windows), its decision, and the
//! stages to create with the context approvers will see.

use lever_catalog::Preview;
use lever_identity::format_rfc3339;
use lever_identity::{Config, Principal};
use lever_policy::{Decision, Required};
use lever_store::{NewApproval, NewStage};
use serde_json::{Value, json};

/// What the policy decided for one request.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The policy's answer.
    pub decision: Decision,
    /// What it was given.
    pub input: Value,
    /// Which policy version decided.
    pub policy_version: String,
    /// The stages to store with the run.
    pub approval: NewApproval,
}

impl Routed {
    /// The route as previews and run responses show it.
    pub fn summary(&self) -> Value {
        json!({
            "route": self.approval.route,
            "policy_version": self.policy_version,
            "reasons": self.decision.reasons,
            "stages": self.decision.stages,
        })
    }
}

/// `group:default/payments` → `payments`.
fn team_of(owner: &str) -> String {
    let owner = owner.rsplit('/').next().unwrap_or(owner);
    owner.strip_prefix("group:").unwrap_or(owner).to_string()
}

/// The requester as the policy sees them.
pub(crate) fn requester(principal: &Principal) -> Value {
    json!({"id": principal.id, "team": principal.team, "groups": principal.groups})
}

/// The time and the change-freeze windows in force.
pub(crate) fn time(config: &Config, now: i64) -> Value {
    let windows: Vec<Value> = config
        .freeze_active(now)
        .iter()
        .map(|w| json!({"name": w.name, "reason": w.reason}))
        .collect();
    json!({"now": format_rfc3339(now), "now_ms": now, "freeze": {"active": !windows.is_empty(), "windows": windows}})
}

/// The largest cost the policy sees ($10 trillion a month): plugins report costs, and past
/// 2^53 cents the figure is no longer an integer to Rego, whose arithmetic then fails (found
/// by the fuzz test below).
const MAX_COST_CENTS: u64 = 1_000_000_000_000_000;

/// The policy input for a template run, from its preview.
pub(crate) fn template_input(
    preview: &Preview,
    template: &lever_templates::Template,
    principal: &Principal,
    config: &Config,
    now: i64,
) -> Value {
    let environment = preview
        .parameters
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("dev")
        .to_string();
    let steps: Vec<Value> = preview
        .steps
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "action": s.action,
                "plugin": s.resolved,
                "digest": s.digest,
                "risk": s.risk.map(|r| if r == lever_sandbox::Risk::High { "high" } else { "standard" }).unwrap_or("standard"),
                "approval_required": s.approval_required,
            })
        })
        .collect();
    // The teams whose resources the run creates or changes: those the parameters name as
    // owner or team. (The template's own owner publishes the golden path; it is not affected.)
    let mut teams: Vec<String> = Vec::new();
    for key in ["owner", "team"] {
        if let Some(owner) = preview
            .parameters
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            teams.push(team_of(owner));
        }
    }
    teams.sort();
    teams.dedup();
    // What exists already, and whose it is: the policy may weigh the owners a run touches.
    let existing: Vec<Value> = preview
        .steps
        .iter()
        .filter_map(|s| s.plan.as_ref().map(|p| (s, p)))
        .flat_map(|(s, p)| p.resources.iter().map(move |r| (s, r)))
        .filter_map(|(s, r)| {
            let e = r.existing.as_ref()?;
            Some(json!({"step": s.id, "kind": r.kind, "name": r.name, "owner": e.owner, "managed": e.managed}))
        })
        .collect();
    let mut owners: Vec<String> = existing
        .iter()
        .filter_map(|e| e["owner"].as_str().map(str::to_string))
        .collect();
    owners.sort();
    owners.dedup();
    json!({
        "template": {"name": template.name, "version": preview.version, "owner": template.owner, "type": template.template_type, "tags": template.tags},
        "parameters": preview.parameters,
        "environment": environment,
        "cost": {"monthly_usd": preview.monthly_cost_cents.min(MAX_COST_CENTS) as f64 / 100.0},
        "steps": steps,
        "teams_affected": teams,
        "resources": {"existing": existing, "affected_owners": owners, "conflicts": preview.conflicts.len()},
        "requester": requester(principal),
        "time": time(config, now),
        "directory": directory(config, &principal.id),
    })
}

/// Who could decide what the policy may ask for: for each group and team this Lever knows, how
/// many of its members are not the requester (a stage whose groups have none would wait until
/// it expires), and the groups of the platform team (where the default policy sends such a
/// stage instead).
pub(crate) fn directory(config: &Config, requester: &str) -> Value {
    let deciders: serde_json::Map<String, Value> = config
        .group_names()
        .into_iter()
        .map(|g| {
            let others = config
                .members_of(&g)
                .iter()
                .filter(|m| m.as_str() != requester)
                .count();
            (g, json!(others))
        })
        .collect();
    json!({"deciders": deciders, "platform_groups": config.platform_groups()})
}

/// The team a run acts for: the `owner` (or `team`) its parameters name, else the requester's.
pub fn acting_team(parameters: &Value, principal: &Principal) -> Option<String> {
    lever_capabilities::owning_team(parameters).or_else(|| principal.team.clone())
}

/// The resources a preview would touch that are not the requester's team's to use: those
/// another team owns (or that the requester is not a member of the owning team for), and
/// those that exist outside Lever. The same team asking again for what it has is no conflict:
/// its run finds it and hands its credentials reference back.
pub fn conflicts(preview: &Preview, principal: &Principal) -> Vec<lever_catalog::Conflict> {
    let team = acting_team(&preview.parameters, principal);
    let member = |owner: &str| {
        principal.team.as_deref() == Some(owner) || principal.groups.iter().any(|g| g == owner)
    };
    let mut found = Vec::new();
    for step in &preview.steps {
        let Some(plan) = &step.plan else { continue };
        for resource in &plan.resources {
            let Some(existing) = &resource.existing else {
                continue;
            };
            let message = match &existing.owner {
                // Acting on (deleting, rotating) what the inventory does not hold.
                None if resource.change != "exists" => format!(
                    "Lever has no record of creating {} `{}`: it acts only on what it created",
                    resource.kind, resource.name
                ),
                None => format!(
                    "{} `{}` already exists{} and Lever did not create it: it is never adopted silently; choose another name, or ask the platform team to adopt it",
                    resource.kind,
                    resource.name,
                    existing
                        .provider_owner
                        .as_deref()
                        .map(|o| format!(" (owned there by `{o}`)"))
                        .unwrap_or_default()
                ),
                Some(owner) if Some(owner.as_str()) != team.as_deref() || !member(owner) => {
                    format!(
                        "{} `{}` already exists and belongs to team {owner} (created by run {} for {}); {} may not use it for {}: choose another name, or ask team {owner} to share it",
                        resource.kind,
                        resource.name,
                        existing.created_by_run.as_deref().unwrap_or("?"),
                        existing.requester.as_deref().unwrap_or("?"),
                        principal.id,
                        team.as_deref()
                            .map(|t| format!("team {t}"))
                            .unwrap_or_else(|| "no team".into()),
                    )
                }
                Some(owner) if existing.state.as_deref() == Some("orphaned") => format!(
                    "{} `{}` of team {owner} was left behind by a failed rollback of run {}: the platform team cleans it up before it is used again",
                    resource.kind,
                    resource.name,
                    existing.created_by_run.as_deref().unwrap_or("?"),
                ),
                Some(_) => continue,
            };
            found.push(lever_catalog::Conflict {
                step: step.id.clone(),
                kind: resource.kind.clone(),
                name: resource.name.clone(),
                owner: existing.owner.clone(),
                message,
            });
        }
    }
    found
}

/// The context every channel shows approvers.
pub(crate) fn context(
    run_label: &str,
    input: &Value,
    decision: &Decision,
    resources: Value,
) -> Value {
    json!({
        "request": run_label,
        "template_version": input["template"]["version"],
        "requested_by": input["requester"],
        "environment": input["environment"],
        "monthly_cost_usd": input["cost"]["monthly_usd"],
        "parameters": input["parameters"],
        "steps": input["steps"],
        "high_risk_steps": input["steps"].as_array().map(|s| s.iter().filter(|x| x["risk"] == "high").cloned().collect::<Vec<_>>()).unwrap_or_default(),
        "teams_affected": input["teams_affected"],
        "freeze": input["time"]["freeze"],
        "policy_reasons": decision.reasons,
        "resources": resources,
    })
}

/// Distinct members of any of `groups`, sorted: who a stage's notifications go to, and how
/// many approvals a stage that needs "all" of them counts.
pub(crate) fn members(config: &Config, groups: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = groups.iter().flat_map(|g| config.members_of(g)).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The stages to store for `decision`.
pub(crate) fn new_approval(
    decision: &Decision,
    policy_version: &str,
    input: &Value,
    context: &Value,
    config: &Config,
    now: i64,
    gate_steps: bool,
) -> NewApproval {
    let stages = decision
        .stages
        .iter()
        .map(|s| {
            let mut ctx = context.clone();
            ctx["stage_reasons"] = json!(s.reasons);
            NewStage {
                name: s.name.clone(),
                step_id: if gate_steps { s.step.clone() } else { None },
                order: i64::from(s.order),
                groups: s.groups.clone(),
                required: match s.required {
                    Required::All => members(config, &s.groups).len().max(1) as i64,
                    Required::Count(n) => i64::from(n),
                },
                reasons: s.reasons.clone(),
                sla_ms: (s.sla_minutes as i64).saturating_mul(60_000),
                escalate_to: s.escalate_to.clone(),
                expire_ms: s.expire_minutes.map(|m| (m as i64).saturating_mul(60_000)),
                on_expiry: serde_json::to_value(s.on_expiry)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "reject".into()),
                context: ctx,
            }
        })
        .collect::<Vec<_>>();
    NewApproval {
        route: if stages.is_empty() {
            "automatic".into()
        } else {
            "approval".into()
        },
        policy_version: policy_version.to_string(),
        decision: json!({"decision": decision, "input": input}),
        stages,
        now,
    }
}

#[cfg(test)]
mod fuzz {
    //! The policy input builder fuzzed: whatever parameters and steps a preview holds, the
    //! input it builds is a document the default policy decides on.

    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("payments".to_string()),
            Just("group:default/payments".to_string()),
            Just("user:alice".to_string()),
            Just("production".to_string()),
            Just("".to_string()),
            "\\PC{0,16}",
        ]
    }

    fn parameter() -> impl Strategy<Value = Value> {
        prop_oneof![
            text().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            prop::collection::vec(text(), 0..3).prop_map(|v| json!(v)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn the_policy_decides_on_any_preview(
            parameters in prop::collection::btree_map(
                prop_oneof![Just("owner".to_string()), Just("team".to_string()), Just("environment".to_string()), "[a-z]{1,8}"],
                parameter(), 0..6),
            steps in prop::collection::vec((text(), any::<bool>(), any::<bool>()), 0..5),
            cost in any::<u64>(),
            now in any::<i32>(),
        ) {
            let config = lever_identity::Config::from_yaml(lever_identity::EMBEDDED_CONFIG).unwrap();
            let principal = config.principal("alice").unwrap();
            let template = lever_templates::parse(
                "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\nspec:\n  owner: group:default/platform\n  steps: []\n",
            )
            .unwrap()
            .template;
            let preview = lever_catalog::Preview {
                template: "t".into(),
                version: 1,
                parameters: Value::Object(parameters.into_iter().collect()),
                errors: Vec::new(),
                steps: steps
                    .into_iter()
                    .enumerate()
                    .map(|(i, (action, high, gate))| lever_catalog::StepPreview {
                        id: format!("s{i}"),
                        name: action.clone(),
                        action,
                        resolved: None,
                        digest: None,
                        status: "planned",
                        input: json!({}),
                        plan: None,
                        message: None,
                        risk: Some(if high { lever_sandbox::Risk::High } else { lever_sandbox::Risk::Standard }),
                        approval_required: gate,
                    })
                    .collect(),
                missing_actions: Vec::new(),
                runnable: true,
                monthly_cost_cents: cost,
                approval: None,
                conflicts: Vec::new(),
            };
            let input = super::template_input(&preview, &template, &principal, &config, i64::from(now) * 1000);
            let decision = lever_policy::PolicySet::default_policy().decide(&input);
            prop_assert!(decision.is_ok(), "{input:#}: {decision:?}");
        }
    }
}
