//! `GET /api/v1/bindings`: which adapter or built-in provider does each capability, with its
//! settings (credentials in settings are `secret://` references, so nothing secret is shown).

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::AppState;
use crate::openapi::schemas::BindingList;

/// Lists the bindings in force and the capabilities left unbound.
#[utoipa::path(
    get, path = "/api/v1/bindings", tag = "platform",
    responses((status = 200, description = "Every capability with the adapter bound to it", body = BindingList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(lever_service::bindings::view(&state))
}
