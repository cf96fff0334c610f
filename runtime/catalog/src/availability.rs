//! Whether a template can run here, before anyone fills its form: every step's action is a
//! published plugin or a capability with a binding. What is missing is said twice — in words
//! for the developer, and as the fix for the platform team — and a template that needs
//! something missing is shown as not available and refused at submit (409), instead of
//! failing its run with a message meant for someone else.

use lever_registry::PluginRef;
use lever_templates::{OnFailure, plugin_reference};
use serde::Serialize;

use crate::{Catalog, CatalogError, Entry, MissingAction};

/// Whether a template can run here, and what it lacks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Availability {
    /// False when a step that always runs, and fails the run without it, lacks its action or
    /// binding.
    pub available: bool,
    /// Everything it lacks; `required: false` for what only optional steps (skipped on
    /// failure, or run under a condition) need.
    pub missing: Vec<MissingAction>,
}

/// What a capability is for, as its WIT doc comment says it: " (source hosting: …)".
fn purpose(capability: &str) -> String {
    lever_sandbox::purpose_of(capability)
        .map(|p| {
            let p = p.trim_end_matches('.');
            let mut chars = p.chars();
            let first = chars.next().map(|c| c.to_lowercase().to_string());
            format!(" ({}{})", first.unwrap_or_default(), chars.as_str())
        })
        .unwrap_or_default()
}

/// A capability function (`git-provider.create-repository`) whose capability has no binding.
pub(crate) fn unbound(action: &str, capability: &str) -> MissingAction {
    let purpose = purpose(capability);
    MissingAction {
        action: action.to_string(),
        plugin: capability.to_string(),
        closest: Vec::new(),
        required: true,
        message: format!(
            "This needs `{capability}`{purpose}, which this Lever is not connected to yet."
        ),
        fix: format!(
            "Bind `{capability}` to an adapter in lever.yaml (`bindings.{capability}`; docs/adapters.md lists the adapters and their settings)."
        ),
    }
}

/// A capability bound to an adapter that was never published.
pub(crate) fn unpublished_adapter(action: &str, capability: &str, adapter: &str) -> MissingAction {
    let purpose = purpose(capability);
    MissingAction {
        action: action.to_string(),
        plugin: adapter.to_string(),
        closest: Vec::new(),
        required: true,
        message: format!(
            "This needs `{capability}`{purpose}, whose adapter is not installed in this Lever yet."
        ),
        fix: format!(
            "`bindings.{capability}.adapter` names `{adapter}`, which is not published: publish the adapter (`lever plugin publish`; docs/adapters.md)."
        ),
    }
}

/// An action no published plugin provides.
pub(crate) fn unpublished(action: &str, plugin: &str, closest: Vec<String>) -> MissingAction {
    let near = if closest.is_empty() {
        String::new()
    } else {
        format!(
            " Published plugins with close names: {}.",
            closest.join(", ")
        )
    };
    MissingAction {
        action: action.to_string(),
        plugin: plugin.to_string(),
        closest,
        required: true,
        message: format!("The action `{action}` this needs is not installed in this Lever yet."),
        fix: format!("Publish a plugin named `{plugin}` (`lever plugin publish`).{near}"),
    }
}

impl Catalog {
    /// Whether `binding`'s provider is here: a built-in one always is, an adapter once a
    /// plugin of that name is published.
    pub(crate) async fn adapter_published(
        &self,
        binding: &lever_capabilities::BindingConfig,
    ) -> bool {
        if binding.is_builtin() {
            return true;
        }
        match PluginRef::parse(&binding.adapter) {
            Ok(r) => self.registry.resolve(&r).await.is_ok(),
            Err(_) => false,
        }
    }

    /// What template version `entry` lacks here, from its steps alone (no parameters, no
    /// plans): what a catalog page, a form and the platform team's template list show.
    pub async fn availability(&self, entry: &Entry) -> Result<Availability, CatalogError> {
        let mut missing: Vec<MissingAction> = Vec::new();
        let bindings = self.capabilities.bindings();
        for step in &entry.parsed.template.steps {
            let found = if let Some((capability, _)) =
                lever_capabilities::capability_action(&step.action)
            {
                // A keyed binding (`git-provider/gitlab`, chosen by host) does it too.
                let keyed = format!("{capability}/");
                let bound: Vec<&lever_capabilities::BindingConfig> = bindings
                    .iter()
                    .filter(|(k, _)| *k == capability || k.starts_with(&keyed))
                    .map(|(_, b)| b)
                    .collect();
                let mut lacking = None;
                for binding in &bound {
                    if !self.adapter_published(binding).await {
                        lacking = Some(unpublished_adapter(
                            &step.action,
                            capability,
                            &binding.adapter,
                        ));
                    }
                }
                if bound.is_empty() {
                    Some(unbound(&step.action, capability))
                } else {
                    lacking
                }
            } else {
                let reference = plugin_reference(&step.action);
                let resolves = match PluginRef::parse(&reference) {
                    Ok(r) => self.registry.resolve(&r).await.is_ok(),
                    Err(_) => false,
                };
                let plugin = reference.split('@').next().unwrap_or(&reference);
                (!resolves).then(|| unpublished(&step.action, plugin, Vec::new()))
            };
            let Some(mut need) = found else { continue };
            let optional = step.on_failure == OnFailure::Skip || step.condition.is_some();
            match missing.iter_mut().find(|m| m.action == need.action) {
                Some(known) => known.required |= !optional,
                None => {
                    need.required = !optional;
                    missing.push(need);
                }
            }
        }
        Ok(Availability {
            available: !missing.iter().any(|m| m.required),
            missing,
        })
    }
}
