//! The run executor: accepts single-action runs, queues them onto a bounded pool of workers,
//! and commits every status change (`pending` → `running` → `succeeded`/`failed`) before it
//! can be observed. At start it picks up runs a previous process left unfinished.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use lever_registry::{PluginRef, Registry, ResolveError};
use lever_sandbox::{Call, CallContext, HostServices, InvokeError, LogBook};
use lever_store::{NewRun, RunRecord, Store, StoreError};
use serde_json::json;
use tokio::sync::{Semaphore, broadcast, mpsc};

/// Why a run was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The action does not exist or the reference is malformed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The input breaks the action's input schema.
    #[error(transparent)]
    Input(InvokeError),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// `name` or `name@version`.
    pub action: String,
    /// JSON input.
    pub input: serde_json::Value,
    /// Who asks.
    pub requester: String,
    /// Target environment.
    pub environment: String,
}

/// The executor. One per process.
pub struct Executor {
    store: Store,
    registry: Arc<Registry>,
    queue: mpsc::UnboundedSender<String>,
    finished: broadcast::Sender<String>,
}

impl Executor {
    /// Starts `workers` workers; with `resume`, re-queues the runs a previous process left
    /// unfinished (only the server should: a CLI sharing the database must not run them twice).
    pub async fn start(store: Store, registry: Arc<Registry>, workers: usize, resume: bool) -> Result<Arc<Self>, StoreError> {
        let (queue, mut receiver) = mpsc::unbounded_channel::<String>();
        let (finished, _) = broadcast::channel(1024);
        let executor = Arc::new(Self { store: store.clone(), registry, queue, finished });
        let permits = Arc::new(Semaphore::new(workers.max(1)));
        let weak = Arc::downgrade(&executor);
        tokio::spawn(async move {
            while let Some(id) = receiver.recv().await {
                let permit = permits.clone().acquire_owned().await.expect("semaphore never closes");
                let Some(executor) = weak.upgrade() else { break };
                tokio::spawn(async move {
                    executor.execute(&id).await;
                    drop(permit);
                });
            }
        });
        let unfinished = if resume { store.unfinished_runs().await? } else { Vec::new() };
        if !unfinished.is_empty() {
            tracing::info!(count = unfinished.len(), "resuming unfinished runs");
        }
        for id in unfinished {
            executor.queue.send(id).expect("dispatcher is running");
        }
        Ok(executor)
    }

    /// Validates and records a run, then queues it. The returned run is committed as `pending`.
    pub async fn submit(&self, request: RunRequest) -> Result<RunRecord, SubmitError> {
        let reference = PluginRef::parse(&request.action).map_err(ResolveError::from)?;
        let (record, plugin) = self.registry.resolve(&reference).await?;
        plugin.validate_input(&request.input).map_err(SubmitError::Input)?;
        let run = self
            .store
            .create_run(&NewRun {
                action: record.name,
                action_version: record.version,
                input: request.input,
                requester: request.requester,
                environment: request.environment,
            })
            .await?;
        self.queue.send(run.id.clone()).expect("dispatcher is running");
        Ok(run)
    }

    /// Waits until run `id` is finished or `timeout` passes, and returns it as stored.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Option<RunRecord>, StoreError> {
        let mut finished = self.finished.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let run = self.store.run(id).await?;
            match &run {
                Some(r) if !r.status.is_final() => {}
                _ => return Ok(run),
            }
            loop {
                match tokio::time::timeout_at(deadline, finished.recv()).await {
                    Err(_) => return self.store.run(id).await,
                    Ok(Ok(done)) if done == id => break,
                    Ok(Ok(_)) => continue,
                    // Missed messages: look at the store again.
                    Ok(Err(_)) => break,
                }
            }
        }
    }

    async fn execute(&self, id: &str) {
        // A panic in one run must not take the worker pool down, nor leave the run unreported.
        let outcome = std::panic::AssertUnwindSafe(self.execute_inner(id)).catch_unwind().await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(run = id, error = %e, "run could not be recorded; it resumes at next start"),
            Err(_) => {
                tracing::error!(run = id, "run panicked");
                let error = json!({"kind": "host-panic", "message": "the host failed while running this step; see the server log"});
                if let Err(e) = self.store.finish_run(id, Err(&error)).await {
                    tracing::error!(run = id, error = %e, "could not record the panic");
                }
            }
        }
        let _ = self.finished.send(id.to_string());
    }

    async fn execute_inner(&self, id: &str) -> Result<(), StoreError> {
        let run = match self.store.start_run(id).await {
            Ok(run) => run,
            Err(StoreError::StaleStatus { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let reference = PluginRef { name: run.action.clone(), version: Some(run.action_version.clone()) };
        let result = match self.registry.resolve(&reference).await {
            Err(e) => Err(json!({"kind": "not-found", "message": e.to_string()})),
            Ok((_, plugin)) => {
                let log = LogBook::new(plugin.limits().max_log_bytes);
                let call = Call {
                    context: CallContext {
                        run_id: run.id.clone(),
                        step_id: "main".into(),
                        attempt: 1,
                        // One logical attempt: a run resumed after a crash keeps its key.
                        idempotency_key: format!("{}/main/1", run.id),
                        requester: run.requester.clone(),
                        environment: run.environment.clone(),
                    },
                    services: HostServices { state: Arc::new(self.store.clone()), secrets: Arc::new(self.store.clone()) },
                    log: log.clone(),
                };
                let result = self.registry.sandbox().run(&plugin, &call, &run.input).await;
                self.store.append_logs(&run.id, &log.lines()).await?;
                result.map_err(|e| json!({"kind": e.code(), "message": e.to_string()}))
            }
        };
        match &result {
            Ok(_) => tracing::info!(run = id, action = %run.action, "run succeeded"),
            Err(e) => tracing::info!(run = id, action = %run.action, error = %e["kind"], "run failed"),
        }
        self.store.finish_run(id, result.as_ref()).await
    }
}
