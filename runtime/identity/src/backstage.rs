//! A Backstage portal's callers: its user tokens (JWTs its auth backend signs, `typ`
//! `vnd.backstage.user`, checked against the portal's JWKS like any OIDC token) and the static
//! external-access tokens Backstage configures (`token` + `subject`), each mapped to a Lever
//! user by `backstage.users` in `lever.yaml`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::OidcConfig;
use crate::oidc::OidcVerifier;
use crate::{IdentityError, Principal, Source};

/// The `typ` header of a Backstage user token.
pub const USER_TOKEN_TYPE: &str = "vnd.backstage.user";

/// The Backstage portal whose callers Lever accepts (`backstage:` in `lever.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackstageConfig {
    /// The portal's backend (`https://backstage.example.com`): its tokens' issuer is
    /// `{base_url}/api/auth`, its keys at `{base_url}/api/auth/.well-known/jwks.json`.
    pub base_url: String,
    /// The JWKS URL, when it is not the base URL's.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The audience its user tokens carry (Backstage's is `backstage`).
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Backstage user entity refs to Lever user ids (`user:default/alice: alice`); a ref not
    /// listed maps to the configured user of its name (`user:default/alice` → `alice`).
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Static external-access tokens, as Backstage's `backend.auth.externalAccess` has them:
    /// each read from an environment variable (a token is never written in `lever.yaml`) and
    /// acting as a Lever user.
    #[serde(default)]
    pub external_access: Vec<StaticToken>,
    /// Serve Lever's templates as one catalog location the portal registers
    /// (`GET /api/scaffolder/catalog-info.yaml`, unauthenticated, as Backstage's URL reader
    /// fetches it), so templates published to Lever appear in the portal's template list.
    #[serde(default)]
    pub publish_templates: bool,
    /// Read the templates a task names from the portal's catalog instead of Lever's.
    #[serde(default)]
    pub catalog: Option<PortalCatalog>,
}

/// Where a portal keeps its templates (`backstage.catalog`): its catalog API, read as the
/// caller, and the files around each template, read from its location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalCatalog {
    /// Folders a `file:` location may be read from (the portal's `reading.allow` for local
    /// files): a template whose location is elsewhere is refused, so an entity in the portal
    /// cannot make Lever read any file on its disk.
    #[serde(default)]
    pub file_roots: Vec<std::path::PathBuf>,
    /// An environment variable holding a token Lever presents to the catalog for callers who
    /// came without a Backstage user token (a Lever API token is never sent to the portal).
    #[serde(default)]
    pub token_env: Option<String>,
}

fn default_audience() -> String {
    "backstage".to_string()
}

/// One static external-access token (`backstage.external_access[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticToken {
    /// The environment variable holding the token (at least 22 characters, as Backstage asks).
    pub token_env: String,
    /// Who the token stands for, as Backstage names the caller (`portal-proxy`).
    pub subject: String,
    /// The Lever user it acts as.
    pub user: String,
}

impl BackstageConfig {
    /// The issuer Backstage's auth backend writes in its tokens.
    pub fn issuer(&self) -> String {
        format!("{}/api/auth", self.base_url.trim_end_matches('/'))
    }

    /// The Lever user of Backstage user `entity_ref`, if it maps to one.
    pub fn lever_user(&self, entity_ref: &str, known: impl Fn(&str) -> bool) -> Option<String> {
        if let Some(user) = self.users.get(entity_ref) {
            return Some(user.clone());
        }
        let name = entity_ref
            .strip_prefix("user:default/")
            .or_else(|| entity_ref.strip_prefix("user:"))?;
        known(name).then(|| name.to_string())
    }

    /// The Backstage ref of Lever user `id`: the ref `backstage.users` maps to it, else
    /// `user:default/{id}`.
    pub fn entity_ref(&self, id: &str) -> String {
        self.users
            .iter()
            .find(|(_, user)| user.as_str() == id)
            .map(|(entity_ref, _)| entity_ref.clone())
            .unwrap_or_else(|| format!("user:default/{id}"))
    }

