//! A run's page: steps with status, attempts, durations and progress, the approvals it waits
//! for, outputs (credentials behind a reveal button), the controls that apply, a rating once
//! it is over, and the log. The page follows the run's events over server-sent events: each
//! batch of new events re-renders the page body on the server.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use lever_service::runs::{self, Control};
use lever_service::{Kind, ServiceError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{checked_form, field};
use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// The secret references (`secret://name`) anywhere in a value.
fn secret_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            for part in s.split("secret://").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
                    .collect();
                let name = name.trim_end_matches('.').to_string();
                if !name.is_empty() && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| secret_references(i, out)),
        Value::Object(map) => map.values().for_each(|v| secret_references(v, out)),
        _ => {}
    }
}

/// Everything the page body shows, and the last event it reflects.
async fn body_context(
    state: &WebState,
    viewer: &Viewer,
    id: &str,
    message: Option<String>,
) -> Result<(Value, i64, bool), WebError> {
    let api = ServiceError::from;
    // The events first, then the run: the page then shows at least what its last event says,
    // and the live stream (which resumes after that event) cannot miss a later change.
    let events = state.app.store.run_events(id, 0).await.map_err(api)?;
    let record = lever_service::visibility::visible_run(&state.app, &viewer.principal, id).await?;
    let finished = record.status.is_final();
    // The page reads the view as the API answers it.
    let mut run = serde_json::to_value(runs::view(&state.app, record.clone()).await?)
        .expect("a run view serialises");
    let last_event = events.last().map_or(0, |e| e.id);
    // Each stage's deciders by name, beside its groups: who to nudge, not a group's id.
    let config = state.app.identity.config();
    if let Some(approvals) = run["approvals"].as_array_mut() {
        for a in approvals {
            let groups: Vec<&str> = a["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let names = lever_service::directory::people(config, &groups, &record.requester);
            a["people"] = json!(names);
        }
    }
    let template = match (&record.template, record.template_version) {
        (Some(name), Some(version)) => state.app.catalog.get_version(name, version).await.ok(),
        _ => None,
    };
    let title = template
        .as_ref()
        .map(|t| {
            t.parsed
                .template
                .title
                .clone()
                .unwrap_or_else(|| t.parsed.template.name.clone())
        })
        .unwrap_or_else(|| record.action.clone());
    // What was asked, first: the template's answers as the review listed them, or the input
    // a single action was given.
    let asked = template
        .as_ref()
        .map(|t| super::form::asked(state, t, &record.input))
        .unwrap_or_default();
    let steps: Vec<Value> = run["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut step| {
            let sid = step["id"].as_str().unwrap_or_default().to_string();
            let name = template
                .as_ref()
                .and_then(|t| t.parsed.template.steps.iter().find(|s| s.id == sid))
                .map(|s| s.name.clone())
                // A single action's one step is named after the action.
                .unwrap_or_else(|| match &record.template {
                    None => record.action.clone(),
                    Some(_) => sid.clone(),
                });
            let mine = events.iter().filter(|e| e.step_id.as_deref() == Some(&sid));
            let started = mine
                .clone()
                .filter(|e| e.kind == "step-started")
                .map(|e| e.at_ms)
                .next_back();
            let ended = mine
                .clone()
                .filter(|e| {
                    matches!(
                        e.kind.as_str(),
                        "step-succeeded" | "step-failed" | "step-skipped"
                    )
                })
                .map(|e| e.at_ms)
                .next_back();
            let progress = mine
                .filter(|e| e.kind == "progress")
                .map(|e| e.data.clone())
                .next_back();
            step["name"] = json!(name);
            step["duration_ms"] = match (started, ended) {
                (Some(s), Some(e)) if e >= s => json!(e - s),
                _ => Value::Null,
            };
            step["progress"] = progress.unwrap_or(Value::Null);
            step
        })
        .collect();
    let outputs = run.get("output").filter(|o| !o.is_null()).map(|output| {
        let mut secrets = Vec::new();
        secret_references(output, &mut secrets);
        json!({
            "links": output.get("links").cloned().unwrap_or(json!([])),
            "text": output.get("text").cloned().unwrap_or(json!([])),
            "secrets": secrets,
            "other": output,
        })
    });
    let may_control = record.requester == viewer.principal.id || viewer.principal.is_platform();
    let rate = finished && record.requester == viewer.principal.id;
    let rating = if rate {
        state
            .app
            .store
            .run_ratings(id)
            .await
            .map_err(api)?
            .into_iter()
            .find(|r| r.user_id == viewer.principal.id)
    } else {
        None
    };
    let logs = run["logs"].clone();
    Ok((
        json!({
            "run": run,
            "title": title,
            "asked": asked,
            "steps": steps,
            "outputs": outputs,
            "may_control": may_control,
            "rate": rate,
            "rating": rating,
            "logs": logs,
            "message": message,
            "last_event": last_event,
            "finished": finished,
        }),
        last_event,
        finished,
    ))
}

async fn run_page(
    state: &WebState,
    viewer: &Viewer,
    id: &str,
    message: Option<String>,
) -> Result<Html<String>, WebError> {
    let (ctx, _, _) = body_context(state, viewer, id, message).await?;
    render::page(
        state,
        Some(viewer),
        "run.html",
        minijinja::Value::from_serialize(&ctx),
    )
}

/// `GET /runs/{id}`.
pub(crate) async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    run_page(&state, &viewer, &id, None).await
}

/// Query of the live stream.
#[derive(Debug, Deserialize)]
pub(crate) struct LiveQuery {
    /// The last event the page already shows.
    after: Option<i64>,
}

