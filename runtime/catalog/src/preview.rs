//! Preview: what a run would do with these parameters, without doing it.

use std::sync::Arc;

use lever_registry::{PluginRef, closest};
use lever_sandbox::{Call, CallContext, ExecutionPlan, HostServices, LogBook};
use lever_templates::{FieldError, OnFailure, plugin_reference};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{Catalog, CatalogError, Entry};

/// An action a template names that no published plugin provides.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingAction {
    /// As the template writes it.
    pub action: String,
    /// The plugin name it maps to.
    pub plugin: String,
    /// Published actions with the closest names.
    pub closest: Vec<String>,
    /// A step that runs, and fails the run without it, needs it: the template cannot run
    /// (with these parameters, in a preview). False when only steps skipped on failure or not
    /// run need it.
    pub required: bool,
    /// What it means, in words for the developer.
    pub message: String,
    /// What the platform team does about it.
    pub fix: String,
}

/// One step of a preview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepPreview {
    /// Step id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Action as written.
    pub action: String,
    /// `name@version` it resolves to.
    pub resolved: Option<String>,
    /// The SHA-256 of that version's component: with `resolved`, what a submitted run is
    /// pinned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `planned`, `no-preview`, `skipped` (its `if` is false), `missing-action`,
    /// `invalid-input` or `plan-failed`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Input with expressions rendered; values that depend on earlier steps' outputs stay as
    /// written.
    pub input: Value,
    /// The action's plan.
    pub plan: Option<ExecutionPlan>,
    /// Why there is no plan, when there is none.
    pub message: Option<String>,
    /// The action's declared risk (`standard` or `high`), when it resolves.
    pub risk: Option<lever_sandbox::Risk>,
    /// The step has `approval: required`.
    pub approval_required: bool,
}

/// A whole preview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// Template name.
    pub template: String,
    /// Template version.
    pub version: i64,
    /// Parameters with defaults.
    pub parameters: Value,
    /// Parameter errors; a preview with errors still shows the steps.
    pub errors: Vec<FieldError>,
    /// Steps in order.
    pub steps: Vec<StepPreview>,
    /// Actions no plugin provides and capabilities with no binding.
    pub missing_actions: Vec<MissingAction>,
    /// False when a step that runs with these parameters lacks its action or binding: such a
    /// run is refused at submit (409) rather than failing.
    pub runnable: bool,
    /// Sum of the plans' monthly costs, in US cents.
    pub monthly_cost_cents: u64,
    /// The approval route the policy chose (filled in by the approvals service).
    pub approval: Option<Value>,
    /// Resources the run would touch that exist and are not the requester's team's to use
    /// (filled in by the approvals service, which knows who asks): a submission is refused
    /// while there is one (`docs/resources.md`).
    pub conflicts: Vec<Conflict>,
}

/// A resource a run would touch that another team owns, or that exists outside Lever.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conflict {
    /// The step that would touch it.
    pub step: String,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The team that owns it in Lever's inventory; none when Lever did not create it.
    pub owner: Option<String>,
    /// What the requester is told: who owns it and what to do.
    pub message: String,
}

/// A plan's monthly cost in cents. A plugin reports any figure it likes: the sum saturates
/// rather than overflow.
fn plan_cost(plan: &ExecutionPlan) -> u64 {
    plan.resources
        .iter()
        .filter_map(|r| r.monthly_cost_cents)
        .fold(0u64, u64::saturating_add)
}

/// `plan()` describes what a run would do; it never needs a secret's value, so a preview
/// hands out none.
pub(crate) struct NoSecretsInPlans;

#[lever_sandbox::async_trait]
impl lever_sandbox::SecretBackend for NoSecretsInPlans {
    async fn get(&self, name: &str) -> Result<Option<String>, lever_sandbox::BackendError> {
        Err(lever_sandbox::BackendError(format!(
            "plan() cannot read secret `{name}`: read secrets in run()"
        )))
    }
}