    pub(crate) fn validate(&self, known: impl Fn(&str) -> bool) -> Result<(), String> {
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return Err(format!(
                "backstage.base_url `{}` must be the portal backend's http(s) URL",
                self.base_url
            ));
        }
        for (entity_ref, user) in &self.users {
            if !entity_ref.starts_with("user:") {
                return Err(format!(
                    "backstage.users: `{entity_ref}` is not a user entity ref (user:default/NAME)"
                ));
            }
            if !known(user) {
                return Err(format!(
                    "backstage.users: `{entity_ref}` maps to `{user}`, who is not under `users:`"
                ));
            }
        }
        for (i, token) in self.external_access.iter().enumerate() {
            if token.token_env.trim().is_empty() || token.subject.trim().is_empty() {
                return Err(format!(
                    "backstage.external_access[{i}] needs `token_env` and `subject`"
                ));
            }
            if !known(&token.user) && token.user != crate::ADMIN {
                return Err(format!(
                    "backstage.external_access[{i}].user `{}` is not under `users:`",
                    token.user
                ));
            }
        }
        Ok(())
    }
}

/// Verifies a portal's callers.
#[derive(Debug)]
pub struct BackstageVerifier {
    config: BackstageConfig,
    jwt: OidcVerifier,
    /// SHA-256 of each static token read from its variable at start, with its entry.
    statics: Vec<([u8; 32], StaticToken)>,
}

impl BackstageVerifier {
    /// A verifier; the static tokens are read from their variables now (one whose variable is
    /// unset or too short is refused, and said in the log), the keys at the first user token.
    pub fn new(config: BackstageConfig) -> BackstageVerifier {
        let mut oidc = OidcConfig::new(config.issuer(), config.audience.clone());
        oidc.jwks_uri = Some(
            config
                .jwks_uri
                .clone()
                .unwrap_or_else(|| format!("{}/.well-known/jwks.json", config.issuer())),
        );
        let mut statics = Vec::new();
        for token in &config.external_access {
            match std::env::var(&token.token_env) {
                Ok(value) if value.len() >= 22 => {
                    statics.push((Sha256::digest(value.as_bytes()).into(), token.clone()));
                }
                Ok(_) => tracing::warn!(
                    variable = %token.token_env,
                    subject = %token.subject,
                    "backstage.external_access: the token is shorter than 22 characters; it is refused"
                ),
                Err(_) => tracing::warn!(
                    variable = %token.token_env,
                    subject = %token.subject,
                    "backstage.external_access: the token's variable is not set; it is refused"
                ),
            }
        }
        BackstageVerifier {
            config,
            jwt: OidcVerifier::new(oidc),
            statics,
        }
    }

    /// The portal's config.
    pub fn config(&self) -> &BackstageConfig {
        &self.config
    }

    /// The static token `credential` is, if it is one: compared by digest, so neither its
    /// length nor its bytes leak through timing.
    pub(crate) fn static_token(&self, credential: &str) -> Option<&StaticToken> {
        let digest: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        self.statics
            .iter()
            .find(|(known, _)| {
                known
                    .iter()
                    .zip(digest.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            })
            .map(|(_, token)| token)
    }

    /// The Backstage user a verified user token names: signature, issuer, audience, expiry
    /// and `typ` checked before any claim is read.
    pub(crate) async fn verify_user(&self, jwt: &str) -> Result<String, IdentityError> {
        let identity = self.jwt.verify(jwt).await.map_err(|e| match e {
            IdentityError::Oidc(message) => {
                IdentityError::Unauthenticated(format!("Backstage token refused: {message}"))
            }
            other => other,
        })?;
        // The signature holds, so the header is the issuer's: only a user token names a user.
        let header = jsonwebtoken::decode_header(jwt)
            .map_err(|e| IdentityError::Unauthenticated(format!("malformed token: {e}")))?;
        if header.typ.as_deref() != Some(USER_TOKEN_TYPE) {
            return Err(IdentityError::Unauthenticated(format!(
                "Backstage token refused: its typ is {:?}, not `{USER_TOKEN_TYPE}` (only user tokens name a user)",
                header.typ.as_deref().unwrap_or("absent")
            )));
        }
        Ok(identity.user_id)
    }
}

/// The principal of a Backstage caller mapped to Lever user `user`, proved by `source`.
pub(crate) fn principal(
    resolve: impl Fn(&str, Source) -> Option<Principal>,
    user: &str,
    caller: &str,
    source: Source,
) -> Result<Principal, IdentityError> {
    resolve(user, source).ok_or_else(|| {
        IdentityError::Unauthenticated(format!(
            "{caller} maps to Lever user `{user}`, who is no longer configured"
        ))
    })
}
