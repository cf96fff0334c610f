//! One module per page (or group of pages).

pub(crate) mod api_reference;
pub(crate) mod approvals;
pub(crate) mod catalog;
mod credentials;
pub(crate) mod form;
pub(crate) mod inbox;
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

/// What a Reveal button is answered with: the secret's value in place of the button, with
/// Copy and Hide — a database's credentials as their fields, a ready-to-paste connection string
/// and `psql` command, any other JSON document pretty-printed — or why it is refused (htmx
/// swaps 200s only, so both are 200).
pub(crate) async fn revealed(
    state: &crate::WebState,
    viewer: &crate::session::Viewer,
    name: &str,
) -> axum::response::Response {
    use crate::render::escape;
    use axum::response::{Html, IntoResponse};
    match lever_service::secrets::reveal(&state.app, &viewer.principal, name).await {
        Ok(value) => {
            let context = credentials::view(&value);
            match crate::render::fragment(state, Some(viewer), "revealed.html", context) {
                Ok(html) => Html(html).into_response(),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => Html(format!(
            "<p class=\"error reveal-refused\" role=\"alert\">{}</p>",
            escape(&e.message)
        ))
        .into_response(),
    }
}
