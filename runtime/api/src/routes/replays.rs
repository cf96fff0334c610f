//! `GET /api/v1/runs/{id}/steps/{step}/replay`: what a plugin author needs to replay a real step
//! on a laptop (`lever plugin test --replay RUN/STEP`): the step's input and context, the outbound
//! HTTP exchanges of its latest attempt (bodies bounded, secret values masked when recorded) and
//! how it ended. Secret values are never part of it.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::replays::Replay;

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};

/// `GET /api/v1/runs/{id}/steps/{step}/replay`.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}/steps/{step}/replay", tag = "runs",
    params(("id" = String, Path, description = "The run"), ("step" = String, Path, description = "The step (`main` for a single-action run)")),
    responses(
        (status = 200, description = "The step's input, context, recorded HTTP exchanges and outcome", body = Replay),
        (status = 403, description = "Only the requester or the platform team replays a run's steps", body = ErrorBody),
        (status = 404, description = "No such run or step", body = ErrorBody),
    )
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((id, step)): Path<(String, String)>,
) -> Result<Json<Replay>, ApiError> {
    Ok(Json(
        lever_service::replays::replay(&state, &principal, &id, &step).await?,
    ))
}
