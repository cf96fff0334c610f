//! Runs: submit (an action or a template), read (with steps and logs), events, and the
//! controls: retry, resubmit, cancel, abort, and a paused step's retry or skip.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use lever_runs::{RunRequest, SubmitError, Target};
use lever_store::RunRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use axum::Extension;
use lever_identity::Principal;
use lever_registry::PluginRef;

use crate::auth::require_platform;
use crate::openapi::schemas::{
    ErrorBody, EventList, RatingList, Resubmitted, RunCreated, RunList, RunView,
};
use crate::{ApiError, AppState};

/// Body of `POST /api/v1/runs`: `action` + `input`, or `template` + `parameters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRun {
    /// A published action (`name` or `name@version`); platform role only.
    action: Option<String>,
    /// The action's input, checked against its input schema.
    input: Option<Value>,
    /// A template of the catalog.
    template: Option<String>,
    /// The template's parameters, checked against its form.
    parameters: Option<Value>,
    /// Target environment of an action run, `dev` by default.
    environment: Option<String>,
    /// The same key returns the same run.
    idempotency_key: Option<String>,
}

/// Accepts a run: 201 `{"id", "status", "approval"}` once it is committed, `pending` or
/// `awaiting-approval` as the policy routed it; 200 with the earlier run when the
/// idempotency key was used before. Template runs need the principal to be allowed the
/// template; single-action runs need the platform role.
#[utoipa::path(
    post, path = "/api/v1/runs", tag = "runs",
    request_body = CreateRun,
    responses(
        (status = 201, description = "Committed; `pending`, or `awaiting-approval` as the policy routed it", body = RunCreated),
        (status = 200, description = "The idempotency key was used before: the earlier run", body = RunCreated),
        (status = 403, description = "The caller may not run this template, or a single action", body = ErrorBody),
        (status = 404, description = "No such action or template", body = ErrorBody),
        (status = 409, description = "The idempotency key belongs to a different request, or the run would touch a resource another team owns or that Lever did not create (the message names the owner)", body = ErrorBody),
        (status = 503, description = "The queue of runs waiting for a worker is full (`engine.max_queued_runs`); `Retry-After` says when to submit again", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<CreateRun>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let environment = body.environment.unwrap_or_else(|| "dev".into());
    check_idempotency_key(body.idempotency_key.as_deref())?;
    let (run, created, summary) = match (body.action, body.template) {
        (Some(action), None) => {
            require_platform(
                &principal,
                "running a single action directly (developers run templates)",
            )?;
            let input = body.input.unwrap_or_else(|| json!({}));
            let reference = PluginRef::parse(&action)
                .map_err(|e| ApiError::bad_request("invalid-reference", e.to_string()))?;
            let (_, plugin) = state.registry.resolve(&reference).await?;
            let routed = state.approvals.route_action(
                &action,
                plugin.manifest().risk,
                &input,
                &environment,
                &principal,
            )?;
            let request = routed_request(
                &principal,
                Target::Action(action),
                input,
                environment,
                body.idempotency_key,
            );
            submit_routed(&state, request, routed).await?
        }
        (None, Some(template)) => {
            let parameters = body.parameters.unwrap_or_else(|| json!({}));
            submit_template(
                &state,
                &principal,
                &template,
                parameters,
                environment,
                body.idempotency_key,
            )
            .await?
        }
        _ => {
            return Err(SubmitError::Malformed(
                "name either `action` (with `input`) or `template` (with `parameters`)".into(),
            )
            .into());
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"id": run.id, "status": run.status, "approval": summary})),
    ))
}

fn check_idempotency_key(key: Option<&str>) -> Result<(), ApiError> {
    if let Some(key) = key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(ApiError::bad_request(
            "invalid-idempotency-key",
            "idempotency_key is 1 to 200 characters",
        ));
    }
    Ok(())
}