/// Nor may it call a capability: that would act during a preview.
#[lever_sandbox::async_trait]
impl lever_sandbox::CapabilityBackend for NoSecretsInPlans {
    async fn call(
        &self,
        capability: &str,
        _: &str,
        _: Value,
    ) -> Result<Value, lever_sandbox::CapabilityError> {
        Err(lever_sandbox::CapabilityError::unbound(
            capability,
            "plan() may not call capabilities: call them in run()",
        ))
    }
}

/// Whether an expression text reads earlier steps' outputs, which are unknown before the run.
fn reads_steps(text: &str) -> bool {
    text.contains("steps.") || text.contains("steps[")
}

/// Keeps strings that read earlier steps' outputs as written: they are unknown before the run.
fn render_known(catalog: &Catalog, value: &Value, context: &Value) -> Result<Value, String> {
    match value {
        Value::String(s) if reads_steps(s) => Ok(value.clone()),
        Value::Array(items) => items
            .iter()
            .map(|v| render_known(catalog, v, context))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), render_known(catalog, v, context)?)))
            .collect::<Result<_, String>>()
            .map(Value::Object),
        other => catalog
            .expressions
            .render(other, context)
            .map_err(|e| e.to_string()),
    }
}

/// The expression context of a run before its first step: `parameters`, `user`, no `steps`.
pub fn context(parameters: &Value, user: &str) -> Value {
    json!({
        "parameters": parameters,
        "user": {"ref": format!("user:default/{user}"), "entity": {"metadata": {"name": user}}},
        "steps": {},
    })
}

pub(crate) fn call_context(step_id: &str, user: &str, parameters: &Value) -> CallContext {
    CallContext {
        run_id: "preview".into(),
        step_id: step_id.into(),
        attempt: 1,
        idempotency_key: format!("preview/{step_id}"),
        requester: user.into(),
        environment: parameters
            .get("environment")
            .and_then(Value::as_str)
            .unwrap_or("dev")
            .into(),
    }
}

impl Preview {
    /// The plugin versions this preview resolved, as a run submitted from it is pinned: each
    /// plugin step's action with the `name@version` and digest it showed.
    pub fn pins(&self) -> Vec<lever_store::Pin> {
        let mut pins: Vec<lever_store::Pin> = Vec::new();
        for step in &self.steps {
            let (Some(resolved), Some(digest)) = (&step.resolved, &step.digest) else {
                continue;
            };
            let Some((name, version)) = resolved.split_once('@') else {
                continue;
            };
            if pins.iter().any(|p| p.action == step.action) {
                continue;
            }
            pins.push(lever_store::Pin {
                action: step.action.clone(),
                name: name.to_string(),
                version: version.to_string(),
                digest: digest.clone(),
            });
        }
        pins
    }
}

impl Catalog {
    /// Fills in a step that calls a capability: the binding it goes to, its risk, and the
    /// provider's plan when the input is known before the run. Answers the missing binding.
    #[allow(clippy::too_many_arguments)]
    async fn preview_capability(
        &self,
        preview: &mut StepPreview,
        capability: &str,
        function: &str,
        runs: bool,
        user: &str,
        parameters: &Value,
        cost: &mut u64,
    ) -> Option<MissingAction> {
        preview.risk = Some(lever_capabilities::risk(capability, function));
        let Some(binding) = self.capabilities.bindings().get(capability) else {
            preview.status = "missing-action";
            let missing = crate::availability::unbound(&preview.action, capability);
            preview.message = Some(missing.message.clone());
            return Some(missing);
        };
        preview.resolved = Some(binding.adapter.clone());
        if !self.adapter_published(binding).await {
            preview.status = "missing-action";
            let missing = crate::availability::unpublished_adapter(
                &preview.action,
                capability,
                &binding.adapter,
            );
            preview.message = Some(missing.message.clone());
            return Some(missing);
        }
        if !runs {
            preview.status = "skipped";
            preview.message = Some("its `if` is false for these parameters".into());
            return None;
        }
        if preview.status != "planned" {
            return None;
        }
        if reads_steps(&preview.input.to_string()) {
            preview.status = "no-preview";
            preview.message = Some("its input depends on earlier steps' outputs".into());
            return None;
        }
        if let Err(e) = lever_sandbox::check_capability_input(capability, function, &preview.input)
        {
            preview.status = "invalid-input";
            preview.message = Some(format!(
                "the input of `{capability}.{function}` does not match wit/capabilities.wit: {e}"
            ));
            return None;
        }
        let scope = lever_capabilities::Scope {
            context: call_context(&preview.id, user, parameters),
            log: LogBook::new(16 * 1024),
            host: lever_capabilities::route_host(&preview.input),
            owner: lever_capabilities::owning_team(parameters),
            template: None,
        };
        // An adapter reveals its binding's credentials to plan; whatever it answers is masked.
        let masker = scope.log.masker().clone();
        let planned = self
            .capabilities
            .plan(&scope, capability, function, &preview.input)
            .await;
        match planned {
            Ok(plan) => {
                let plan = serde_json::to_value(&plan)
                    .ok()
                    .and_then(|p| serde_json::from_value(masker.mask_json(&p)).ok())
                    .unwrap_or(plan);
                *cost = cost.saturating_add(plan_cost(&plan));
                preview.plan = Some(plan);
            }
            Err(e) => {
                preview.status = "plan-failed";
                preview.message = Some(masker.mask(&e.message));
            }
        }
        None
    }

