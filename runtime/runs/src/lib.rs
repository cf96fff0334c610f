//! The run executor. A run names either one action or a template; an action run is a
//! one-step template run, so both take one path. Runs are queued onto a
//! bounded pool of workers; every status change of a run and of each of its steps is committed
//! before it can be observed. A run that waits (retry backoff) or is paused holds no worker.
//! At start, runs a previous process left unfinished continue from the step in flight.

mod cluster;
mod controls;
mod dispatch;
mod replay;
mod submit;
mod workflow;
mod workspace;

pub use cluster::DEFAULT_LEASE;
pub use dispatch::{DEFAULT_MAX_QUEUED_RUNS, EngineOptions, RETRY_AFTER};
pub use workspace::{DEFAULT_KEEP_FAILED, DEFAULT_WORKSPACE_BYTES, WorkspaceOptions};

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use lever_catalog::{Catalog, CatalogError};
use lever_registry::{PluginRef, Registry, ResolveError};
use lever_sandbox::{HostServices, InvokeError};
use lever_store::{RunRecord, RunStatus, Store, StoreError};
use lever_templates::FieldError;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast, mpsc};

/// Wakes parked runs when their time comes: sleeps until the earliest wake time (at most a
/// second, so runs parked by another node sharing the database are seen too).
fn spawn_waker(executor: std::sync::Weak<Executor>) {
    tokio::spawn(async move {
        loop {
            let Some(executor) = executor.upgrade() else {
                break;
            };
            let now = executor.clock.now_ms();
            let pause = match executor.store.wake_due_runs(now).await {
                Ok((woken, next)) => {
                    for id in woken {
                        executor.enqueue(&id);
                    }
                    let until_next = next.map(|at| (at - now).max(0) as u64).unwrap_or(1000);
                    Duration::from_millis(until_next.clamp(5, 1000))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot wake waiting runs; trying again");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = executor.scheduler.wake.notified() => {}
            }
        }
    });
}

/// Why a run was not accepted, or a control request refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The action does not exist or the reference is malformed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The template does not exist.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The input breaks the action's input schema.
    #[error(transparent)]
    Input(InvokeError),
    /// The parameters break the template's form.
    #[error("the parameters are not valid: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Parameters(Vec<FieldError>),
    /// The request names neither or both of `action` and `template`.
    #[error("{0}")]
    Malformed(String),
    /// No such run or step.
    #[error("{0}")]
    NotFound(String),
    /// The run is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// The queue of runs waiting for a worker is full: submit again after [`RETRY_AFTER`].
    #[error("{0}")]
    Busy(String),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why the executor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not list the runs to resume.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The guest threads could not be started.
    #[error("cannot start the guest threads: {0}")]
    Threads(#[from] std::io::Error),
}

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub enum Target {
    /// One action: `name` or `name@version`, with its input.
    Action(String),
    /// The latest version of a template, with its parameters.
    Template(String),
}

/// A run request.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Action or template.
    pub target: Target,
    /// Action input, or template parameters.
    pub input: Value,
    /// Who asks.
    pub requester: String,
    /// Target environment of an action run (a template run takes `parameters.environment`).
    pub environment: String,
    /// Submitting the same key again returns the same run.
    pub idempotency_key: Option<String>,
    /// The run this one resubmits.
    pub resubmitted_from: Option<String>,
    /// What the approval policy decided (stages to wait for); `None` records no route.
    pub approval: Option<lever_store::NewApproval>,
    /// The requester's team: the run acts for it unless its parameters name an `owner` (or
    /// `team`), and what it creates is recorded as that team's (`docs/resources.md`).
    pub requester_team: Option<String>,
    /// The template version previewed and routed (template runs): the run is that version,
    /// never a later one applied in between. `None` takes the latest (internal callers).
    pub template_version: Option<i64>,
    /// The plugin versions previewed and routed, which every execution of the run uses.
    pub pins: Vec<lever_store::Pin>,
    /// The input is the form's filled and validated parameters of `template_version`: the
    /// application layer previewed them (which validates), so they are not validated again.
    pub checked: bool,
    /// Template secrets (Backstage's task `secrets`), sealed, kept with the run until it
    /// finishes.
    pub secrets: Option<lever_store::RunSecrets>,
}

