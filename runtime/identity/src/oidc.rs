//! OIDC bearer JWTs: keys from the provider's JWKS (found by discovery unless configured),
//! cached and refetched on an unknown key id at most every 30 seconds.

use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::IdentityError;
use crate::config::OidcConfig;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// An unknown key id triggers a JWKS refetch at most this often.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// Keys are refreshed when older than this, even without an unknown key id.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// Asymmetric algorithms accepted; the JWK decides which one a key uses.
const ACCEPTED: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Who a verified OIDC token says the caller is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OidcIdentity {
    /// The user claim (`oidc.user_claim`).
    pub user_id: String,
    /// The `name` claim.
    pub name: Option<String>,
    /// The `email` claim.
    pub email: Option<String>,
    /// The groups claim (`oidc.groups_claim`), leading `/` of group paths removed.
    pub groups: Vec<String>,
    /// The team claim (`oidc.team_claim`).
    pub team: Option<String>,
    /// Every claim, verified.
    pub claims: Map<String, Value>,
}

#[derive(Default)]
struct KeyCache {
    jwks_uri: Option<String>,
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
}

/// Verifies JWTs issued by the configured provider.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

fn refused(message: impl Into<String>) -> IdentityError {
    IdentityError::Oidc(message.into())
}

impl OidcVerifier {
    /// A verifier; nothing is fetched until the first token.
    pub fn new(config: OidcConfig) -> OidcVerifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        OidcVerifier {
            config,
            http,
            cache: Mutex::new(KeyCache::default()),
        }
    }

    /// The config it verifies against.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Checks signature, `iss`, `aud`, `exp` and `nbf` (30 s leeway) and returns the identity.
    pub async fn verify(&self, jwt: &str) -> Result<OidcIdentity, IdentityError> {
        let header = jsonwebtoken::decode_header(jwt)
            .map_err(|e| refused(format!("malformed token: {e}")))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(refused(format!(
                "token algorithm {:?} is not accepted; use RS256 or ES256",
                header.alg
            )));
        }
        let key = self.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(jwt, &key, &validation)
            .map_err(|e| self.explain(jwt, e))?
            .claims;
        self.identity(claims)
    }

    /// Turns a jsonwebtoken error into a message that says what was wrong.
    fn explain(&self, jwt: &str, error: jsonwebtoken::errors::Error) -> IdentityError {
        let claim = |name: &str| {
            jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(jwt)
                .ok()
                .and_then(|c| c.get(name).cloned())
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(none)".to_string())
        };
        refused(match error.kind() {
            ErrorKind::InvalidSignature => "token signature does not verify".to_string(),
            ErrorKind::ExpiredSignature => "token expired".to_string(),
            ErrorKind::ImmatureSignature => {
                "token is not valid yet (its nbf is in the future)".to_string()
            }
            ErrorKind::InvalidIssuer => {
                format!(
                    "issuer {} is not the configured issuer \"{}\"",
                    claim("iss"),
                    self.config.issuer
                )
            }
            ErrorKind::InvalidAudience => {
                format!(
                    "audience {} is not the configured audience \"{}\"",
                    claim("aud"),
                    self.config.audience
                )
            }
            ErrorKind::MissingRequiredClaim(name) => format!("token has no `{name}` claim"),
            ErrorKind::InvalidAlgorithm => "token algorithm does not match its key".to_string(),
            _ => format!("malformed token: {error}"),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn identity(&self, claims: Map<String, Value>) -> Result<OidcIdentity, IdentityError> {
        let text = |name: &str| match claims.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let user_id = text(&self.config.user_claim).ok_or_else(|| {
            refused(format!(
                "token has no `{}` claim to identify the user (oidc.user_claim)",
                self.config.user_claim
            ))
        })?;
        let groups = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(group_name)
                .collect(),
            Some(Value::String(s)) => vec![group_name(s)],
            _ => Vec::new(),
        };
        Ok(OidcIdentity {
            user_id,
            name: text("name"),
            email: text("email"),
            groups: groups.into_iter().filter(|g| !g.is_empty()).collect(),
            team: text(&self.config.team_claim),
            claims,
        })
    }

    /// The decoding key for a token's `kid` and `alg`, fetching the JWKS as needed.
    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, IdentityError> {
        let mut cache = self.cache.lock().await;
        if cache.fetched_at.is_none_or(|at| at.elapsed() > MAX_KEY_AGE)
            && let Err(e) = self.refresh(&mut cache).await
        {
            if cache.keys.is_empty() {
                return Err(e);
            }
            tracing::warn!("keeping cached OIDC keys: {e}");
        }
        if let Some(jwk) = find(&cache.keys, kid, alg)? {
            return key(jwk, alg);
        }
        if cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= MIN_REFETCH)
        {
            self.refresh(&mut cache).await?;
            if let Some(jwk) = find(&cache.keys, kid, alg)? {
                return key(jwk, alg);
            }
        }
        Err(refused(match kid {
            Some(kid) => {
                format!("unknown key id `{kid}`: the identity provider's key set has no such key")
            }
            None => {
                format!("token has no key id and the identity provider has no single {alg:?} key")
            }
        }))
    }

    async fn refresh(&self, cache: &mut KeyCache) -> Result<(), IdentityError> {
        let jwks_uri = match self
            .config
            .jwks_uri
            .clone()
            .or_else(|| cache.jwks_uri.clone())
        {
            Some(uri) => uri,
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let discovery = self.get_json(&url, "OIDC discovery").await?;
                let uri = discovery
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        IdentityError::OidcProvider(format!(
                            "OIDC discovery at {url} has no jwks_uri; set oidc.jwks_uri"
                        ))
                    })?;
                cache.jwks_uri = Some(uri.to_string());
                uri.to_string()
            }
        };
        let set = self.get_json(&jwks_uri, "JWKS").await?;
        let entries = set.get("keys").and_then(Value::as_array).ok_or_else(|| {
            IdentityError::OidcProvider(format!("JWKS at {jwks_uri} has no `keys` array"))
        })?;
        // One key the library cannot read must not take the others down with it.
        cache.keys = entries
            .iter()
            .filter_map(|entry| match serde_json::from_value::<Jwk>(entry.clone()) {
                Ok(jwk) => Some(jwk),
                Err(e) => {
                    tracing::debug!("skipping unreadable JWK from {jwks_uri}: {e}");
                    None
                }
            })
            .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
            .collect();
        cache.fetched_at = Some(Instant::now());
        tracing::debug!(keys = cache.keys.len(), "fetched OIDC keys from {jwks_uri}");
        Ok(())
    }

    pub(crate) async fn get_json(&self, url: &str, what: &str) -> Result<Value, IdentityError> {
        let fail = |e: String| IdentityError::OidcProvider(format!("{what} at {url}: {e}"));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|e| fail(format!("not JSON: {e}")))
    }
}

