//! Signing in through the OIDC authorization-code flow with PKCE (RFC 7636, S256), for the
//! web UI: a login starts with a random `state`, `nonce` and code verifier; the provider sends
//! the browser back with a code, which is exchanged (with the verifier) for an ID token that is
//! verified like any bearer JWT, and whose `nonce` must be the one this login sent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{IdentityError, OidcIdentity, OidcVerifier};

/// A login under way: where to send the browser, and what to keep until it comes back.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// The provider's authorization URL with every parameter.
    pub url: String,
    /// The `state` sent (the callback must bring it back).
    pub state: String,
    /// The PKCE code verifier (kept server-side; its S256 hash was sent).
    pub verifier: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 code challenge of a verifier.
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn provider(message: String) -> IdentityError {
    IdentityError::OidcProvider(message)
}

impl OidcVerifier {
    fn client_id(&self) -> &str {
        let config = self.config();
        config.client_id.as_deref().unwrap_or(&config.audience)
    }

    async fn endpoint(&self, name: &str) -> Result<String, IdentityError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config().issuer.trim_end_matches('/')
        );
        let discovery = self.get_json(&url, "OIDC discovery").await?;
        discovery
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| provider(format!("OIDC discovery at {url} has no {name}")))
    }

    /// Starts a login that returns to `redirect_uri`.
    pub async fn start_login(&self, redirect_uri: &str) -> Result<LoginStart, IdentityError> {
        let endpoint = self.endpoint("authorization_endpoint").await?;
        let (state, verifier, nonce) = (random(), random(), random());
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", self.client_id()),
            ("redirect_uri", redirect_uri),
            ("scope", "openid profile email"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &code_challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ])
        .map_err(|e| provider(e.to_string()))?;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Ok(LoginStart {
            url: format!("{endpoint}{separator}{query}"),
            state,
            verifier,
            nonce,
        })
    }

    /// Exchanges the callback's `code` for an ID token, verifies it and its `nonce`.
    pub async fn finish_login(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        redirect_uri: &str,
    ) -> Result<OidcIdentity, IdentityError> {
        let endpoint = self.endpoint("token_endpoint").await?;
        let response = self
            .http()
            .post(&endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", self.client_id()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| provider(format!("token endpoint {endpoint}: {e}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| provider(format!("token endpoint {endpoint} answered no JSON: {e}")))?;
        if !status.is_success() {
            return Err(IdentityError::Oidc(format!(
                "the identity provider refused the sign-in: {}",
                body.get("error_description")
                    .or_else(|| body.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            )));
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| provider(format!("token endpoint {endpoint} answered no id_token")))?;
        let identity = self.verify(id_token).await?;
        if identity.claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(IdentityError::Oidc(
                "the ID token's nonce is not this sign-in's: start the sign-in again".into(),
            ));
        }
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
