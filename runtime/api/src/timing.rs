//! `Server-Timing` on `/api/v1` answers: where a request's time went on the server — its
//! authentication and, for a submission, the preview, the approval route and the commit — as
//! browsers' developer tools show it and `lever-bench` reads it to break the submit path down.
//! The code that does a piece records it into the request's own list (a task-local value, so
//! nothing is shared between requests).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static PIECES: RefCell<Vec<(&'static str, Duration)>>;
}

/// Records that `name` took `took` in the current request (nothing outside a request).
pub(crate) fn record(name: &'static str, took: Duration) {
    let _ = PIECES.try_with(|pieces| pieces.borrow_mut().push((name, took)));
}

/// Awaits `work`, recording how long it took as `name`.
pub(crate) async fn timed<T>(name: &'static str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = work.await;
    record(name, started.elapsed());
    out
}

/// The middleware: runs the request with an empty list and answers what it recorded, plus
/// `total`, in one `Server-Timing` header (durations in milliseconds).
pub(crate) async fn server_timing(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut response, mut pieces) = PIECES
        .scope(RefCell::new(Vec::new()), async {
            let response = next.run(request).await;
            (response, PIECES.with(|pieces| pieces.take()))
        })
        .await;
    pieces.push(("total", started.elapsed()));
    let value = pieces
        .iter()
        .map(|(name, took)| format!("{name};dur={:.3}", took.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append("server-timing", value);
    }
    response
}