/// Keycloak sends full group paths (`/payments`); the name is what counts.
fn group_name(raw: &str) -> String {
    raw.trim_start_matches('/').to_string()
}

/// Whether a JWK can verify `alg`.
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm
        && declared != KeyAlgorithm::from(alg)
    {
        return false;
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => {
            matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            )
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            matches!(
                (alg, &ec.curve),
                (Algorithm::ES256, EllipticCurve::P256) | (Algorithm::ES384, EllipticCurve::P384)
            )
        }
        _ => false,
    }
}

/// The key for a token: by `kid` if the token has one, else the only key that fits.
fn find<'a>(
    keys: &'a [Jwk],
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Option<&'a Jwk>, IdentityError> {
    match kid {
        Some(kid) => match keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
        {
            Some(jwk) if fits(jwk, alg) => Ok(Some(jwk)),
            Some(_) => Err(refused(format!(
                "token algorithm {alg:?} does not match key `{kid}`"
            ))),
            None => Ok(None),
        },
        None => {
            let mut fitting = keys.iter().filter(|k| fits(k, alg));
            match (fitting.next(), fitting.next()) {
                (Some(jwk), None) => Ok(Some(jwk)),
                _ => Ok(None),
            }
        }
    }
}

fn key(jwk: &Jwk, alg: Algorithm) -> Result<DecodingKey, IdentityError> {
    DecodingKey::from_jwk(jwk).map_err(|e| {
        IdentityError::OidcProvider(format!(
            "the identity provider's {alg:?} key `{}` is unusable: {e}",
            jwk.common.key_id.as_deref().unwrap_or("(no kid)")
        ))
    })
}
