//! Several nodes on one database: the executor claims each run with a lease before executing
//! it (`lever_store::Lease`), renews its leases with a heartbeat, checks its lease before every
//! step attempt, and takes up the runs whose lease expired (their node died) or that no node
//! claimed. Nothing here is a cluster protocol of its own: the runs' rows are the only shared
//! state, guarded updates the only arbitration, as in the job queues built on PostgreSQL.

use std::collections::HashSet;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use crate::Executor;

/// The default lease: how long the runs of a node that died wait before another node takes
/// them up (`engine.lease_ms`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// The runs this node has queued or is executing: the orphan search skips them, and a run is
/// never executed twice at once by one node.
#[derive(Default)]
pub(crate) struct Claims {
    queued: Mutex<HashSet<String>>,
    executing: Mutex<HashSet<String>>,
}

impl Claims {
    pub(crate) fn queued(&self, id: &str) {
        self.queued.lock().expect("claims").insert(id.to_string());
    }

    /// The run left the queue for a worker: `false` when this node is executing it already.
    pub(crate) fn start(&self, id: &str) -> bool {
        self.queued.lock().expect("claims").remove(id);
        self.executing
            .lock()
            .expect("claims")
            .insert(id.to_string())
    }

    pub(crate) fn done(&self, id: &str) {
        self.executing.lock().expect("claims").remove(id);
    }

    fn holds(&self, id: &str) -> bool {
        self.queued.lock().expect("claims").contains(id)
            || self.executing.lock().expect("claims").contains(id)
    }
}

/// Renews this node's leases every third of the lease, so a live node never loses one.
pub(crate) fn spawn_heartbeat(executor: Weak<Executor>, lease: Duration) {
    let every = (lease / 3).clamp(Duration::from_millis(50), Duration::from_secs(10));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(executor) = executor.upgrade() else {
                break;
            };
            if let Err(e) = executor.store.renew_leases(&executor.scheduler.lease).await {
                tracing::warn!(error = %e, "cannot renew this node's run leases; trying again");
            }
        }
    });
}

/// Looks for orphaned runs every half lease and queues them here: runs whose node died (lease
/// expired) and runs nobody claimed for a lease's time (queued on a node that died).
pub(crate) fn spawn_rescuer(executor: Weak<Executor>, lease: Duration) {
    let every = (lease / 2).clamp(Duration::from_millis(100), Duration::from_secs(15));
    let grace = lease.as_millis() as i64;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(executor) = executor.upgrade() else {
                break;
            };
            let now = executor.scheduler.lease.now_ms();
            match executor.store.orphaned_runs(now, grace, 500).await {
                Ok(ids) => {
                    for id in ids {
                        if !executor.scheduler.claims.holds(&id) {
                            tracing::info!(run = %id, "taking up a run no live node holds");
                            executor.enqueue(&id);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot look for orphaned runs; trying again"),
            }
        }
    });
}
