//! What the executor keeps of each step attempt for replays: its outbound HTTP exchanges,
//! recorded by the sandbox with bodies bounded and secret values masked, stored once the
//! attempt ends (only when it made requests, so steps without HTTP cost nothing).

use lever_sandbox::HttpRecording;
use lever_store::{RunRecord, Store, StoreError};

/// Bytes of each request or response body kept.
const BODY_LIMIT: usize = 16 * 1024;
/// Exchanges kept per attempt.
const MAX_EXCHANGES: usize = 200;

/// An empty recording for one attempt.
pub(crate) fn recording() -> HttpRecording {
    HttpRecording::new(BODY_LIMIT, MAX_EXCHANGES)
}

/// Stores what `recording` holds for `run`'s `step_id`, attempt `attempt`.
pub(crate) async fn keep(
    store: &Store,
    run: &RunRecord,
    step_id: &str,
    attempt: u32,
    recording: &HttpRecording,
) -> Result<(), StoreError> {
    let exchanges = recording.exchanges();
    if exchanges.is_empty() {
        return Ok(());
    }
    let value = serde_json::to_value(&exchanges).unwrap_or_default();
    store
        .record_step_http(&run.id, step_id, attempt, &value)
        .await
}
