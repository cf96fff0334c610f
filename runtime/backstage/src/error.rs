//! Backstage's error body: `{"error": {"name", "message"}, "request": {"method", "url"},
//! "response": {"statusCode"}}`, with the error names Backstage's `@backstage/errors` gives each
//! status, so `ResponseError.fromResponse` in Backstage's client reads Lever's failures as it
//! reads its own.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lever_service::{Kind, ServiceError};
use serde_json::{Value, json};

/// A failure of a `/api/scaffolder/v2` call, answered in Backstage's error shape once the
/// request it answers is known ([`with_request`]).
#[derive(Debug, Clone)]
pub struct Failure {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl Failure {
    /// A failure with Backstage's error name for `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        let name = match status.as_u16() {
            400 | 422 => "InputError",
            401 => "AuthenticationError",
            403 => "NotAllowedError",
            404 => "NotFoundError",
            409 => "ConflictError",
            413 => "PayloadTooLargeError",
            503 => "ServiceUnavailableError",
            _ => "Error",
        };
        Failure {
            status,
            name,
            message: message.into(),
        }
    }

    /// 400 `InputError`.
    pub fn input(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 `NotFoundError`.
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Failure {
        let status = match error.kind {
            // Backstage has no 422 or 410 of its own: both are the caller's input.
            Kind::Unprocessable | Kind::Gone => StatusCode::BAD_REQUEST,
            kind => StatusCode::from_u16(kind.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        Failure::new(status, error.message)
    }
}

impl From<lever_catalog::CatalogError> for Failure {
    fn from(error: lever_catalog::CatalogError) -> Failure {
        ServiceError::from(error).into()
    }
}

impl From<lever_identity::IdentityError> for Failure {
    fn from(error: lever_identity::IdentityError) -> Failure {
        ServiceError::from(error).into()
    }
}

impl From<lever_store::StoreError> for Failure {
    fn from(error: lever_store::StoreError) -> Failure {
        ServiceError::from(error).into()
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        // The body is written by `with_request`, which knows the request it answers.
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes the body of every [`Failure`] with the method and URL of the request it answers.
pub(crate) async fn with_request(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let url = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    let Some(failure) = response.extensions().get::<Failure>().cloned() else {
        return response;
    };
    let mut answer = (failure.status, Json(body(&failure, &method, &url))).into_response();
    // As Backstage's backend (express) answers its errors, and as its OpenAPI document says.
    answer.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // Headers the failure set (Retry-After, WWW-Authenticate) are kept.
    for (name, value) in response.headers() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

fn body(failure: &Failure, method: &str, url: &str) -> Value {
    json!({
        "error": {"name": failure.name, "message": failure.message},
        "request": {"method": method, "url": url},
        "response": {"statusCode": failure.status.as_u16()},
    })
}
