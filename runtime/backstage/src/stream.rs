//! `GET /v2/tasks/{id}/events` (long poll: at most 30 s, the completion always included) and
//! `GET /v2/tasks/{id}/eventstream` (server-sent events: `event: <type>` and `data: <event>`,
//! every event after `?after=`, then live, closed after the completion), both read from the
//! run's stored events, woken by their commits.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_store::{EventRecord, RunRecord};
use serde::Deserialize;
use serde_json::Value;

use crate::Backstage;
use crate::error::Failure;
use crate::events::{Run, finished_since_retry, translate};
use crate::tasks::visible_task;

/// How long a long poll waits for an event, as Backstage's.
const LONG_POLL: Duration = Duration::from_secs(30);

/// `after=N`: only events with a larger id (the completion always).
#[derive(Debug, Deserialize)]
pub(crate) struct After {
    after: Option<i64>,
}

/// What the translation of run `id` needs: its steps' ids and names and its page in Lever.
struct Context {
    steps: Vec<(String, String)>,
    page: String,
}

impl Context {
    /// The Backstage events of the run as `record` and `events` have it, after `after`.
    fn translate(&self, record: &RunRecord, events: &[EventRecord], after: i64) -> Vec<Value> {
        translate(
            &Run {
                record,
                steps: &self.steps,
                page: &self.page,
            },
            events,
            after,
        )
    }
}

async fn context(
    state: &Backstage,
    headers: &HeaderMap,
    run: &RunRecord,
) -> Result<Context, Failure> {
    let document = state.documents.of_run(&state.services, run).await?;
    // Each step's id and the name its log lines use, as the task's `spec` has them.
    let steps = crate::task::steps(&document)
        .iter()
        .map(|step| {
            let id = step["id"].as_str().unwrap_or_default().to_string();
            let name = step["name"].as_str().unwrap_or(&id).to_string();
            (id, name)
        })
        .collect();
    Ok(Context {
        steps,
        page: format!("{}/runs/{}", state.base_url(headers), run.id),
    })
}

/// Run `id` and its events, read so that they agree: the run first, so a run read as
/// finished has every event in the read after (its final status commits with its
/// `run-finished`), and read again when the events hold a `run-finished` the first read
/// preceded, so a completion always carries the final status and output.
async fn snapshot(
    store: &lever_store::Store,
    id: &str,
) -> Result<Option<(RunRecord, Vec<EventRecord>)>, lever_store::StoreError> {
    let Some(run) = store.run(id).await? else {
        return Ok(None);
    };
    let mut events = store.run_events(id, 0).await?;
    if !run.status.is_final() && events.iter().any(|e| e.kind == "run-finished") {
        return Ok(store.run(id).await?.map(|run| (run, events)));
    }
    // A finished run's `run-finished` may not be visible yet to the connection that read the
    // events (another reader of the pool can still hold the snapshot before the commit):
    // look again a few times before taking the run for one that ended without it (refused
    // at its gate), whose completion is then made from the run itself.
    let mut looks = 0;
    while run.status.is_final() && !finished_since_retry(&events) && looks < 10 {
        looks += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        events = store.run_events(id, 0).await?;
    }
    Ok(Some((run, events)))
}

pub(crate) async fn events(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<After>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Vec<Value>>, Failure> {
    let Query(query) = query
        .map_err(|e| Failure::input(format!("`after` is an event id, a whole number: {e}")))?;
    let run = visible_task(&state, &principal, &id).await?;
    let context = context(&state, &headers, &run).await?;
    let store = &state.services.store;
    let after = query.after.unwrap_or(-1);
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    let mut commits = store.event_commits(&id);
    loop {
        let (run, events) = snapshot(store, &id)
            .await?
            .ok_or_else(|| crate::task::not_a_task(&id))?;
        let translated = context.translate(&run, &events, after);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !translated.is_empty() || left.is_zero() {
            return Ok(Json(translated));
        }
        store.next_events(&mut commits, left).await;
    }
}

pub(crate) async fn eventstream(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<After>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let Query(query) = query
        .map_err(|e| Failure::input(format!("`after` is an event id, a whole number: {e}")))?;
    let run = visible_task(&state, &principal, &id).await?;
    let context = context(&state, &headers, &run).await?;
    let after = query.after.unwrap_or(-1);
    // Subscribed before the first read: a commit between a read and the wait still wakes it.
    let commits = state.services.store.event_commits(&id);
    let stream = futures::stream::unfold(
        (state, id, context, after, false, commits),
        |(state, id, context, mut after, done, mut commits)| async move {
            if done {
                return None;
            }
            loop {
                let store = &state.services.store;
                let (run, events) = snapshot(store, &id).await.ok().flatten()?;
                let translated = context.translate(&run, &events, after);
                if !translated.is_empty() {
                    let completed = translated.iter().any(|e| e["type"] == "completion");
                    if let Some(last) = translated.iter().filter_map(|e| e["id"].as_i64()).max() {
                        after = after.max(last);
                    }
                    let batch: Vec<Result<Event, Infallible>> = translated
                        .iter()
                        .map(|e| {
                            Ok(Event::default()
                                .event(e["type"].as_str().unwrap_or("log"))
                                .data(e.to_string()))
                        })
                        .collect();
                    return Some((
                        futures::stream::iter(batch),
                        (state, id, context, after, completed, commits),
                    ));
                }
                store.next_events(&mut commits, Duration::MAX).await;
            }
        },
    );
    use futures::StreamExt;
    Ok(Sse::new(stream.flatten())
        .keep_alive(KeepAlive::default())
        .into_response())
}
