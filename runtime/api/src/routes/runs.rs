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
use lever_runs::SubmitError;
use lever_service::runs::{
    self, Control, EventList, RatingList, Resubmitted, RunCreated, RunList, RunView, Submission,
};
use lever_service::visibility::visible_run;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use axum::Extension;
use lever_identity::Principal;

use crate::openapi::schemas::ErrorBody;
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
        (status = 409, description = "The idempotency key belongs to a different request; the template cannot run here (`template-unavailable`: a step that would run lacks its action or binding, named with the fix); or the run would touch a resource another team owns or that Lever did not create (the message names the owner)", body = ErrorBody),
        (status = 503, description = "The queue of runs waiting for a worker is full (`engine.max_queued_runs`); `Retry-After` says when to submit again", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<CreateRun>, JsonRejection>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    let Json(body) = body?;
    let submission = Submission {
        environment: body.environment.unwrap_or_else(|| "dev".into()),
        idempotency_key: body.idempotency_key,
        secrets: Default::default(),
    };
    let submitted = match (body.action, body.template) {
        (Some(action), None) => {
            let input = body.input.unwrap_or_else(|| json!({}));
            runs::submit_action(&state, &principal, &action, input, submission).await?
        }
        (None, Some(template)) => {
            let parameters = body.parameters.unwrap_or_else(|| json!({}));
            runs::submit_template(&state, &principal, &template, parameters, submission).await?
        }
        _ => {
            return Err(SubmitError::Malformed(
                "name either `action` (with `input`) or `template` (with `parameters`)".into(),
            )
            .into());
        }
    };
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RunCreated::from(submitted))))
}

/// Query of `GET /api/v1/runs/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// Seconds to wait for the run to finish or pause before answering (at most 60).
    #[param(maximum = 60)]
    wait: Option<u64>,
}

/// One run with its steps and log; `?wait=SECONDS` answers as soon as it is finished or paused.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run"), ShowQuery),
    responses(
        (status = 200, description = "The run with its steps, log and approval stages", body = RunView),
        (status = 404, description = "No such run, or one the caller may not see (only its requester and their team, its approvers and the platform team see a run)", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Json<RunView>, ApiError> {
    let Query(query) = query?;
    let mut run = visible_run(&state, &principal, &id).await?;
    if let Some(secs) = query.wait {
        run = state
            .executor
            .wait(&id, Duration::from_secs(secs.min(60)))
            .await?
            .unwrap_or(run);
    }
    Ok(Json(runs::view(&state, run).await?))
}

/// The 100 most recent runs the caller may see, without logs.
#[utoipa::path(
    get, path = "/api/v1/runs", tag = "runs",
    responses((status = 200, description = "The 100 most recent runs the caller may see (their own, their team's, those they are asked to approve; every run for the platform team), newest first", body = RunList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<RunList>, ApiError> {
    Ok(Json(runs::recent(&state, &principal, 100).await?))
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
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let run = visible_run(&state, &principal, &id).await?;
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
                return Ok(Json(EventList { events }).into_response());
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
                // Runs that end without a `run-finished` event (a rejection at the gate, a
                // template no longer readable) end the stream too — after one more look, since a template run's
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

/// Where a reconnecting event-stream client resumes (`Last-Event-ID`).
fn last_event_id(headers: &HeaderMap) -> i64 {
    runs::resume_after(headers.get("last-event-id").and_then(|v| v.to_str().ok()))
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
    runs::control(&state, &principal, &id, Control::Retry).await?;
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
    runs::control(&state, &principal, &id, Control::Cancel).await?;
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
    runs::control(&state, &principal, &id, Control::Abort).await?;
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
    runs::control(&state, &principal, &id, Control::RetryStep { step, input }).await?;
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
    runs::control(&state, &principal, &id, Control::SkipStep { step }).await?;
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
) -> Result<(StatusCode, Json<Resubmitted>), ApiError> {
    let Json(body) = body?;
    let run = runs::resubmit(&state, &principal, &id, body.parameters).await?;
    Ok((
        StatusCode::CREATED,
        Json(Resubmitted {
            id: run.id,
            resubmitted_from: id,
        }),
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
    runs::rate(&state, &principal, &id, body.score, &body.comment).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/runs/{id}/rating`: the run's ratings.
#[utoipa::path(
    get, path = "/api/v1/runs/{id}/rating", tag = "runs",
    params(("id" = String, Path, description = "The run")),
    responses(
        (status = 200, description = "The run's ratings", body = RatingList),
        (status = 404, description = "No such run, or one the caller may not see", body = ErrorBody),
    )
)]
pub(crate) async fn ratings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<RatingList>, ApiError> {
    Ok(Json(runs::ratings(&state, &principal, &id).await?))
}