    /// Previews a run of the latest version of `name` with `parameters` for `user`.
    pub async fn preview(
        &self,
        name: &str,
        parameters: &Value,
        user: &str,
    ) -> Result<Preview, CatalogError> {
        let entry = self.get(name).await?;
        self.preview_entry(&entry, parameters, user).await
    }

    /// Previews a run of the template version `entry` (read once by the caller, who decides
    /// on that same version) with `parameters` for `user`.
    pub async fn preview_entry(
        &self,
        entry: &Entry,
        parameters: &Value,
        user: &str,
    ) -> Result<Preview, CatalogError> {
        let filled = entry.form.with_defaults(parameters);
        let errors = entry.form.validate(&filled);
        let ctx = context(&filled, user);
        // Every published name, read only when a step's action is missing (to name the closest
        // ones): listing the registry parses every manifest, too slow for each preview.
        let mut published: Option<Vec<String>> = None;
        let mut steps = Vec::new();
        let mut missing: Vec<MissingAction> = Vec::new();
        // Whether each step runs with these parameters (its `if`).
        let mut runs_of: Vec<bool> = Vec::new();
        let mut cost = 0u64;
        for step in &entry.parsed.template.steps {
            let mut preview = StepPreview {
                id: step.id.clone(),
                name: step.name.clone(),
                action: step.action.clone(),
                resolved: None,
                digest: None,
                status: "planned",
                input: Value::Null,
                plan: None,
                message: None,
                risk: None,
                approval_required: step.approval_required,
            };
            match render_known(self, &step.input, &ctx) {
                Ok(input) => preview.input = input,
                Err(e) => {
                    preview.status = "invalid-input";
                    preview.message = Some(e);
                    preview.input = step.input.clone();
                }
            }
            let runs = match &step.condition {
                Some(c) if !c.to_string().contains("steps.") => {
                    self.expressions.is_true(Some(c), &ctx).unwrap_or(true)
                }
                _ => true,
            };
            runs_of.push(runs);
            if let Some((capability, function)) =
                lever_capabilities::capability_action(&step.action)
            {
                if let Some(m) = self
                    .preview_capability(
                        &mut preview,
                        capability,
                        function,
                        runs,
                        user,
                        &filled,
                        &mut cost,
                    )
                    .await
                    && !missing.iter().any(|x| x.action == step.action)
                {
                    missing.push(m);
                }
                steps.push(preview);
                continue;
            }
            let reference = plugin_reference(&step.action);
            let resolved = match PluginRef::parse(&reference) {
                Ok(r) => self.registry.resolve(&r).await.ok(),
                Err(_) => None,
            };
            let Some((record, plugin)) = resolved else {
                if published.is_none() {
                    let mut names: Vec<String> = self
                        .registry
                        .list()
                        .await?
                        .into_iter()
                        .map(|p| p.name)
                        .collect();
                    names.dedup();
                    published = Some(names);
                }
                let published = published.as_deref().unwrap_or_default();
                let plugin_name = reference
                    .split('@')
                    .next()
                    .unwrap_or(&reference)
                    .to_string();
                let mut near: Vec<String> = closest(&plugin_name, published)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                let family: Vec<String> = published
                    .iter()
                    .filter(|p| {
                        p.split('-').next() == plugin_name.split('-').next() && !near.contains(p)
                    })
                    .take(2)
                    .cloned()
                    .collect();
                near.extend(family);
                preview.status = "missing-action";
                preview.message = Some(if near.is_empty() {
                    format!(
                        "no published action provides `{}` (plugin `{plugin_name}`)",
                        step.action
                    )
                } else {
                    format!(
                        "no published action provides `{}` (plugin `{plugin_name}`); closest: {}",
                        step.action,
                        near.join(", ")
                    )
                });
                if !missing.iter().any(|m| m.action == step.action) {
                    missing.push(crate::availability::unpublished(
                        &step.action,
                        &plugin_name,
                        near,
                    ));
                }
                steps.push(preview);
                continue;
            };
            preview.resolved = Some(format!("{}@{}", record.name, record.version));
            preview.digest = Some(record.digest.clone());
            preview.risk = Some(plugin.manifest().risk);
            if !runs {
                preview.status = "skipped";
                preview.message = Some("its `if` is false for these parameters".into());
            } else if preview.status == "planned" {
                let call = Call {
                    context: call_context(&step.id, user, &filled),
                    services: HostServices {
                        state: Arc::new(self.store.clone()),
                        secrets: Arc::new(NoSecretsInPlans),
                        capabilities: Arc::new(NoSecretsInPlans),
                    },
                    log: LogBook::new(16 * 1024),
                    workspace: None,
                    http: lever_sandbox::HttpPolicy::default(),
                };
                match self
                    .registry
                    .sandbox()
                    .plan(&plugin, &call, &preview.input)
                    .await
                {
                    Ok(Some(plan)) => {
                        cost = cost.saturating_add(plan_cost(&plan));
                        preview.plan = Some(plan);
                    }
                    Ok(None) => {
                        preview.status = "no-preview";
                        preview.message =
                            Some("this action does not describe what it would do".into());
                    }
                    Err(lever_sandbox::InvokeError::InvalidInput { errors }) => {
                        preview.status = "invalid-input";
                        preview.message = Some(errors.join("; "));
                    }
                    Err(e) => {
                        preview.status = "plan-failed";
                        preview.message = Some(e.to_string());
                    }
                }
            }
            steps.push(preview);
        }
        // A fetch whose relative `url` the stored bundle cannot serve (a version applied before
        // bundles, or as a lone file) names the step and the path.
        let record = &entry.record;
        let problems = lever_templates::bundle::fetch_problems(
            &entry.parsed.template,
            record.bundle_path.as_deref().unwrap_or("template.yaml"),
            record.bundle_paths.iter().map(String::as_str),
        );
        for (i, problem) in problems {
            let Some(step) = steps.get_mut(i) else {
                continue;
            };
            step.message = Some(match step.message.take() {
                Some(earlier) => format!("{problem}; {earlier}"),
                None => problem,
            });
            if step.status == "planned" {
                step.status = "missing-file";
            }
        }
        // What is missing stops the run only where a step that runs fails the run without it.
        for need in &mut missing {
            need.required = entry
                .parsed
                .template
                .steps
                .iter()
                .zip(&runs_of)
                .any(|(step, runs)| {
                    step.action == need.action && *runs && step.on_failure != OnFailure::Skip
                });
        }
        let runnable = !missing.iter().any(|m| m.required);
        Ok(Preview {
            runnable,
            template: entry.record.name.clone(),
            version: entry.record.version,
            parameters: filled,
            errors,
            steps,
            missing_actions: missing,
            monthly_cost_cents: cost,
            approval: None,
            conflicts: Vec::new(),
        })
    }
}
