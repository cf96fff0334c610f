//! What a plugin author needs to replay a real step on a laptop (`lever plugin test --replay
//! RUN/STEP`): the step's input and context, the outbound HTTP exchanges of its latest attempt
//! (bodies bounded, secret values masked when recorded) and how it ended. Secret values are
//! never part of it.

use lever_identity::Principal;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::runs::may_control;
use crate::{ServiceError, Services};

/// A step's replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replay {
    /// The run.
    pub run_id: String,
    /// The step (`main` for a single-action run).
    pub step_id: String,
    /// The attempt recorded.
    pub attempt: u32,
    /// The action of a single-action run.
    pub action: Option<String>,
    /// The step's input, as rendered.
    pub input: Value,
    /// The context the plugin was called with.
    pub context: ReplayContext,
    /// The outbound HTTP exchanges, in order.
    #[schema(value_type = Vec<Object>)]
    pub exchanges: Value,
    /// The step's output, when it succeeded.
    pub output: Option<Value>,
    /// Its error (`{"kind", "message"}`), when it failed.
    pub error: Option<Value>,
}

/// The context a step's plugin is called with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayContext {
    /// The run.
    pub run_id: String,
    /// The step.
    pub step_id: String,
    /// The attempt.
    pub attempt: u32,
    /// `RUN/STEP/ATTEMPT`, what providers deduplicate on.
    pub idempotency_key: String,
    /// Who asked for the run.
    pub requester: String,
    /// Its environment.
    pub environment: String,
}

/// Step `step` of run `id` as recorded (the requester or the platform role).
pub async fn replay(
    services: &Services,
    principal: &Principal,
    id: &str,
    step: &str,
) -> Result<Replay, ServiceError> {
    may_control(services, principal, id).await?;
    let run = services
        .store
        .run(id)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no run with id `{id}`")))?;
    // A single action's run has its one step, `main`, like any template step.
    let found = services
        .store
        .run_step(id, step)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("run `{id}` has no step `{step}`")))?;
    let (attempts, input, output, error) = (
        found.attempts.max(1) as u32,
        found.input.unwrap_or(Value::Null),
        found.output,
        found.error,
    );
    let recorded = services.store.step_http(id, step, None).await?;
    let attempt = recorded.as_ref().map_or(attempts, |(a, _)| *a);
    Ok(Replay {
        run_id: id.to_string(),
        step_id: step.to_string(),
        attempt,
        action: run.template.is_none().then_some(run.action),
        input,
        context: ReplayContext {
            run_id: id.to_string(),
            step_id: step.to_string(),
            attempt,
            idempotency_key: format!("{id}/{step}/{attempt}"),
            requester: run.requester,
            environment: run.environment,
        },
        exchanges: recorded.map_or(Value::Array(Vec::new()), |(_, e)| e),
        output,
        error,
    })
}
