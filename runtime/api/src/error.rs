//! One error type for every handler: a status code and `{"error": {"code", "message", ...}}`,
//! never a stack trace or a database message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lever_service::ServiceError;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
    /// Seconds for `Retry-After`, on a 503 or 429.
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a stable code and a message that says what to fix.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// Says when to try again (`Retry-After`, seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds structured details (field errors...).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message that says what to fix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The structured details, when there are any (field errors...).
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

/// Every error's body: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, and what to fix.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code (`invalid-parameters`, `not-found`, `body-too-large`...).
    pub code: String,
    /// What to fix, in a sentence.
    pub message: String,
    /// Structured details (field errors, conflicts...), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status =
            StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code: e.code,
            message: e.message,
            details: e.details,
            retry_after: e.retry_after,
        }
    }
}

/// The lower layers' errors reach an answer through the application layer's mapping, the one
/// every transport shares.
macro_rules! through_the_service_layer {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                ServiceError::from(e).into()
            }
        })*
    };
}

through_the_service_layer!(
    lever_store::StoreError,
    lever_registry::PublishError,
    lever_registry::ResolveError,
    lever_runs::SubmitError,
    lever_catalog::CatalogError,
    lever_identity::IdentityError,
    lever_approvals::ApprovalError,
    lever_secrets::SecretsError,
);

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            // The limits middleware words it, with the limit.
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "the request body is over this endpoint's limit",
            );
        }
        ApiError::bad_request(
            "invalid-json",
            format!(
                "the request body is not the JSON this endpoint expects: {}",
                e.body_text()
            ),
        )
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request("invalid-query", e.body_text())
    }
}
