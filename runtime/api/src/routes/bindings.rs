//! `GET /api/v1/bindings`: which adapter or built-in provider does each capability, with its
//! settings (credentials in settings are `secret://` references, so nothing secret is shown).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::openapi::schemas::BindingList;

/// Lists the bindings in force and the capabilities left unbound.
#[utoipa::path(
    get, path = "/api/v1/bindings", tag = "platform",
    responses((status = 200, description = "Every capability with the adapter bound to it", body = BindingList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(view(&state))
}

/// Every capability with the adapter bound to it (or `null`) and its settings.
pub fn view(state: &AppState) -> Value {
    let bound = state.catalog.capabilities().bindings();
    let capabilities: Vec<Value> = lever_sandbox::CAPABILITIES
        .iter()
        .map(|(capability, functions)| match bound.get(*capability) {
            Some(b) => json!({"capability": capability, "functions": functions, "adapter": b.adapter, "settings": b.settings}),
            None => json!({"capability": capability, "functions": functions, "adapter": null}),
        })
        .collect();
    json!({"bindings": capabilities})
}
