//! `POST /api/v1/runs`, `GET /api/v1/runs`, `GET /api/v1/runs/{id}`.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use lever_runs::RunRequest;
use lever_store::RunRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// Body of `POST /api/v1/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRun {
    /// `name` or `name@version`.
    action: String,
    /// JSON input; `{}` when absent.
    #[serde(default = "empty_object")]
    input: Value,
    /// Target environment, `dev` by default.
    #[serde(default = "dev")]
    environment: String,
}

fn empty_object() -> Value {
    json!({})
}

fn dev() -> String {
    "dev".into()
}

/// Accepts a run: 201 `{"id"}` once it is committed as `pending`.
pub(crate) async fn create(
    State(state): State<AppState>,
    body: Result<Json<CreateRun>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let run = state
        .executor
        .submit(RunRequest { action: body.action, input: body.input, requester: "anonymous".into(), environment: body.environment })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": run.id, "status": run.status}))))
}

/// Query of `GET /api/v1/runs/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    /// Seconds to wait for the run to finish before answering (at most 60).
    wait: Option<u64>,
}

async fn view(state: &AppState, run: RunRecord) -> Result<Value, ApiError> {
    let logs = state.store.run_logs(&run.id).await?;
    Ok(json!({
        "id": run.id,
        "action": run.action,
        "action_version": run.action_version,
        "status": run.status,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "logs": logs,
        "requester": run.requester,
        "environment": run.environment,
        "attempt": run.attempt,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    }))
}

/// One run with its log; `?wait=SECONDS` answers as soon as it is finished.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let run = match query.wait {
        Some(secs) => state.executor.wait(&id, Duration::from_secs(secs.min(60))).await?,
        None => state.store.run(&id).await?,
    };
    let run = run.ok_or_else(|| ApiError::not_found(format!("no run with id `{id}`")))?;
    Ok(Json(view(&state, run).await?))
}

/// The 100 most recent runs, without logs.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let runs: Vec<Value> = state
        .store
        .recent_runs(100)
        .await?
        .into_iter()
        .map(|r| json!({"id": r.id, "action": r.action, "action_version": r.action_version, "status": r.status, "created_at": r.created_at}))
        .collect();
    Ok(Json(json!({ "runs": runs })))
}
