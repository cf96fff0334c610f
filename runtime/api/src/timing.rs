//! `Server-Timing` on `/api/v1` answers: where a request's time went on the server — its
//! authentication and, for a submission, the preview, the approval route and the commit — as
//! browsers' developer tools show it and `lever-bench` reads it to break the submit path down.
//! The application layer records the pieces (`lever_service::timing`); this middleware
//! measures each request and answers them.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The middleware: runs the request with an empty list and answers what it recorded, plus
/// `total`, in one `Server-Timing` header (durations in milliseconds).
pub(crate) async fn server_timing(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut response, mut pieces) = lever_service::timing::measured(next.run(request)).await;
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
