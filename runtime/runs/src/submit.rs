//! Submitting a run: validated, recorded with what it was decided on (its template version,
//! its pins, its route) and queued — and resubmitting one with edited parameters.

use lever_registry::{PluginRef, ResolveError};
use lever_store::{NewRun, RunRecord, RunStatus};
use serde_json::Value;

use crate::{Executor, RETRY_AFTER, RunRequest, SubmitError, Target};

impl Executor {
    /// `Busy` when the queue of runs waiting for a worker is full. [`Executor::submit`] checks
    /// it before anything is written, so a refused run leaves nothing behind; callers with
    /// costly work before the submit (a preview) check it first. Approximate under concurrent
    /// submissions, which is all a bound like this needs.
    pub fn check_capacity(&self) -> Result<(), SubmitError> {
        let queued = self.scheduler.depth.get();
        if queued >= self.scheduler.max_queued_runs {
            return Err(SubmitError::Busy(format!(
                "{queued} runs are waiting for a worker (engine.max_queued_runs is {}); submit again in {} seconds",
                self.scheduler.max_queued_runs,
                RETRY_AFTER.as_secs()
            )));
        }
        Ok(())
    }

    /// Validates and records a run, then queues it. Returns the run, committed as `pending`,
    /// and whether it is new (an idempotency key seen before returns the earlier run).
    pub async fn submit(&self, request: RunRequest) -> Result<(RunRecord, bool), SubmitError> {
        self.check_capacity()?;
        let new = match &request.target {
            Target::Action(action) => {
                let reference = PluginRef::parse(action).map_err(ResolveError::from)?;
                let (record, plugin) = self.registry.resolve(&reference).await?;
                plugin
                    .validate_input(&request.input)
                    .map_err(SubmitError::Input)?;
                let owner_team =
                    lever_capabilities::owning_team(&request.input).or(request.requester_team);
                // The version resolved now, by digest, is the one every execution runs.
                let pins = vec![lever_store::Pin {
                    action: record.name.clone(),
                    name: record.name.clone(),
                    version: record.version.clone(),
                    digest: record.digest.clone(),
                }];
                NewRun {
                    action: record.name,
                    action_version: record.version,
                    input: request.input,
                    requester: request.requester,
                    environment: request.environment,
                    template: None,
                    idempotency_key: request.idempotency_key,
                    resubmitted_from: request.resubmitted_from,
                    steps: vec![lever_catalog::SINGLE_STEP.to_string()],
                    approval: request.approval,
                    owner_team,
                    pins,
                    secrets: None,
                }
            }
            Target::Template(name) => {
                let entry = match request.template_version {
                    Some(version) => self.catalog.get_version(name, version).await?,
                    None => self.catalog.get(name).await?,
                };
                let parameters = if request.checked && request.template_version.is_some() {
                    request.input
                } else {
                    let parameters = entry.form.with_defaults(&request.input);
                    let errors = entry.form.validate(&parameters);
                    if !errors.is_empty() {
                        return Err(SubmitError::Parameters(errors));
                    }
                    parameters
                };
                let environment = parameters
                    .get("environment")
                    .and_then(Value::as_str)
                    .unwrap_or(&request.environment)
                    .to_string();
                let owner_team =
                    lever_capabilities::owning_team(&parameters).or(request.requester_team);
                NewRun {
                    action: String::new(),
                    action_version: String::new(),
                    input: parameters,
                    requester: request.requester,
                    environment,
                    template: Some((entry.record.name.clone(), entry.record.version)),
                    idempotency_key: request.idempotency_key,
                    resubmitted_from: request.resubmitted_from,
                    steps: entry
                        .parsed
                        .template
                        .steps
                        .iter()
                        .map(|s| s.id.clone())
                        .collect(),
                    approval: request.approval,
                    owner_team,
                    pins: request.pins,
                    secrets: request.secrets,
                }
            }
        };
        let (run, created) = self.store.create_run(&new).await?;
        if created && run.status == RunStatus::Pending {
            self.enqueue(&run.id);
        }
        Ok((run, created))
    }

    /// Creates a new run of the same template with edited parameters, linked to the old one.
    pub async fn resubmit(
        &self,
        id: &str,
        parameters: Value,
        requester: String,
        approval: Option<lever_store::NewApproval>,
        pinned: Option<(i64, Vec<lever_store::Pin>)>,
    ) -> Result<RunRecord, SubmitError> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| Self::run_not_found(id))?;
        let template = run
            .template
            .clone()
            .ok_or_else(|| SubmitError::Conflict("only template runs can be resubmitted".into()))?;
        let (new, _) = self
            .submit(RunRequest {
                target: Target::Template(template),
                input: parameters,
                requester,
                environment: run.environment,
                idempotency_key: None,
                resubmitted_from: Some(run.id),
                approval,
                // The team the old run acted for, when the new parameters name none.
                requester_team: run.owner_team,
                template_version: pinned.as_ref().map(|(v, _)| *v),
                pins: pinned.map(|(_, pins)| pins).unwrap_or_default(),
                checked: false,
                secrets: None,
            })
            .await?;
        Ok(new)
    }
}
