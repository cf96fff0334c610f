//! How many requests each caller may have in flight, whichever transport they come through
//! (`/api/v1`, Backstage's scaffolder API): one gate for all, so a caller's limit is not
//! multiplied by the number of ways in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bounds the requests each principal has in flight: one semaphore per principal id.
pub struct PrincipalGate {
    limit: usize,
    wait: Duration,
    /// Per principal: the slots in flight, and the places to wait for one.
    permits: Mutex<HashMap<String, Slots>>,
}

/// Counts itself in `lever_api_requests{state}` while it lives.
struct Counted(&'static str);

impl Counted {
    fn new(state: &'static str) -> Self {
        lever_metrics::api_requests(state, 1.0);
        Counted(state)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        lever_metrics::api_requests(self.0, -1.0);
    }
}

/// A request's place among its caller's requests in flight, held until its answer is ready.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    _counted: Counted,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit) -> Self {
        Slot {
            _permit: permit,
            _counted: Counted::new("in-flight"),
        }
    }
}

/// One principal's slots in flight and places to wait for one.
type Slots = (Arc<Semaphore>, Arc<Semaphore>);

impl PrincipalGate {
    /// At most `limit` requests in flight per principal, and as many waiting up to `wait`.
    pub fn new(limit: usize, wait: Duration) -> Self {
        Self {
            limit: limit.max(1),
            wait,
            permits: Mutex::new(HashMap::new()),
        }
    }

    /// A permit for one request of `principal`, held until its answer is ready: at once when
    /// it has fewer than `limit` in flight, else after waiting (with at most `limit` others) up
    /// to the gate's wait for one to finish; `None` past that (answer
    /// [`PrincipalGate::refusal`]).
    pub async fn enter(&self, principal: &str) -> Option<Slot> {
        let (slots, queue) = {
            let mut permits = self.permits.lock().expect("gate lock");
            // Forget principals with nothing in flight, so the map stays as small as the
            // set of active callers.
            if permits.len() > 1024 {
                permits.retain(|_, (s, _)| s.available_permits() < self.limit);
            }
            permits
                .entry(principal.to_string())
                .or_insert_with(|| {
                    (
                        Arc::new(Semaphore::new(self.limit)),
                        Arc::new(Semaphore::new(self.limit)),
                    )
                })
                .clone()
        };
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return Some(Slot::new(permit));
        }
        let _place = queue.try_acquire_owned().ok()?;
        let _waiting = Counted::new("waiting");
        tokio::time::timeout(self.wait, slots.acquire_owned())
            .await
            .ok()?
            .ok()
            .map(Slot::new)
    }

    /// The most requests one caller may have in flight.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What a refused caller is told.
    pub fn refusal_message(&self, principal: &str) -> String {
        format!(
            "{principal} already has {} requests in flight, the most one caller may have; wait for one to finish (retry after 1 s)",
            self.limit
        )
    }
}
