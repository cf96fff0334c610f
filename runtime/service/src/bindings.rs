//! Which adapter or built-in provider does each capability.

use serde_json::{Value, json};

use crate::Services;

/// Every capability with the adapter bound to it (or `null`) and its settings (credentials in
/// settings are `secret://` references, so nothing secret is shown).
pub fn view(services: &Services) -> Value {
    let bound = services.catalog.capabilities().bindings();
    let capabilities: Vec<Value> = lever_plugin::CAPABILITIES
        .iter()
        .map(|(capability, functions)| match bound.get(*capability) {
            Some(b) => json!({"capability": capability, "functions": functions, "adapter": b.adapter, "settings": b.settings}),
            None => json!({"capability": capability, "functions": functions, "adapter": null}),
        })
        .collect();
    json!({"bindings": capabilities})
}