/// A run request of `principal` whose approval the caller routes.
fn routed_request(
    principal: &Principal,
    target: Target,
    input: Value,
    environment: String,
    idempotency_key: Option<String>,
) -> RunRequest {
    RunRequest {
        target,
        input,
        requester: principal.id.clone(),
        environment,
        idempotency_key,
        resubmitted_from: None,
        approval: None,
        requester_team: principal.team.clone(),
        template_version: None,
        pins: Vec::new(),
    }
}

/// Commits a run with the route the policy chose and wakes the approval timers. Returns the
/// run, whether it is new (an idempotency key seen before returns the earlier run) and the
/// route's summary.
async fn submit_routed(
    state: &AppState,
    request: RunRequest,
    routed: lever_approvals::Routed,
) -> Result<(RunRecord, bool, Value), ApiError> {
    let summary = routed.summary();
    let (run, created) = crate::timing::timed(
        "commit",
        state.executor.submit(RunRequest {
            approval: Some(routed.approval),
            ..request
        }),
    )
    .await?;
    state.approvals.nudge();
    Ok((run, created, summary))
}

/// Submits a template run for `principal`: previewed, routed through the approval policy and
/// committed. Returns what [`submit_routed`] does.
pub async fn submit_template(
    state: &AppState,
    principal: &Principal,
    template: &str,
    parameters: Value,
    environment: String,
    idempotency_key: Option<String>,
) -> Result<(RunRecord, bool, Value), ApiError> {
    // Before the preview's work, which a full queue would waste.
    state.executor.check_capacity()?;
    let (preview, routed) =
        super::templates::route(state, principal, template, &parameters).await?;
    super::templates::refuse_conflicts(&preview)?;
    let request = RunRequest {
        // What was previewed and routed is what runs: this template version, these plugins.
        template_version: Some(preview.version),
        pins: preview.pins(),
        ..routed_request(
            principal,
            Target::Template(template.to_string()),
            parameters,
            environment,
            idempotency_key,
        )
    };
    submit_routed(state, request, routed).await
}

/// Resubmits run `id` as a new template run of `template` with edited `parameters`, routed
/// again for `principal` and linked to the old one.
pub async fn resubmit_run(
    state: &AppState,
    principal: &Principal,
    id: &str,
    template: &str,
    parameters: Value,
) -> Result<RunRecord, ApiError> {
    let (preview, routed) =
        super::templates::route(state, principal, template, &parameters).await?;
    super::templates::refuse_conflicts(&preview)?;
    let run = state
        .executor
        .resubmit(
            id,
            parameters,
            principal.id.clone(),
            Some(routed.approval),
            Some((preview.version, preview.pins())),
        )
        .await?;
    state.approvals.nudge();
    Ok(run)
}

/// 403 unless `principal` requested run `id` or has the platform role.
pub async fn may_control(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(), ApiError> {
    let run = state
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run with id `{id}`")))?;
    if run.requester == principal.id || principal.is_platform() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "only {} (who requested run {id}) or the platform team can control it",
            run.requester
        ),
    ))
}

/// Query of `GET /api/v1/runs/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// Seconds to wait for the run to finish or pause before answering (at most 60).
    #[param(maximum = 60)]
    wait: Option<u64>,
}

/// The steps of a template run that call `secrets-store.put` or `.rotate`.
async fn steps_writing_secrets(state: &AppState, run: &RunRecord) -> Vec<String> {
    let (Some(name), Some(version)) = (&run.template, run.template_version) else {
        return Vec::new();
    };
    let Ok(entry) = state.catalog.get_version(name, version).await else {
        return Vec::new();
    };
    entry
        .parsed
        .template
        .steps
        .iter()
        .filter(|s| {
            matches!(
                lever_capabilities::capability_action(&s.action),
                Some(("secrets-store", "put" | "rotate"))
            )
        })
        .map(|s| s.id.clone())
        .collect()
}

