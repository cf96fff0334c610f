//! One error type for every handler: a status code and `{"error": {"code", "message", ...}}`,
//! never a stack trace or a database message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lever_catalog::CatalogError;
use lever_registry::{PublishError, ResolveError, SignatureError};
use lever_runs::SubmitError;
use lever_sandbox::{InvokeError, LoadError};
use lever_store::StoreError;
use serde_json::json;

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(details) = self.details {
            error["details"] = details;
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Refused(message) = e {
            return ApiError::new(StatusCode::CONFLICT, "conflict", message);
        }
        tracing::error!(error = %e, "store error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "the database is unavailable; try again shortly",
        )
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Load(LoadError::NotWasm) => {
                ApiError::bad_request("not-wasm", e.to_string())
            }
            PublishError::Load(LoadError::CoreModule) => {
                ApiError::bad_request("core-module", e.to_string())
            }
            PublishError::Load(LoadError::NotALeverWorld { .. }) => {
                ApiError::bad_request("not-a-lever-world", e.to_string())
            }
            PublishError::Load(LoadError::UnknownImport(_)) => {
                ApiError::bad_request("unknown-import", e.to_string())
            }
            PublishError::Load(_) | PublishError::InvalidManifest(_) => {
                ApiError::bad_request("invalid-plugin", e.to_string())
            }
            PublishError::Conflict(StoreError::SettingsConflict { .. }) => ApiError::new(
                StatusCode::CONFLICT,
                "published-with-other-grants",
                e.to_string(),
            ),
            PublishError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "version-exists", e.to_string())
            }
            PublishError::Signature(ref signature) => {
                let code = match signature {
                    SignatureError::Unsigned { .. } => "unsigned",
                    SignatureError::Untrusted { .. } => "untrusted-signature",
                    SignatureError::Tampered { .. } => "bad-signature",
                    SignatureError::Malformed(_) => "malformed-signature",
                };
                ApiError::bad_request(code, e.to_string())
            }
            PublishError::Store(s) => s.into(),
        }
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::NotFound(m) => ApiError::not_found(m),
            ResolveError::Reference(r) => ApiError::bad_request("invalid-reference", r.to_string()),
            ResolveError::Load(..) => {
                tracing::error!(error = %e, "stored plugin does not load");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "plugin-unloadable",
                    e.to_string(),
                )
            }
            ResolveError::Store(s) => s.into(),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Resolve(r) => r.into(),
            SubmitError::Input(InvokeError::InvalidInput { errors }) => ApiError::bad_request(
                "invalid-input",
                format!(
                    "the input does not match the action's input schema: {}",
                    errors.join("; ")
                ),
            )
            .with_details(json!(errors)),
            SubmitError::Input(other) => ApiError::bad_request("invalid-input", other.to_string()),
            SubmitError::Parameters(errors) => {
                let message = SubmitError::Parameters(errors.clone()).to_string();
                ApiError::bad_request("invalid-parameters", message).with_details(json!(errors))
            }
            SubmitError::Catalog(c) => c.into(),
            SubmitError::Malformed(m) => ApiError::bad_request("invalid-request", m),
            SubmitError::NotFound(m) => ApiError::not_found(m),
            SubmitError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "wrong-state", m),
            SubmitError::Busy(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", m)
                .with_retry_after(lever_runs::RETRY_AFTER.as_secs()),
            SubmitError::Store(s) => s.into(),
        }
    }
}

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

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Template(t) => ApiError::bad_request("invalid-template", t.to_string())
                .with_details(json!({"line": t.line, "message": t.message})),
            CatalogError::Form(m) => ApiError::bad_request("invalid-form", m),
            CatalogError::Bundle(b) => ApiError::bad_request("invalid-bundle", b.to_string()),
            CatalogError::NotFound(m) => ApiError::not_found(m),
            CatalogError::Store(s) => s.into(),
        }
    }
}
