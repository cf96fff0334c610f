//! Group commit on SQLite: the transitions of many runs that wait for the write connection at
//! the same time — a step's end, a step's start, a run's end — are committed in one
//! transaction, each still committed before its caller hears of it. SQLite has one writer, and
//! each commit appends every page it changed to the log: runs whose transitions touch the same
//! tail pages of `run_events`, `run_steps` and `run_logs` write them once per batch instead of
//! once each, and pay one `BEGIN … COMMIT` between them. A batch is whatever queued while the
//! previous one committed (at most [`MAX_BATCH`]): a lone run waits for nobody, so the latency
//! of one run is that of its own transaction. PostgreSQL commits its connections side by side
//! and groups their log flushes itself; transitions there commit on their own.
//!
//! There is no committing task: the caller that takes the leader's lock commits what has
//! queued, its own transition included, and answers the others. A lone transition so commits in
//! its caller's task, without the two hand-offs (to a task and back) that cost as much as a
//! statement, more when the caller runs on the guest threads and the task on the API's.

use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::transitions::{Transition, Written};
use crate::{Store, StoreError};

/// The most transitions one transaction carries.
pub(crate) const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Written, StoreError>>;

/// The transitions waiting for a leader, and the leader's lock.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queued: Mutex<Vec<(Transition, Reply)>>,
    leader: tokio::sync::Mutex<()>,
}

fn stopped() -> StoreError {
    StoreError::Io(
        "the transaction that carried this transition was abandoned (the server is shutting down)"
            .into(),
    )
}

impl GroupCommit {
    /// Queues `transition` and waits until the batch that carries it has committed on `store`,
    /// committing that batch itself when it becomes the leader first.
    pub(crate) async fn commit(
        &self,
        store: &Store,
        transition: Transition,
    ) -> Result<Written, StoreError> {
        let (reply, mut answer) = oneshot::channel();
        self.queued
            .lock()
            .expect("group commit queue")
            .push((transition, reply));
        loop {
            let _leading = self.leader.lock().await;
            // A leader answers its whole batch before it lets go of the lock: either ours was
            // in a batch that committed, or it is still queued.
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(stopped()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<(Transition, Reply)> = {
                let mut queued = self.queued.lock().expect("group commit queue");
                let n = queued.len().min(MAX_BATCH);
                queued.drain(..n).collect()
            };
            let (transitions, replies): (Vec<Transition>, Vec<Reply>) = batch.into_iter().unzip();
            let results = store.commit_batch(&transitions).await;
            tracing::trace!(transitions = transitions.len(), "group commit");
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
    }
}