/// `GET /runs/{id}/live`: server-sent `update` events carrying the re-rendered page body
/// whenever the run has new events, and `finished` once it is over (the page then closes the
/// stream).
pub(crate) async fn live(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<LiveQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    // Refuse an unknown run up front, as a page.
    lever_service::visibility::visible_run(&state.app, &viewer.principal, &id).await?;
    // A reconnecting browser resumes after the last update it got (each update's id is the
    // newest event it shows).
    let after = query.after.unwrap_or(0).max(runs::resume_after(
        headers.get("last-event-id").and_then(|v| v.to_str().ok()),
    ));
    // Subscribed before the first read: a commit between a read and the wait still wakes it.
    let commits = state.app.store.event_commits(&id);
    let stream = futures::stream::unfold(
        (state, viewer, id, after, false, commits),
        |(state, viewer, id, mut after, done, mut commits)| async move {
            if done {
                return None;
            }
            loop {
                let newest = state
                    .app
                    .store
                    .run_events(&id, after)
                    .await
                    .unwrap_or_default()
                    .last()
                    .map(|e| e.id);
                let finished = state
                    .app
                    .store
                    .run(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_none_or(|r| r.status.is_final());
                if newest.is_some() || finished {
                    let mut batch: Vec<Result<Event, Infallible>> = Vec::new();
                    if let Some(newest) = newest {
                        after = newest;
                    }
                    // New events, or the end: the page gets the run as it is now (at the
                    // end even without new events, in case it was rendered mid-change).
                    {
                        if let Ok((ctx, _, _)) = body_context(&state, &viewer, &id, None).await
                            && let Ok(html) = render::fragment(
                                &state,
                                Some(&viewer),
                                "run_body.html",
                                minijinja::Value::from_serialize(&ctx),
                            )
                        {
                            batch.push(Ok(Event::default()
                                .id(after.to_string())
                                .event("update")
                                .data(html)));
                        }
                    }
                    if finished {
                        batch.push(Ok(Event::default().event("finished").data("finished")));
                    }
                    return Some((
                        futures::stream::iter(batch),
                        (state, viewer, id, after, finished, commits),
                    ));
                }
                state
                    .app
                    .store
                    .next_events(&mut commits, std::time::Duration::MAX)
                    .await;
            }
        },
    );
    use futures::StreamExt;
    Ok(Sse::new(stream.flatten())
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `POST /runs/{id}/reveal` (htmx) with `name`: the value of a credential the run's output
/// refers to, for those allowed to read it; nothing is in the page until this is asked.
pub(crate) async fn reveal(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let name = field(&pairs, "name").unwrap_or("").to_string();
    let run = state
        .app
        .store
        .run(&id)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::not_found(format!("no run with id `{id}`")))?;
    let mut referenced = Vec::new();
    if let Some(output) = &run.output {
        secret_references(output, &mut referenced);
    }
    if !referenced.contains(&name) {
        return Err(WebError::BadRequest(format!(
            "run {id} does not refer to secret `{name}`"
        )));
    }
    Ok(super::revealed(&state, &viewer, &name).await)
}

/// `POST /runs/{id}/control` with `op` (`retry-step`, `skip-step`, `abort`, `cancel`,
/// `retry`), `step` and an optional edited `input` (JSON).
pub(crate) async fn control(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let step = field(&pairs, "step").unwrap_or("").to_string();
    let control = match field(&pairs, "op").unwrap_or("") {
        "retry-step" => {
            let input = match field(&pairs, "input")
                .map(str::trim)
                .filter(|i| !i.is_empty())
            {
                Some(text) => match serde_json::from_str::<Value>(text) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let html = run_page(
                            &state,
                            &viewer,
                            &id,
                            Some(format!(
                                "the edited input is not JSON: {e}; fix it and retry"
                            )),
                        )
                        .await?;
                        return Ok((StatusCode::BAD_REQUEST, html).into_response());
                    }
                },
                None => None,
            };
            Control::RetryStep { step, input }
        }
        "skip-step" => Control::SkipStep { step },
        "abort" => Control::Abort,
        "cancel" => Control::Cancel,
        "retry" => Control::Retry,
        other => {
            return Err(WebError::BadRequest(format!(
                "unknown run control `{other}`: use retry-step, skip-step, abort, cancel or retry"
            )));
        }
    };
    match runs::control(&state.app, &viewer.principal, &id, control).await {
        Ok(()) => Ok(Redirect::to(&format!("/runs/{id}")).into_response()),
        // Someone else's run, or none: the error page, not the run page.
        Err(e) if matches!(e.kind, Kind::Forbidden | Kind::NotFound) => Err(e.into()),
        Err(e) => {
            let status = crate::error::status_of(&e);
            let html = run_page(&state, &viewer, &id, Some(e.message)).await?;
            Ok((status, html).into_response())
        }
    }
}

/// `POST /runs/{id}/rating` with `score` and `comment`.
pub(crate) async fn rate(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let comment = field(&pairs, "comment").unwrap_or("").to_string();
    let score: Option<i64> = field(&pairs, "score").and_then(|s| s.parse().ok());
    let outcome = match score {
        Some(score) => runs::rate(&state.app, &viewer.principal, &id, score, &comment).await,
        None => Err(ServiceError::invalid(
            "invalid-rating",
            "choose a score from 1 to 5",
        )),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/runs/{id}")).into_response()),
        // A rating the service refuses (no score, a comment too long) comes back as the
        // form's error with what was typed kept, not as an error page that loses it.
        Err(e) if e.kind == Kind::Invalid => {
            let (mut ctx, _, _) = body_context(&state, &viewer, &id, None).await?;
            ctx["draft"] = json!({"score": score, "comment": comment, "error": e.message});
            let html = render::page(
                &state,
                Some(&viewer),
                "run.html",
                minijinja::Value::from_serialize(&ctx),
            )?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
