//! `GET /api/v1/bindings`: which adapter or built-in provider does each capability, with its
//! settings (credentials in settings are `secret://` references, so nothing secret is shown).

use axum::Json;
use axum::extract::State;
use lever_service::bindings::BindingList;

use crate::AppState;

/// Lists the bindings in force and the capabilities left unbound.
#[utoipa::path(
    get, path = "/api/v1/bindings", tag = "platform",
    responses((status = 200, description = "Every capability with the adapter bound to it", body = BindingList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<BindingList> {
    Json(lever_service::bindings::view(&state))
}