/// A run as the API shows it: steps (secrets-store values sealed), logs, approvals.
pub async fn view(state: &AppState, run: RunRecord) -> Result<Value, ApiError> {
    let sealed = steps_writing_secrets(state, &run).await;
    // Steps before logs: a step's end commits with its log lines, so every step read as done
    // has its lines in the read that follows (read the other way, a step could end between).
    let steps = state.store.run_steps(&run.id).await?;
    let logs = state.store.run_logs(&run.id).await?;
    let steps: Vec<Value> = steps
        .into_iter()
        .map(|s| {
            let mut input = s.input;
            // A value written to the secrets store is shown as where it went, never as itself.
            if sealed.contains(&s.id)
                && let Some(value) = input.as_mut().and_then(|i| i.get_mut("value"))
            {
                *value = json!("[sealed]");
            }
            json!({"id": s.id, "status": s.status, "attempts": s.attempts, "input": input, "output": s.output, "error": s.error})
        })
        .collect();
    let is_template = run.template.is_some();
    let approvals = state.approvals.of_run(&run.id).await?;
    Ok(json!({
        "approvals": approvals,
        "id": run.id,
        "action": if is_template { Value::Null } else { json!(run.action) },
        "action_version": if is_template { Value::Null } else { json!(run.action_version) },
        "template": run.template,
        "template_version": run.template_version,
        "pins": run.pins,
        "status": run.status,
        "input": if is_template { Value::Null } else { run.input.clone() },
        "parameters": if is_template { run.input.clone() } else { Value::Null },
        "steps": steps,
        "output": run.output,
        "error": run.error,
        "logs": logs,
        "requester": run.requester,
        "environment": run.environment,
        "attempt": run.attempt,
        "approval_route": run.approval_route,
        "policy_version": run.policy_version,
        "resubmitted_from": run.resubmitted_from,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    }))
}

/// One run with its steps and log; `?wait=SECONDS` answers as soon as it is finished or paused.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run"), ShowQuery),
    responses(
        (status = 200, description = "The run with its steps, log and approval stages", body = RunView),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let run = match query.wait {
        Some(secs) => {
            state
                .executor
                .wait(&id, Duration::from_secs(secs.min(60)))
                .await?
        }
        None => state.store.run(&id).await?,
    };
    let run = run.ok_or_else(|| ApiError::not_found(format!("no run with id `{id}`")))?;
    Ok(Json(view(&state, run).await?))
}

/// The 100 most recent runs, without logs.
#[utoipa::path(
    get, path = "/api/v1/runs", tag = "runs",
    responses((status = 200, description = "The 100 most recent runs, newest first", body = RunList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let runs: Vec<Value> = state
        .store
        .recent_runs(100)
        .await?
        .into_iter()
        .map(|r| json!({"id": r.id, "action": r.action, "template": r.template, "status": r.status, "created_at": r.created_at}))
        .collect();
    Ok(Json(json!({ "runs": runs })))
}

/// Query of the events endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Only events with a larger id.
    after: Option<i64>,
    /// JSON long-poll: seconds to wait for the first new event.
    #[param(maximum = 60)]
    wait: Option<u64>,
}

