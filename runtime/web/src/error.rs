//! What a page handler answers when it cannot show its page: a redirect to sign in, or an
//! error page whose message says what to fix (the use case's own message, for its errors).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// A page that cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Nobody is signed in (or the session expired or was revoked).
    #[error("sign in to continue")]
    SignIn {
        /// Where to go back to after signing in.
        next: String,
    },
    /// Refused: a wrong CSRF token, a role the user does not have.
    #[error("{0}")]
    Forbidden(String),
    /// Bad input from the browser.
    #[error("{0}")]
    BadRequest(String),
    /// A use case's error (its message says what to fix).
    #[error("{}", .0.message)]
    Service(lever_service::ServiceError),
    /// A page template failed to render (a bug).
    #[error("the page could not be rendered: {0}")]
    Render(#[from] minijinja::Error),
}

impl From<lever_service::ServiceError> for WebError {
    fn from(e: lever_service::ServiceError) -> Self {
        WebError::Service(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::SignIn { next } => {
                let target = format!("/sign-in?next={}", urlencode(next));
                let mut response = Redirect::to(&target).into_response();
                // htmx follows this header instead of swapping the sign-in page into a fragment.
                if let Ok(value) = HeaderValue::from_str(&target) {
                    response.headers_mut().insert("hx-redirect", value);
                }
                return response;
            }
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Service(e) => status_of(e),
            WebError::Render(e) => {
                let mut detail = format!("{e:#}");
                let mut source = std::error::Error::source(e);
                while let Some(inner) = source {
                    detail.push_str(&format!("; caused by {inner:#}"));
                    source = inner.source();
                }
                tracing::error!(error = %detail, "page template failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let html = format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
             <title>{code} — Lever</title><link rel=stylesheet href=/assets/style.css></head><body><main class=narrow>\
             <h1>{title}</h1><p role=alert class=error id=error-message>{message}</p><p><a href=/>Back to the catalog</a></p></main></body></html>",
            code = status.as_u16(),
            title = status.canonical_reason().unwrap_or("Error"),
            message = crate::render::escape(&self.to_string()),
        );
        (status, Html(html)).into_response()
    }
}

/// The HTTP status a use case's error is answered with.
pub(crate) fn status_of(e: &lever_service::ServiceError) -> StatusCode {
    StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)])
        .map(|s| s[2..].to_string())
        .unwrap_or_default()
}
