//! Request body limits and their answer: every body is bounded (plugins at
//! [`MAX_PLUGIN_BYTES`], everything else at [`MAX_REQUEST_BYTES`]), and a body over its limit
//! is answered `413 Payload Too Large` with the limit in the message — whichever extractor
//! (JSON, text, bytes, form) noticed it.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::MAX_PLUGIN_BYTES;

/// Largest accepted body outside plugin uploads.
pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// The body limit of a path.
pub fn limit_of(path: &str) -> usize {
    if path == "/api/v1/plugins" {
        MAX_PLUGIN_BYTES
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

/// Middleware: replaces whatever 413 an extractor answered with [`too_large`], so every
/// route answers the same JSON error with its limit.
pub async fn explain_too_large(request: Request, next: axum::middleware::Next) -> Response {
    let limit = limit_of(request.uri().path());
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limit);
    }
    response
}
