//! Where a request's time went on the server — its authentication and, for a submission, the
//! preview, the approval route and the commit. The code that does a piece records it into the
//! request's own list (a task-local value, so nothing is shared between requests); a transport
//! that wants the figures runs the request inside [`measured`] (the API answers them as
//! `Server-Timing`, which `lever-bench` reads to break the submit path down).

use std::cell::RefCell;
use std::time::{Duration, Instant};

tokio::task_local! {
    static PIECES: RefCell<Vec<(&'static str, Duration)>>;
}

/// Records that `name` took `took` in the current request (nothing outside [`measured`]).
pub fn record(name: &'static str, took: Duration) {
    let _ = PIECES.try_with(|pieces| pieces.borrow_mut().push((name, took)));
}

/// Awaits `work`, recording how long it took as `name`.
pub async fn timed<T>(name: &'static str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = work.await;
    record(name, started.elapsed());
    out
}

/// Runs `work` with an empty list and answers its output with what it recorded.
pub async fn measured<T>(work: impl Future<Output = T>) -> (T, Vec<(&'static str, Duration)>) {
    PIECES
        .scope(RefCell::new(Vec::new()), async {
            let out = work.await;
            (out, PIECES.with(|pieces| pieces.take()))
        })
        .await
}
