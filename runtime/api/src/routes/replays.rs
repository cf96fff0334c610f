//! `GET /api/v1/runs/{id}/steps/{step}/replay`: what a plugin author needs to replay a real step
//! on a laptop (`lever plugin test --replay RUN/STEP`): the step's input and context, the outbound
//! HTTP exchanges of its latest attempt (bodies bounded, secret values masked when recorded) and
//! how it ended. Secret values are never part of it.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use lever_identity::Principal;
use serde_json::{Value, json};

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use lever_service::runs::may_control;

/// `GET /api/v1/runs/{id}/steps/{step}/replay`.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}/steps/{step}/replay", tag = "runs",
    params(("id" = String, Path, description = "The run"), ("step" = String, Path, description = "The step (`main` for a single-action run)")),
    responses(
        (status = 200, description = "The step's input, context, recorded HTTP exchanges and outcome", body = Object),
        (status = 403, description = "Only the requester or the platform team replays a run's steps", body = ErrorBody),
        (status = 404, description = "No such run or step", body = ErrorBody),
    )
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((id, step)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    may_control(&state, &principal, &id).await?;
    let run = state
        .store
        .run(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run with id `{id}`")))?;
    let (attempts, input, output, error) = if run.template.is_some() {
        let steps = state.store.run_steps(&id).await?;
        let found = steps
            .into_iter()
            .find(|s| s.id == step)
            .ok_or_else(|| ApiError::not_found(format!("run `{id}` has no step `{step}`")))?;
        (
            found.attempts.max(1) as u32,
            found.input.unwrap_or(Value::Null),
            found.output,
            found.error,
        )
    } else if step == "main" {
        (1, run.input.clone(), run.output.clone(), run.error.clone())
    } else {
        return Err(ApiError::not_found(format!(
            "run `{id}` runs one action: its only step is `main`"
        )));
    };
    let recorded = state.store.step_http(&id, &step, None).await?;
    let attempt = recorded.as_ref().map_or(attempts, |(a, _)| *a);
    Ok(Json(json!({
        "run_id": id,
        "step_id": step,
        "attempt": attempt,
        "action": if run.template.is_some() { Value::Null } else { json!(run.action) },
        "input": input,
        "context": {
            "run_id": id,
            "step_id": step,
            "attempt": attempt,
            "idempotency_key": format!("{id}/{step}/{attempt}"),
            "requester": run.requester,
            "environment": run.environment,
        },
        "exchanges": recorded.map_or(json!([]), |(_, e)| e),
        "output": output,
        "error": error,
    })))
}
