//! How committed run events reach the event streams (the API's SSE and long-poll, the web's
//! run page) without polling: every commit that adds a run's events bumps that run's counter,
//! which its streams in this process wait on; on PostgreSQL the same transaction sends `NOTIFY lever_run_events`,
//! and every node LISTENs and bumps its own counter, so a client on any node wakes when a run
//! on another moves. The notification carries only the run id: streams re-read the events
//! from the table, so the payload limit does not matter and a lost notification costs only
//! latency — each stream still reads the table every `poll_fallback`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::{Backend, Store, StoreError};

/// The channel PostgreSQL notifications travel on.
const CHANNEL: &str = "lever_run_events";

/// One wake-up counter per run that has a stream or a waiter, and how they are fed.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Per run: bumped after each commit that added its events. Entries without receivers are
    /// dropped as they are met.
    runs: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Send `NOTIFY` on PostgreSQL (off behind a pooler that breaks LISTEN, e.g. PgBouncer in
    /// transaction mode: other nodes then see events within `poll_fallback`).
    notify: AtomicBool,
    /// The longest a stream waits before reading the table anyway (ms).
    poll_fallback_ms: AtomicU64,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            runs: Mutex::default(),
            notify: AtomicBool::new(true),
            poll_fallback_ms: AtomicU64::new(1_000),
        }
    }
}

impl Delivery {
    /// Wakes what waits on `run_id`'s events.
    fn bump(&self, run_id: &str) {
        let mut runs = self.runs.lock().expect("event delivery lock");
        if let Some(sender) = runs.get(run_id) {
            if sender.receiver_count() == 0 {
                runs.remove(run_id);
            } else {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Wakes everything (the LISTEN connection was lost: what it missed is unknown).
    fn bump_all(&self) {
        let mut runs = self.runs.lock().expect("event delivery lock");
        runs.retain(|_, sender| sender.receiver_count() > 0);
        for sender in runs.values() {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn subscribe(&self, run_id: &str) -> watch::Receiver<u64> {
        let mut runs = self.runs.lock().expect("event delivery lock");
        // Streams that ended leave senders nobody listens to: drop them here, where the map
        // would otherwise grow by one for each run ever followed.
        runs.retain(|_, sender| sender.receiver_count() > 0);
        runs.entry(run_id.to_string())
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe()
    }
}

/// LISTENs on `url` for the other nodes' commits, reconnecting after a lost connection, for as
/// long as the store lives.
pub(crate) fn listen(url: &str, delivery: &Arc<Delivery>) {
    let url = url.to_string();
    let delivery: Weak<Delivery> = Arc::downgrade(delivery);
    tokio::spawn(async move {
        // Each failure path checks that the store still lives, so the task ends with it.
        while delivery.strong_count() > 0 {
            let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for run events; streams poll until it can");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "cannot LISTEN for run events; streams poll until it can");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            loop {
                // `recv` reconnects by itself; an error means it could not.
                let received = listener.recv().await;
                let Some(delivery) = delivery.upgrade() else {
                    return;
                };
                match received {
                    Ok(notification) => delivery.bump(notification.payload()),
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the LISTEN connection for run events");
                        // What was committed meanwhile is read by the streams' next look.
                        delivery.bump_all();
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

impl Store {
    /// Sets how run events reach other nodes: `notify` sends PostgreSQL notifications (turn it
    /// off behind a pooler that breaks LISTEN), `poll_fallback` bounds how long a stream waits
    /// before it reads the table anyway.
    pub fn configure_event_delivery(&self, notify: bool, poll_fallback: Duration) {
        self.events.notify.store(notify, Ordering::Relaxed);
        self.events.poll_fallback_ms.store(
            poll_fallback.as_millis().clamp(1, u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// Tells the other nodes, when `tx` commits, that run `run_id` has new events.
    pub(crate) async fn announce_events(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        run_id: &str,
    ) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres && self.events.notify.load(Ordering::Relaxed) {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(run_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Wakes this process's streams of run `run_id`: its events were committed.
    pub(crate) fn events_were_committed(&self, run_id: &str) {
        self.events.bump(run_id);
    }

    /// A receiver that [`Store::next_events`] waits on for run `run_id`'s events; subscribe
    /// before reading the events, so a commit between the read and the wait is not missed.
    pub fn event_commits(&self, run_id: &str) -> watch::Receiver<u64> {
        self.events.subscribe(run_id)
    }

    /// Waits until run events are committed after what `seen` saw (here, or on another node
    /// that notified), at most `at_most` and at most the poll fallback.
    pub async fn next_events(&self, seen: &mut watch::Receiver<u64>, at_most: Duration) {
        let fallback = Duration::from_millis(self.events.poll_fallback_ms.load(Ordering::Relaxed));
        let _ = tokio::time::timeout(at_most.min(fallback), seen.changed()).await;
    }
}
