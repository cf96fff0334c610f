//! Group commit on SQLite: the transitions of many runs that wait for the write connection at
//! the same time — a step's end, a step's start, a run's end — are committed in one
//! transaction, each still committed before its caller hears of it. SQLite has one writer, and
//! each commit appends every page it changed to the log: runs whose transitions touch the same
//! tail pages of `run_events`, `run_steps` and `run_logs` write them once per batch instead of
//! once each, and pay one `BEGIN … COMMIT` between them. A batch is whatever queued while the
//! previous one committed (at most [`MAX_BATCH`]): a lone run waits for nobody, so the latency
//! of one run is that of its own transaction. PostgreSQL commits its connections side by side
//! and groups their log flushes itself; transitions there commit on their own.

use tokio::sync::{mpsc, oneshot};

use crate::transitions::{Transition, Written};
use crate::{Store, StoreError};

/// The most transitions one transaction carries.
pub(crate) const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Written, StoreError>>;

/// The queue to the task that commits batches.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<(Transition, Reply)>,
}

fn stopped() -> StoreError {
    StoreError::Io("the store's write queue has stopped (the server is shutting down)".into())
}

impl GroupCommit {
    /// Starts the committing task on `store`, a handle without a group commit of its own: the
    /// task ends when the last handle that queues to it is dropped.
    pub(crate) fn start(store: Store) -> Self {
        let (queue, mut queued) = mpsc::unbounded_channel::<(Transition, Reply)>();
        tokio::spawn(async move {
            while let Some(first) = queued.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queued.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (transitions, replies): (Vec<Transition>, Vec<Reply>) =
                    batch.into_iter().unzip();
                let results = store.commit_batch(&transitions).await;
                tracing::trace!(transitions = transitions.len(), "group commit");
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
        });
        Self { queue }
    }

    /// Queues `transition` and waits until the batch that carries it has committed.
    pub(crate) async fn commit(&self, transition: Transition) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((transition, reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
