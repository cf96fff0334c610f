//! One module per page (or group of pages).

pub(crate) mod api_reference;
pub(crate) mod approvals;
pub(crate) mod catalog;
pub(crate) mod form;
pub(crate) mod insights;
pub(crate) mod platform;
pub(crate) mod resources;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod sign_in;

use axum::http::HeaderMap;

/// A submitted `application/x-www-form-urlencoded` body as pairs (repeated names kept).
pub(crate) fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, crate::WebError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| crate::WebError::BadRequest(format!("the form could not be read: {e}")))
}

/// The value of one form field.
pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The CSRF token of a request: the form's `csrf` field, else htmx's `x-csrf-token` header.
pub(crate) fn sent_csrf<'a>(
    pairs: &'a [(String, String)],
    headers: &'a HeaderMap,
) -> Option<&'a str> {
    field(pairs, "csrf").or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
}

/// A same-site path to return to after signing in (anything else goes to the catalog).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// A state-changing request's form, once its CSRF token is checked against the session's.
pub(crate) fn checked_form(
    viewer: &crate::session::Viewer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, crate::WebError> {
    let pairs = form_pairs(body)?;
    viewer.check_csrf(sent_csrf(&pairs, headers))?;
    Ok(pairs)
}
