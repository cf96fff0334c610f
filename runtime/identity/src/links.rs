//! Signed one-click approval links: `base64url(JSON claims) "." base64url(HMAC-SHA256)`.
//!
//! A link proves the server issued it for one approver, one stage and one decision until it
//! expires. Single use is the caller's job (a table of spent nonces).

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::IdentityError;
use crate::config::LinksConfig;

type HmacSha256 = Hmac<Sha256>;

/// The file in the data dir holding the generated key (hex) when config sets none.
pub const KEY_FILE: &str = "link-signing.key";

/// What a link decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkDecision {
    /// Approve the stage.
    Approve,
    /// Reject the stage.
    Reject,
}

/// What a link carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The approval stage.
    pub stage_id: String,
    /// The user the link was sent to; the decision is recorded as theirs.
    pub approver: String,
    /// Approve or reject.
    pub decision: LinkDecision,
    /// When the link stops working (Unix ms).
    pub expires_at_ms: i64,
    /// 16 random bytes, hex: the caller records it to make the link single-use.
    pub nonce: String,
}

impl LinkClaims {
    /// Claims for a new link valid `ttl_ms` from `now_ms`, with a fresh nonce.
    pub fn new(
        stage_id: impl Into<String>,
        approver: impl Into<String>,
        decision: LinkDecision,
        ttl_ms: i64,
        now_ms: i64,
    ) -> LinkClaims {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        LinkClaims {
            stage_id: stage_id.into(),
            approver: approver.into(),
            decision,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            nonce: hex::encode(nonce),
        }
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link this server could have produced.
    #[error("the link is malformed: it was truncated or is not a Lever approval link")]
    Malformed,
    /// The signature does not match.
    #[error("the link's signature does not match: it was altered or not issued by this server")]
    Forged,
    /// Past its expiry.
    #[error("the link has expired; ask for a new one or decide in the web UI or CLI")]
    Expired,
}

/// Signs and verifies links with an HMAC key.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSigner { key: <redacted> }")
    }
}

impl LinkSigner {
    /// A signer with this key.
    pub fn new(key: &[u8]) -> LinkSigner {
        LinkSigner { key: key.to_vec() }
    }

    /// 32 random bytes, for a new key.
    pub fn generate_key() -> Vec<u8> {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    }

    /// The signer for a config: `links.key` if set, else the key in `<data_dir>/link-signing.key`,
    /// generated and written there (mode 0600) on first start.
    pub fn from_config(links: &LinksConfig, data_dir: &Path) -> Result<LinkSigner, IdentityError> {
        if let Some(key) = &links.key {
            let key = hex::decode(key.trim())
                .map_err(|e| IdentityError::InvalidConfig(format!("links.key: {e}")))?;
            return Ok(LinkSigner::new(&key));
        }
        let path = data_dir.join(KEY_FILE);
        let io = |e: std::io::Error| {
            IdentityError::InvalidConfig(format!("link key file {}: {e}", path.display()))
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = hex::decode(text.trim()).ok().filter(|k| k.len() >= 16).ok_or_else(|| {
                    IdentityError::InvalidConfig(format!(
                        "link key file {} does not hold at least 32 hex digits; delete it to generate a new key",
                        path.display()
                    ))
                })?;
                Ok(LinkSigner::new(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = LinkSigner::generate_key();
                std::fs::create_dir_all(data_dir).map_err(io)?;
                match write_private(&path, hex::encode(&key).as_bytes()) {
                    Ok(()) => Ok(LinkSigner::new(&key)),
                    // Another process wrote it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        LinkSigner::from_config(links, data_dir)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// The link token for these claims.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The claims of a link issued by this signer that has not expired at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<LinkClaims, LinkError> {
        let (payload, signature) = token.trim().split_once('.').ok_or(LinkError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Malformed)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| LinkError::Forged)?;
        let claims: LinkClaims = serde_json::from_slice(&json).map_err(|_| LinkError::Malformed)?;
        if now_ms >= claims.expires_at_ms {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