/// The executor. One per process: the [`Scheduler`] (which runs wait for a worker here,
/// which this node holds, the wake-ups) and the [`StepRunner`] (what executing a run keeps:
/// its masker, its resolved plugins, its workspace), over the store, the registry and the
/// catalog.
pub struct Executor {
    store: Store,
    registry: Arc<Registry>,
    catalog: Arc<Catalog>,
    /// The clock approval gates and parked runs' wake times read (a manual one in tests).
    clock: Arc<dyn lever_store::Clock>,
    scheduler: Scheduler,
    runner: StepRunner,
}

/// Which runs wait for a worker here, which this node holds, and the wake-ups of parked runs.
pub(crate) struct Scheduler {
    queue: mpsc::UnboundedSender<String>,
    finished: broadcast::Sender<String>,
    /// Nudges the waker when a run parks with a wake time sooner than it knows of.
    wake: tokio::sync::Notify,
    /// Where runs execute.
    guests: dispatch::GuestRuntime,
    /// Runs queued and not yet started.
    depth: Arc<dispatch::QueueDepth>,
    /// The most runs that may wait for a worker before a submission is refused.
    max_queued_runs: usize,
    /// This node's id and how long its claim on a run lasts unrenewed.
    lease: lever_store::Lease,
    /// The runs queued or executing here.
    claims: cluster::Claims,
}

/// What executing a run keeps, and what its steps are given.
pub(crate) struct StepRunner {
    /// Where granted secrets are read from (sealed at rest).
    secrets: Arc<dyn lever_sandbox::SecretBackend>,
    /// The secret values revealed in each unfinished run this process executed: everything of
    /// the run is masked with them before it is stored. Forgotten when the run ends.
    maskers: std::sync::Mutex<std::collections::HashMap<String, lever_sandbox::Masker>>,
    /// The plugins each run executing here resolved, by the action its steps name (the
    /// versions it was pinned to at submit): one resolution per execution, not one
    /// plugin-record read per step. Dropped when the execution ends.
    resolved: std::sync::Mutex<
        std::collections::HashMap<
            String,
            std::collections::HashMap<String, Arc<lever_sandbox::Plugin>>,
        >,
    >,
    /// The most bytes of log messages one run stores, over all its steps and attempts.
    run_log_limit: std::sync::atomic::AtomicU64,
    /// The template runs' workspaces, when the node has a data dir for them.
    workspaces: Option<workspace::Workspaces>,
}

/// The default of [`Executor::set_run_log_limit`]: 8 MiB of messages per run.
pub const DEFAULT_RUN_LOG_BYTES: u64 = 8 * 1024 * 1024;