/// Stored events after `after`: server-sent events when the client accepts
/// `text/event-stream` (ending once the run is finished), JSON otherwise.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "The run"), EventsQuery),
    responses(
        (status = 200, description = "Events after `after` (or the `Last-Event-ID` a reconnecting stream sends): JSON, or server-sent events (each `data` a run event, its `id` the event's) when the client accepts `text/event-stream`, until the run finishes",
            content(
                (EventList = "application/json"),
                (String = "text/event-stream"),
            )),
        (status = 204, description = "A stream was asked for a finished run with nothing after `after`: nothing more will come"),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let Some(run) = state.store.run(&id).await? else {
        return Err(ApiError::not_found(format!("no run with id `{id}`")));
    };
    let after = query.after.unwrap_or(0).max(last_event_id(&headers));
    let wants_sse = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_sse {
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(query.wait.unwrap_or(0).min(60));
        let mut commits = state.store.event_commits(&id);
        loop {
            let events = state.store.run_events(&id, after).await?;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !events.is_empty() || left.is_zero() {
                return Ok(Json(json!({ "events": events })).into_response());
            }
            state.store.next_events(&mut commits, left).await;
        }
    }
    if run.status.is_final() && state.store.run_events(&id, after).await?.is_empty() {
        // Nothing more will come: 204 tells a reconnecting EventSource to stop.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let store = state.store.clone();
    // Subscribed before the first read: a commit between a read and the wait still wakes it.
    let commits = store.event_commits(&id);
    let stream = futures::stream::unfold(
        (store, id, after, false, commits),
        |(store, id, mut after, done, mut commits)| async move {
            if done {
                return None;
            }
            // Set once the run is seen finished with nothing new to send.
            let mut ended = false;
            loop {
                let events = store.run_events(&id, after).await.unwrap_or_default();
                if let Some(last) = events.last() {
                    after = last.id;
                    let finished = events.iter().any(|e| e.kind == "run-finished");
                    let batch: Vec<Result<Event, Infallible>> = events
                        .iter()
                        .map(|e| {
                            Ok(Event::default()
                                .id(e.id.to_string())
                                .event(e.kind.clone())
                                .data(json!(e).to_string()))
                        })
                        .collect();
                    return Some((
                        futures::stream::iter(batch),
                        (store, id, after, finished, commits),
                    ));
                }
                // Runs that end without a `run-finished` event (single actions, a rejection at
                // the gate) end the stream too — after one more look, since a template run's
                // `run-finished` is committed just after its final status.
                if ended {
                    return None;
                }
                ended = store
                    .run(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_none_or(|r| r.status.is_final());
                store.next_events(&mut commits, Duration::MAX).await;
            }
        },
    );
    use futures::StreamExt;
    Ok(Sse::new(stream.flatten())
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The `Last-Event-ID` a reconnecting event-stream client sends (each event's id is its
/// position), or 0.
pub fn last_event_id(headers: &HeaderMap) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// `POST /api/v1/runs/{id}/retry`: restart a failed run from its failed step.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/retry", tag = "runs",
    params(("id" = String, Path, description = "The run")),
    responses(
        (status = 202, description = "The failed run restarts from its failed step"),
        (status = 403, description = "Only the requester or the platform team controls a run", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run has not failed", body = ErrorBody),
    )
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    may_control(&state, &principal, &id).await?;
    state.executor.retry_run(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/runs/{id}/cancel`: stop at the next step boundary and roll back.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, description = "The run")),
    responses(
        (status = 202, description = "The run stops at the next step boundary and rolls back"),
        (status = 403, description = "Only the requester or the platform team controls a run", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run has finished", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    may_control(&state, &principal, &id).await?;
    state.executor.cancel(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/runs/{id}/abort`: a paused run rolls back.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/abort", tag = "runs",
    params(("id" = String, Path, description = "The run")),
    responses(
        (status = 202, description = "The paused run rolls back"),
        (status = 403, description = "Only the requester or the platform team controls a run", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run is not paused", body = ErrorBody),
    )
)]
pub(crate) async fn abort(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    may_control(&state, &principal, &id).await?;
    state.executor.abort(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Body of a step retry: an optional edited input.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepRetry {
    /// Replaces the step's input for this attempt.
    input: Option<Value>,
}

/// `POST /api/v1/runs/{id}/steps/{step}/retry`.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/steps/{step}/retry", tag = "runs",
    params(("id" = String, Path, description = "The run"), ("step" = String, Path, description = "The paused step")),
    request_body(content = Option<StepRetry>, description = "An edited input, optionally"),
    responses(
        (status = 202, description = "The paused step runs again"),
        (status = 403, description = "Only the requester or the platform team controls a run", body = ErrorBody),
        (status = 404, description = "No such run or step", body = ErrorBody),
        (status = 409, description = "The step is not paused", body = ErrorBody),
    )
)]
pub(crate) async fn retry_step(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional: without one the step runs again with the input it had.
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<StepRetry>(&body)
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid-json",
                    format!("send {{\"input\": {{...}}}} or nothing: {e}"),
                )
            })?
            .input
    };
    may_control(&state, &principal, &id).await?;
    state.executor.resolve_step(&id, &step, true, input).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/runs/{id}/steps/{step}/skip`.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/steps/{step}/skip", tag = "runs",
    params(("id" = String, Path, description = "The run"), ("step" = String, Path, description = "The paused step")),
    responses(
        (status = 202, description = "The paused step is skipped and the run goes on"),
        (status = 403, description = "Only the requester or the platform team controls a run", body = ErrorBody),
        (status = 404, description = "No such run or step", body = ErrorBody),
        (status = 409, description = "The step is not paused", body = ErrorBody),
    )
)]
pub(crate) async fn skip_step(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((id, step)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    may_control(&state, &principal, &id).await?;
    state.executor.resolve_step(&id, &step, false, None).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Body of a resubmit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resubmit {
    /// The edited parameters.
    parameters: Value,
}

/// `POST /api/v1/runs/{id}/resubmit`: a new run with edited parameters, linked to this one.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/resubmit", tag = "runs",
    params(("id" = String, Path, description = "The run to resubmit")),
    request_body = Resubmit,
    responses(
        (status = 201, description = "A new run with the edited parameters, linked to this one", body = Resubmitted),
        (status = 403, description = "The caller may not run the template", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Only template runs can be resubmitted, or the run would touch a resource another team owns or that Lever did not create", body = ErrorBody),
        (status = 503, description = "The queue of runs waiting for a worker is full; `Retry-After` says when to try again", body = ErrorBody),
    )
)]
pub(crate) async fn resubmit(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Resubmit>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let old = state
        .store
        .run(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run with id `{id}`")))?;
    let template = old.template.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "only template runs can be resubmitted",
        )
    })?;
    let run = resubmit_run(&state, &principal, &id, &template, body.parameters).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": run.id, "resubmitted_from": id})),
    ))
}

/// Body of a rating.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rating {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    score: i64,
    /// At most 2,000 characters.
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/runs/{id}/rating` `{"score": 1..5, "comment"}`: the requester rates a
/// finished run; a second rating replaces the first.
#[utoipa::path(
    post, path = "/api/v1/runs/{id}/rating", tag = "runs",
    params(("id" = String, Path, description = "The finished run")),
    request_body = Rating,
    responses(
        (status = 204, description = "Stored (replacing the caller's earlier rating)"),
        (status = 403, description = "Only the requester rates a run", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run has not finished", body = ErrorBody),
    )
)]
pub(crate) async fn rate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Rating>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    rate_run(&state, &principal, &id, body.score, &body.comment).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stores `principal`'s rating of run `id`: only its requester rates it, once it is finished,
/// with a score from 1 to 5 and a comment of at most 2,000 characters.
pub async fn rate_run(
    state: &AppState,
    principal: &Principal,
    id: &str,
    score: i64,
    comment: &str,
) -> Result<(), ApiError> {
    let run = state
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run with id `{id}`")))?;
    if run.requester != principal.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only {} (who requested run {id}) rates it", run.requester),
        ));
    }
    if !run.status.is_final() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong-state",
            format!(
                "run {id} is {}; rate it once it has finished",
                run.status.as_str()
            ),
        ));
    }
    if !(1..=5).contains(&score) {
        return Err(ApiError::bad_request(
            "invalid-rating",
            format!("score is a whole number from 1 to 5, not {score}"),
        ));
    }
    if comment.chars().count() > 2000 {
        return Err(ApiError::bad_request(
            "invalid-rating",
            "the comment is at most 2,000 characters",
        ));
    }
    state
        .store
        .rate_run(id, &principal.id, score, comment.trim())
        .await?;
    Ok(())
}

/// `GET /api/v1/runs/{id}/rating`: the run's ratings.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}/rating", tag = "runs",
    params(("id" = String, Path, description = "The run")),
    responses((status = 200, description = "The run's ratings", body = RatingList))
)]
pub(crate) async fn ratings(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"ratings": state.store.run_ratings(&id).await?}),
    ))
}
