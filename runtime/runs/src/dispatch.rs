//! Where runs execute and how many may wait: guest work runs on its own threads, apart from
//! the API's, so the API, the event streams and the timers answer while every worker is busy
//! with CPU-heavy guests; and the queue of runs waiting for a worker is bounded, so a flood of
//! submissions is told to come back instead of growing the queue without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How the executor runs its workers.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Threads for guest work; `None` runs it on the caller's runtime (the CLI, tests).
    pub guest_threads: Option<usize>,
    /// The most runs that may wait for a worker before a submission is refused.
    pub max_queued_runs: usize,
    /// Where template runs get their workspaces; `None`: no workspaces (a plugin asking for
    /// one runs without it).
    pub workspaces: Option<crate::WorkspaceOptions>,
    /// This node's id in the runs' leases: stable across restarts for a server (it takes its
    /// own runs back at once), unique per process otherwise.
    pub node_id: String,
    /// How long a claim on a run lasts unrenewed: how long a dead node's runs wait.
    pub lease: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            guest_threads: None,
            max_queued_runs: DEFAULT_MAX_QUEUED_RUNS,
            workspaces: None,
            node_id: format!("local-{}", uuid::Uuid::new_v4()),
            lease: crate::DEFAULT_LEASE,
        }
    }
}

/// The default of [`EngineOptions::max_queued_runs`].
pub const DEFAULT_MAX_QUEUED_RUNS: usize = 10_000;

/// How long a refused submitter is told to wait (`Retry-After`).
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The threads runs execute on.
pub(crate) struct GuestRuntime {
    /// Owned when the executor made its own; shut down without waiting when dropped (its
    /// tasks are runs, which resume from the database at the next start).
    own: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl GuestRuntime {
    /// `threads` threads of their own, or the current runtime for `None`.
    pub(crate) fn new(threads: Option<usize>) -> std::io::Result<Self> {
        match threads {
            None => Ok(Self {
                own: None,
                handle: tokio::runtime::Handle::current(),
            }),
            Some(n) => {
                // Database connections a run opens here are driven by this runtime's I/O
                // driver, and the pool hands them to API requests too: polling the driver after
                // every task (instead of every 61) keeps them answering while guests, which
                // yield every epoch tick (5 ms), keep every thread busy.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(n.max(1))
                    .thread_name("lever-guest")
                    .event_interval(1)
                    .enable_all()
                    .build()?;
                Ok(Self {
                    handle: runtime.handle().clone(),
                    own: Some(runtime),
                })
            }
        }
    }

    /// Runs `work` on the guest threads.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.handle.spawn(work);
    }
}

impl Drop for GuestRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.own.take() {
            runtime.shutdown_background();
        }
    }
}

/// Counts the runs queued and not yet started.
#[derive(Debug, Default)]
pub(crate) struct QueueDepth(AtomicUsize);

impl QueueDepth {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn started(&self) {
        // Saturating: a run queued before the count existed never makes it wrap.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}