impl Executor {
    /// Starts `workers` workers; with `resume`, re-queues the runs a previous process left
    /// unfinished (only the server should: a CLI sharing the database must not run them twice).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        store: Store,
        registry: Arc<Registry>,
        catalog: Arc<Catalog>,
        workers: usize,
        resume: bool,
        clock: Arc<dyn lever_store::Clock>,
        secrets: Arc<dyn lever_sandbox::SecretBackend>,
        options: EngineOptions,
    ) -> Result<Arc<Self>, StartError> {
        let (queue, mut receiver) = mpsc::unbounded_channel::<String>();
        let (finished, _) = broadcast::channel(1024);
        let executor = Arc::new(Self {
            store: store.clone(),
            registry,
            catalog,
            clock,
            scheduler: Scheduler {
                queue,
                finished,
                wake: tokio::sync::Notify::new(),
                guests: dispatch::GuestRuntime::new(options.guest_threads)?,
                depth: Default::default(),
                max_queued_runs: options.max_queued_runs.max(1),
                lease: lever_store::Lease::new(
                    options.node_id.clone(),
                    options.lease.as_millis() as i64,
                ),
                claims: Default::default(),
            },
            runner: StepRunner {
                secrets,
                maskers: Default::default(),
                resolved: Default::default(),
                run_log_limit: DEFAULT_RUN_LOG_BYTES.into(),
                workspaces: options.workspaces.map(workspace::Workspaces::new),
            },
        });
        if let Some(workspaces) = &executor.runner.workspaces {
            workspaces.sweep().await;
        }
        let permits = Arc::new(Semaphore::new(workers.max(1)));
        let weak = Arc::downgrade(&executor);
        tokio::spawn(async move {
            while let Some(id) = receiver.recv().await {
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore never closes");
                let Some(executor) = weak.upgrade() else {
                    break;
                };
                executor.scheduler.depth.started();
                let worker = executor.clone();
                executor.scheduler.guests.spawn(async move {
                    worker.execute(&id).await;
                    drop(permit);
                });
            }
        });
        spawn_waker(Arc::downgrade(&executor));
        cluster::spawn_heartbeat(Arc::downgrade(&executor), options.lease);
        // Only a server takes up other nodes' runs; a CLI executes what it submits.
        if resume {
            cluster::spawn_rescuer(Arc::downgrade(&executor), options.lease);
        }
        let unfinished = if resume {
            store.unfinished_runs().await?
        } else {
            Vec::new()
        };
        if !unfinished.is_empty() {
            tracing::info!(count = unfinished.len(), "resuming unfinished runs");
        }
        for id in unfinished {
            executor.enqueue(&id);
        }
        Ok(executor)
    }

    /// Wakes the waker now: an approval released a run.
    pub fn nudge(&self) {
        self.scheduler.wake.notify_one();
    }

    fn enqueue(&self, id: &str) {
        self.scheduler.claims.queued(id);
        self.scheduler.depth.add();
        self.scheduler
            .queue
            .send(id.to_string())
            .expect("dispatcher is running");
    }

    /// Parks a running run as `waiting` for `delay`: it holds no worker and no memory, only
    /// its row with a wake time, which survives a restart.
    async fn park(&self, run: &RunRecord, delay: Duration) -> Result<(), StoreError> {
        let claim = lever_store::RunClaim::of(run, &self.scheduler.lease.node);
        self.store
            .park_run(
                &run.id,
                self.clock.now_ms() + delay.as_millis() as i64,
                &claim,
            )
            .await?;
        self.scheduler.wake.notify_one();
        Ok(())
    }

    /// Queues `id` again after `delay` (for a run whose database write failed).
    fn enqueue_after(&self, id: &str, delay: Duration) {
        let queue = self.scheduler.queue.clone();
        let depth = self.scheduler.depth.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            depth.add();
            let _ = queue.send(id);
        });
    }

    /// Waits until run `id` is finished, paused, or `timeout` passes, and returns it as stored.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Option<RunRecord>, StoreError> {
        // Woken when a run of this process ends, or when run events are committed (a template
        // run that ends or pauses records one, here or on another node, which notifies).
        let mut finished = self.scheduler.finished.subscribe();
        let mut commits = self.store.event_commits(id);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let run = self.store.run(id).await?;
            match &run {
                Some(r) if !r.status.is_final() && r.status != RunStatus::Paused => {}
                _ => return Ok(run),
            }
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return self.store.run(id).await;
                }
                tokio::select! {
                    done = finished.recv() => match done {
                        Ok(done) if done != id => continue,
                        // This run, or missed messages: look at the store again.
                        _ => break,
                    },
                    () = self.store.next_events(&mut commits, left) => break,
                }
            }
        }
    }

    /// The backends of one invocation; its capability calls are recorded in `log`, and go to
    /// the binding of the repository host its `input` names.
    fn services(
        &self,
        run: &RunRecord,
        context: &lever_sandbox::CallContext,
        log: &lever_sandbox::LogBook,
        input: &Value,
    ) -> HostServices {
        let scope = lever_capabilities::Scope {
            context: context.clone(),
            log: log.clone(),
            host: lever_capabilities::route_host(input),
            owner: run.owner_team.clone(),
            template: run.template.clone(),
        };
        HostServices {
            state: Arc::new(self.store.clone()),
            secrets: self.runner.secrets.clone(),
            capabilities: self.catalog.capabilities().backend(scope),
        }
    }

    /// Bounds the log each run stores (`run_logs.max_bytes_per_run` in lever.yaml); past it,
    /// lines are counted in a note instead of stored.
    pub fn set_run_log_limit(&self, bytes: u64) {
        self.runner
            .run_log_limit
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// The plugin `action` names, as run `run_id` resolved it in this execution (resolved now
    /// the first time).
    /// The plugin a step of `run` invokes for `action`: the version pinned at submit (what
    /// the requester and the approver saw), checked against its digest; an action that was
    /// not pinned (a run from before pins, a plugin published after the preview) resolves
    /// `reference` once, and the run keeps that version for its other steps.
    pub(crate) async fn resolve_for(
        &self,
        run: &RunRecord,
        action: &str,
        reference: &PluginRef,
    ) -> Result<Arc<lever_sandbox::Plugin>, ResolveError> {
        let run_id = run.id.as_str();
        let known = self
            .runner
            .resolved
            .lock()
            .expect("resolved lock")
            .get(run_id)
            .and_then(|plugins| plugins.get(action).cloned());
        if let Some(plugin) = known {
            return Ok(plugin);
        }
        let pin = run.pins.iter().find(|p| p.action == action);
        let pinned;
        let reference = match pin {
            Some(pin) => {
                pinned = PluginRef {
                    name: pin.name.clone(),
                    version: Some(pin.version.clone()),
                };
                &pinned
            }
            None => reference,
        };
        let (record, plugin) = self.registry.resolve(reference).await?;
        if let Some(pin) = pin
            && record.digest != pin.digest
        {
            // A published name@version never changes; a store that says otherwise was edited.
            return Err(ResolveError::NotFound(format!(
                "{}@{} has digest {} but run {run_id} was submitted with {}: the store was changed underneath it",
                pin.name, pin.version, record.digest, pin.digest
            )));
        }
        self.runner
            .resolved
            .lock()
            .expect("resolved lock")
            .entry(run_id.to_string())
            .or_default()
            .insert(action.to_string(), plugin.clone());
        Ok(plugin)
    }

    /// The bound on each run's stored log, in bytes (`run_logs.max_bytes_per_run`).
    pub(crate) fn log_limit(&self) -> u64 {
        self.runner
            .run_log_limit
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The masker of run `id`, shared by all its invocations in this process.
    pub(crate) fn masker(&self, id: &str) -> lever_sandbox::Masker {
        self.runner
            .maskers
            .lock()
            .expect("maskers lock")
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// After an execution that started run `id`: once the run has ended, drops its secret
    /// values and counts it (`lever_runs_total`, `lever_run_duration_seconds`); a parked or
    /// paused run keeps them.
    async fn after_execution(&self, id: &str, claim: &lever_store::RunClaim) {
        let Ok(Some(run)) = self.store.run(id).await else {
            return;
        };
        if !run.status.is_final() {
            // Parked, paused or waiting for approval: whichever node wakes or releases it
            // next claims it. (A finished run needs no release: nothing claims it again.) Under
            // this node's own claim: a run another node has claimed since stays claimed.
            if let Err(e) = self.store.release_run(id, claim).await {
                tracing::warn!(run = id, error = %e, "cannot release the run's lease; it expires");
            }
            return;
        }
        self.runner.maskers.lock().expect("maskers lock").remove(id);
        let template = match &run.template {
            Some(name) => name.clone(),
            None => format!("action:{}", run.action),
        };
        let seconds = (lever_store::now_ms() - run.created_at) as f64 / 1000.0;
        lever_metrics::run_finished(&template, run.status.as_str(), seconds);
    }

    async fn execute(&self, id: &str) {
        if !self.scheduler.claims.start(id) {
            // Queued twice: the worker already executing it carries on.
            return;
        }
        let run = match self.store.claim_run(id, &self.scheduler.lease).await {
            Ok(claimed) => Some(claimed),
            // Another worker had it, or it is not to run now.
            Err(StoreError::StaleStatus { .. }) => None,
            Err(e) => {
                tracing::error!(run = id, error = %e, "run could not be claimed; trying again in a second");
                self.enqueue_after(id, Duration::from_secs(1));
                None
            }
        };
        let Some((run, steps)) = run else {
            self.forget(id);
            let _ = self.scheduler.finished.send(id.to_string());
            return;
        };
        let claim = lever_store::RunClaim::of(&run, &self.scheduler.lease.node);
        // A panic in one run must not take the worker pool down, nor leave the run unreported.
        let outcome = std::panic::AssertUnwindSafe(self.execute_steps(run, steps))
            .catch_unwind()
            .await;
        match outcome {
            Ok(Ok(())) => self.after_execution(id, &claim).await,
            Ok(Err(StoreError::LeaseLost(_))) => {
                // Another node took the run up (this node's lease ran out, or it was cut off
                // from the database): its write under the old claim was refused, and the other
                // node carries on from what is committed. Nothing of the run is kept here.
                tracing::warn!(run = id, node = %self.scheduler.lease.node, "lost the run's lease; another node has it");
                lever_metrics::run_lost();
                self.runner.maskers.lock().expect("maskers lock").remove(id);
                self.forget(id);
                return;
            }
            Ok(Err(e)) => {
                // The database refused a write; the run's committed state is intact, so pick
                // it up again shortly rather than leave it until the next restart.
                tracing::error!(run = id, error = %e, "run could not be recorded; trying again in a second");
                self.enqueue_after(id, Duration::from_secs(1));
            }
            Err(_) => {
                tracing::error!(run = id, "run panicked");
                let error = json!({"kind": "host-panic", "message": "the host failed while running this run; see the server log"});
                let from = [RunStatus::Running, RunStatus::RollingBack];
                if let Err(e) = self
                    .store
                    .set_claimed_run_status(
                        &claim,
                        id,
                        &from,
                        RunStatus::Failed,
                        None,
                        Some(&error),
                    )
                    .await
                {
                    tracing::error!(run = id, error = %e, "could not record the panic");
                }
                // Failed now: counted, and its secret values forgotten, like any other end.
                self.after_execution(id, &claim).await;
            }
        }
        self.forget(id);
        let _ = self.scheduler.finished.send(id.to_string());
    }

    /// Drops what this node kept for executing run `id`: its resolved plugins and its claim.
    fn forget(&self, id: &str) {
        self.runner
            .resolved
            .lock()
            .expect("resolved lock")
            .remove(id);
        self.scheduler.claims.done(id);
    }

    /// The fence before a step attempt: the run as stored now, or `LeaseLost` when this node
    /// no longer holds it with a lease that has not run out (another node has claimed it, or
    /// may at any moment). One read, which also gives the step boundary its cancel flag.
    pub(crate) async fn fence(&self, id: &str) -> Result<RunRecord, StoreError> {
        let run = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| StoreError::LeaseLost(id.to_string()))?;
        if self.scheduler.lease.holds(&run) {
            Ok(run)
        } else {
            Err(StoreError::LeaseLost(id.to_string()))
        }
    }
}
