//! Server-side sessions: the browser holds a random value in an `HttpOnly`, `SameSite=Strict`
//! cookie (`Secure` behind https); the database holds its SHA-256, the user, the CSRF token
//! and the expiry. Every page handler takes a [`Viewer`], which is the session's principal
//! rebuilt from the identity config on each request, so a session can do exactly what that
//! user's API token could and no more; signing out revokes the row.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use lever_identity::{Principal, Source};
use lever_service::ServiceError;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{WebError, WebState};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "lever_session";
/// The cookie of the sign-in form's CSRF token, set before anyone is signed in.
pub(crate) const SIGN_IN_COOKIE: &str = "lever_sign_in";

/// 32 random bytes, hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 hex under which a cookie value is stored.
pub(crate) fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value for this server (`Secure` when it is behind https).
pub(crate) fn set_cookie(state: &WebState, name: &str, value: &str, max_age_secs: i64) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if state.secure_cookies { "; Secure" } else { "" }
    )
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// Who they are and what they may do, from the identity config.
    pub(crate) principal: Principal,
    /// The CSRF token their forms carry.
    pub(crate) csrf: String,
    /// The session's stored hash (sign-out revokes it).
    pub(crate) session_hash: String,
    /// How many entries of their inbox are unread (the bell in the navigation).
    pub(crate) unread: i64,
}

impl Viewer {
    /// Refuses a state-changing request whose form does not carry this session's CSRF token.
    pub(crate) fn check_csrf(&self, sent: Option<&str>) -> Result<(), WebError> {
        match sent {
            Some(sent) if same_secret(sent, &self.csrf) => Ok(()),
            _ => Err(WebError::Forbidden(
                "this form's CSRF token is missing or wrong (was the page open in another session?): reload the page and try again".into(),
            )),
        }
    }
}

/// Builds a session for `user_id`: stores its hash and returns the cookie value.
pub(crate) async fn start(
    state: &WebState,
    user_id: &str,
    source: &str,
    identity: Option<&str>,
) -> Result<String, WebError> {
    let value = random_token();
    let csrf = random_token();
    let expires = lever_store::now_ms() + state.session_ms;
    state
        .app
        .store
        .insert_session(&hash(&value), user_id, &csrf, source, expires, identity)
        .await
        .map_err(ServiceError::from)?;
    Ok(value)
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let sign_in = || WebError::SignIn { next: next.clone() };
        let value = cookie(&parts.headers, COOKIE).ok_or_else(sign_in)?;
        let session_hash = hash(&value);
        let record = state
            .app
            .store
            .session(&session_hash)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(sign_in)?;
        if record.revoked_at.is_some() || record.expires_at <= lever_store::now_ms() {
            return Err(sign_in());
        }
        let identity = &state.app.identity;
        let principal = match (record.source.as_str(), &record.identity) {
            // An OIDC user need not be in the config: the verified claims say who they are.
            ("oidc", Some(json)) => {
                let verified: lever_identity::OidcIdentity =
                    serde_json::from_str(json).map_err(|_| sign_in())?;
                let mut principal = identity.config().oidc_principal(&verified);
                principal.source = Source::Oidc;
                principal
            }
            ("demo", _) => identity
                .principal(&record.user_id, Source::Config)
                .ok_or_else(sign_in)?,
            _ => identity
                .principal(&record.user_id, Source::Token)
                .ok_or_else(sign_in)?,
        };
        // The bell is a convenience: a failure to count leaves it empty, not the page.
        let unread = lever_service::inbox::unread(&state.app, &principal)
            .await
            .unwrap_or(0);
        Ok(Viewer {
            principal,
            csrf: record.csrf,
            session_hash,
            unread,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            "a=1; lever_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
