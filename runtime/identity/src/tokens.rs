//! Lever API tokens: `lvr_` followed by 32 random bytes in URL-safe base64. Only the SHA-256
//! of the whole token is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every Lever API token starts with this.
pub const PREFIX: &str = "lvr_";

/// A new token and its hash: (`lvr_` + 43 URL-safe base64 characters, SHA-256 hex of the token).
pub fn generate() -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let digest = hash(&token);
    (token, digest)
}

/// The SHA-256 hex of a whole token, as stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a string has the shape of a Lever API token.
pub fn looks_like_token(s: &str) -> bool {
    s.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

/// A new token id (`tok_` + 16 hex digits); ids are not secret.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("tok_{}", hex::encode(bytes))
}
