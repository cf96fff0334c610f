//! Which adapter or built-in provider does each capability.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::Services;

/// One capability of `wit/capabilities.wit` and what does it here.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindingView {
    /// The capability (`database-provisioner`, `secrets-store`...).
    pub capability: String,
    /// Its functions.
    pub functions: Vec<String>,
    /// The adapter or built-in provider bound to it (`builtin:postgres`), or `null` when it is
    /// unbound.
    pub adapter: Option<String>,
    /// The binding's settings (credentials are `secret://` references).
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

/// Every capability with its binding.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindingList {
    /// In the order of `wit/capabilities.wit`.
    pub bindings: Vec<BindingView>,
}

/// Every capability with the adapter bound to it (or `null`) and its settings (credentials in
/// settings are `secret://` references, so nothing secret is shown).
pub fn view(services: &Services) -> BindingList {
    let bound = services.catalog.capabilities().bindings();
    let bindings = lever_plugin::CAPABILITIES
        .iter()
        .map(|(capability, functions)| {
            let binding = bound.get(*capability);
            BindingView {
                capability: capability.to_string(),
                functions: functions.iter().map(|f| f.to_string()).collect(),
                adapter: binding.map(|b| b.adapter.clone()),
                settings: binding.map(|b| b.settings.clone()),
            }
        })
        .collect();
    BindingList { bindings }
}
