//! Who is calling: users and groups from config, hashed API tokens, OIDC bearer JWTs, roles,
//! change-freeze windows and signed one-click approval links.
//!
//! [`Authenticator`] turns an `Authorization` header into a [`Principal`].

pub mod backstage;
mod config;
mod error;
mod freeze;
pub mod links;
mod oidc;
pub mod oidc_login;
mod principal;
pub mod tokens;

use lever_store::{Store, TokenRecord};

pub use config::{Config, EMBEDDED_CONFIG, GroupConfig, LinksConfig, OidcConfig, UserConfig};
pub use error::IdentityError;
pub use freeze::{FreezeWindow, Schedule, Weekday, format_rfc3339, parse_rfc3339};
pub use links::{LinkClaims, LinkDecision, LinkError, LinkSigner};
pub use oidc::{OidcIdentity, OidcVerifier};
pub use principal::{ADMIN, Principal, Role, RunsRule, Source};

/// Authenticates requests against the config, the token store and the OIDC provider.
pub struct Authenticator {
    config: Config,
    store: Store,
    oidc: Option<OidcVerifier>,
    backstage: Option<backstage::BackstageVerifier>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("oidc", &self.oidc)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator; builds the OIDC verifier when `config.oidc` is set.
    pub fn new(config: Config, store: Store) -> Authenticator {
        let oidc = config.oidc.clone().map(OidcVerifier::new);
        let backstage = config
            .backstage
            .clone()
            .map(backstage::BackstageVerifier::new);
        Authenticator {
            config,
            store,
            oidc,
            backstage,
        }
    }

    /// The OIDC provider, when `oidc` is configured.
    pub fn oidc(&self) -> Option<&OidcVerifier> {
        self.oidc.as_ref()
    }

    /// The Backstage entity ref of Lever user `id` (`user:default/{id}` unless
    /// `backstage.users` maps another ref to it).
    pub fn backstage_ref(&self, id: &str) -> String {
        match &self.config.backstage {
            Some(backstage) => backstage.entity_ref(id),
            None => format!("user:default/{id}"),
        }
    }

    /// The Lever user Backstage user `entity_ref` maps to, if any.
    pub fn lever_user(&self, entity_ref: &str) -> Option<String> {
        match &self.config.backstage {
            Some(backstage) => {
                backstage.lever_user(entity_ref, |id| self.config.user(id).is_some())
            }
            None => entity_ref
                .strip_prefix("user:default/")
                .filter(|id| self.config.user(id).is_some())
                .map(str::to_string),
        }
    }

    /// The identity config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The principal of a user id: the config user, or the built-in `admin`.
    pub fn principal(&self, user_id: &str, source: Source) -> Option<Principal> {
        match self.config.principal(user_id) {
            Some(mut principal) => {
                principal.source = source;
                Some(principal)
            }
            None if user_id == ADMIN => Some(Principal::builtin_admin(source)),
            None => None,
        }
    }

    /// The caller of a request, from its `Authorization` header value.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, IdentityError> {
        let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
            return Err(IdentityError::Unauthenticated(
                "send Authorization: Bearer <token>; create one with `lever token create`"
                    .to_string(),
            ));
        };
        let (scheme, credential) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(IdentityError::Unauthenticated(format!(
                "the Authorization scheme `{scheme}` is not supported: send Authorization: Bearer <token>"
            )));
        }
        let credential = credential.trim();
        if credential.starts_with(tokens::PREFIX) {
            self.authenticate_token(credential).await
        } else if let Some(token) = self
            .backstage
            .as_ref()
            .and_then(|b| b.static_token(credential))
        {
            backstage::principal(
                |id, source| self.principal(id, source),
                &token.user,
                &format!("Backstage external access `{}`", token.subject),
                Source::Token,
            )
        } else if credential.split('.').count() == 3 {
            self.authenticate_jwt(credential).await
        } else if credential.is_empty() {
            Err(IdentityError::Unauthenticated(
                "the Bearer token is empty".to_string(),
            ))
        } else {
            Err(IdentityError::Unauthenticated(
                "the Bearer token is neither a Lever API token (lvr_...) nor a JWT".to_string(),
            ))
        }
    }

    /// A JWT from the OIDC provider or the Backstage portal: each configured verifier tries
    /// it (nothing in an unverified token picks one); when both refuse, the answer is the one
    /// whose kind of token it looks like.
    async fn authenticate_jwt(&self, jwt: &str) -> Result<Principal, IdentityError> {
        let backstage_error = match &self.backstage {
            Some(portal) => match portal.verify_user(jwt).await {
                Ok(entity_ref) => {
                    let user = self.lever_user(&entity_ref).ok_or_else(|| {
                        IdentityError::Unauthenticated(format!(
                            "Backstage user {entity_ref} is not a Lever user: map it under backstage.users in lever.yaml"
                        ))
                    })?;
                    return backstage::principal(
                        |id, source| self.principal(id, source),
                        &user,
                        &entity_ref,
                        Source::Backstage,
                    );
                }
                Err(e) => Some(e),
            },
            None => None,
        };
        let Some(oidc) = &self.oidc else {
            return Err(backstage_error.unwrap_or_else(|| {
                IdentityError::Unauthenticated("OIDC is not configured on this server".to_string())
            }));
        };
        match oidc.verify(jwt).await {
            Ok(identity) => Ok(self.config.oidc_principal(&identity)),
            Err(oidc_error) => {
                let looks_backstage = jsonwebtoken::decode_header(jwt)
                    .ok()
                    .and_then(|h| h.typ)
                    .is_some_and(|t| t == backstage::USER_TOKEN_TYPE);
                match backstage_error {
                    Some(e) if looks_backstage => Err(e),
                    _ => Err(oidc_error),
                }
            }
        }
    }

    async fn authenticate_token(&self, token: &str) -> Result<Principal, IdentityError> {
        let record = self
            .store
            .token_by_hash(&tokens::hash(token))
            .await?
            .ok_or_else(|| {
                IdentityError::Unauthenticated(
                    "unknown API token: check it was copied whole".to_string(),
                )
            })?;
        if record.revoked_at.is_some() {
            return Err(IdentityError::Unauthenticated(
                "token was revoked".to_string(),
            ));
        }
        self.principal(&record.user_id, Source::Token)
            .ok_or_else(|| {
                IdentityError::Unauthenticated(format!(
                    "user {} is no longer configured",
                    record.user_id
                ))
            })
    }

    /// Creates an API token for a configured user (or `admin`). Returns the record and the
    /// plaintext token, which is not stored and cannot be shown again.
    pub async fn create_token(
        &self,
        user_id: &str,
        name: &str,
        created_by: &str,
    ) -> Result<(TokenRecord, String), IdentityError> {
        if self.principal(user_id, Source::Token).is_none() {
            return Err(IdentityError::UnknownUser(format!(
                "user {user_id} is not configured; add it under `users:` in lever.yaml"
            )));
        }
        let (token, hash) = tokens::generate();
        let id = tokens::new_id();
        self.store
            .insert_token(&id, user_id, name, &hash, created_by)
            .await?;
        let record = self.store.token(&id).await?.expect("token just inserted");
        Ok((record, token))
    }

    /// On first start (no token was ever created) creates a token for `admin` named
    /// `first-start` and returns it, for the server to print once.
    pub async fn bootstrap_admin_token(&self) -> Result<Option<String>, IdentityError> {
        if self.store.count_tokens().await? > 0 {
            return Ok(None);
        }
        let (_, token) = self.create_token(ADMIN, "first-start", "lever").await?;
        Ok(Some(token))
    }
}
