//! The bounds on what one client can make the server do, and their answers:
//! - every body is bounded (plugins at [`MAX_PLUGIN_BYTES`], template bundles at
//!   [`MAX_BUNDLE_BYTES`], everything else at
//!   [`MAX_REQUEST_BYTES`]); a body over its limit is answered `413 Payload Too Large` with the
//!   limit, whichever extractor (JSON, text, bytes, form) noticed it;
//! - a request — its body received, its answer ready — must take at most
//!   [`HttpLimits::request_timeout_seconds`] (`408`, tower-http's timeout layer);
//! - a principal has at most [`HttpLimits::max_concurrent_per_principal`] API requests in
//!   flight ([`PrincipalGate`]); as many more wait up to [`HttpLimits::queue_wait_ms`] for a
//!   slot (a burst of submissions is served in turn), and past that the answer is `429` with
//!   `Retry-After`;
//! - headers are bounded in size and count and must arrive within
//!   [`HttpLimits::header_read_timeout_seconds`] (hyper's connection settings, applied by
//!   `lever serve`; `431`, or the connection closed for a slow-loris client).

use std::time::Duration;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{MAX_BUNDLE_BYTES, MAX_PLUGIN_BYTES};

/// Largest accepted body outside plugin uploads.
pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// The body limit of a path.
pub fn limit_of(path: &str) -> usize {
    if path == "/api/v1/plugins" {
        MAX_PLUGIN_BYTES
    } else if path == "/api/v1/templates" {
        MAX_BUNDLE_BYTES
    } else {
        MAX_REQUEST_BYTES
    }
}

/// The 413 answer for a body over `limit` bytes.
pub fn too_large(limit: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({"error": {
            "code": "body-too-large",
            "message": format!(
                "the request body is over this endpoint's limit of {limit} bytes ({} MiB); send a smaller body",
                limit / (1024 * 1024)
            ),
            "details": {"limit_bytes": limit},
        }})),
    )
        .into_response()
}

/// Middleware: answers a body whose declared `Content-Length` is over its limit at once, before
/// anything reads it, and replaces whatever 413 an extractor answered with [`too_large`], and
/// the empty 408 of the timeout layers with a message, so every route answers the same JSON
/// errors.
///
/// Answering before the body is read matters: hyper sends `100 Continue` only when a handler
/// first reads the body, so a client that asked to wait for it (`Expect: 100-continue`, which
/// curl and browsers' large uploads send) gets the 413 without sending megabytes the server
/// would close the connection on — a close with unread bytes resets the connection, and the
/// reset can reach the client before it has read the answer.
pub async fn explain_limits(request: Request, next: axum::middleware::Next) -> Response {
    let limit = limit_of(request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let response = next.run(request).await;
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(limit),
        StatusCode::REQUEST_TIMEOUT if response.headers().get(header::CONTENT_TYPE).is_none() => {
            (
                StatusCode::REQUEST_TIMEOUT,
                Json(json!({"error": {
                    "code": "request-timeout",
                    "message": "the request was not received or answered in time; send the body promptly, and for long waits use `?wait=` (at most 60 s) or the event stream",
                }})),
            )
                .into_response()
        }
        _ => response,
    }
}

/// The HTTP bounds of `lever serve`, from the `http:` section of lever.yaml; each has a safe
/// default.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// Time to receive a request's body and answer it (long-polls wait at most 60 s, so keep
    /// this above that).
    pub request_timeout_seconds: u64,
    /// Time for a request's headers to arrive (slow-loris clients are cut off after it); hyper
    /// counts it from the end of the previous answer, so it is also how long an idle
    /// keep-alive connection stays open.
    pub header_read_timeout_seconds: u64,
    /// Largest request head (request line and headers).
    pub max_header_bytes: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Most `/api/v1` requests one principal may have in flight.
    pub max_concurrent_per_principal: usize,
    /// How long a principal's request over that waits for a slot before its 429 (as many may
    /// wait as may be in flight).
    pub queue_wait_ms: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            request_timeout_seconds: 75,
            header_read_timeout_seconds: 30,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_concurrent_per_principal: 32,
            queue_wait_ms: 1_000,
        }
    }
}

impl HttpLimits {
    /// Wraps the API and the web UI: body limits and 413, the request timeout and 408.
    pub fn apply(&self, app: axum::Router) -> axum::Router {
        use tower_http::timeout::TimeoutLayer;
        app.layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(self.request_timeout_seconds),
            ))
            .layer(axum::middleware::from_fn(explain_limits))
    }
}

pub use lever_service::gate::PrincipalGate;

/// The 429 answer for `principal`, with `Retry-After`, when `gate` has no slot for them.
pub fn refusal(gate: &PrincipalGate, principal: &str) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"error": {
            "code": "too-many-requests",
            "message": gate.refusal_message(principal),
            "details": {"max_concurrent": gate.limit()},
        }})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
