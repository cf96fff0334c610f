//! Why identity failed, with the HTTP status each failure maps to.

use lever_store::StoreError;

/// Why authentication, token management or config loading failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No credential, or one that does not identify anyone (HTTP 401).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The identity config is invalid; the message names the field (HTTP 400).
    #[error("invalid identity config: {0}")]
    InvalidConfig(String),
    /// A user id that is not configured (HTTP 404).
    #[error("unknown user: {0}")]
    UnknownUser(String),
    /// An OIDC token was refused (HTTP 401).
    #[error("OIDC token refused: {0}")]
    Oidc(String),
    /// The identity provider could not be reached or answered nonsense (HTTP 502).
    #[error("OIDC provider unavailable: {0}")]
    OidcProvider(String),
    /// The store failed (HTTP 500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IdentityError {
    /// The HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            IdentityError::Unauthenticated(_) | IdentityError::Oidc(_) => 401,
            IdentityError::Forbidden(_) => 403,
            IdentityError::InvalidConfig(_) => 400,
            IdentityError::UnknownUser(_) => 404,
            IdentityError::OidcProvider(_) => 502,
            IdentityError::Store(_) => 500,
        }
    }
}
