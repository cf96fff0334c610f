//! Signed plugins. `lever plugin sign` appends a custom section, `lever-signature`, to the
//! component: the ed25519 public key and its signature over every byte before the section. The
//! signature travels with the component (a custom section changes nothing a host runs), and
//! publishing checks it against the keys `plugins.trusted_keys` in `lever.yaml` names.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The custom section's name.
pub const SECTION: &str = "lever-signature";
/// How a public key is written (`lever-ed25519:<base64>`).
const PUBLIC_PREFIX: &str = "lever-ed25519:";
/// How a private key is written in its key file.
const PRIVATE_PREFIX: &str = "lever-ed25519-private:";

/// Why a signature was refused, or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The bytes are not a WebAssembly binary, or the section is malformed.
    #[error("{0}")]
    Malformed(String),
    /// Signatures are required and the component has none.
    #[error(
        "the component is not signed and this server requires signatures: sign it with `lever plugin sign FILE --key KEY` using the private key of one of the trusted keys ({expected})"
    )]
    Unsigned {
        /// The trusted keys' names.
        expected: String,
    },
    /// Signed by a key the server does not trust.
    #[error(
        "the component is signed by {key}, which is not a trusted key; sign it with one of the trusted keys ({expected}), or add its public key to plugins.trusted_keys in lever.yaml"
    )]
    Untrusted {
        /// The key it is signed by.
        key: String,
        /// The trusted keys' names.
        expected: String,
    },
    /// The signature does not verify: the bytes changed after signing, or it was forged.
    #[error(
        "the component's signature does not match its content (signed by {key}): it was changed after signing; rebuild and sign it again"
    )]
    Tampered {
        /// The key it claims.
        key: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Payload {
    key: String,
    signature: String,
}

/// A public key written as `lever-ed25519:<base64>`.
pub fn encode_public(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", STANDARD.encode(key.as_bytes()))
}

/// The 32 key bytes of `text`, written as `prefix` then base64.
fn key_bytes(text: &str, prefix: &str, what: &str) -> Result<[u8; 32], SignatureError> {
    let bad = || {
        SignatureError::Malformed(format!(
            "not a Lever {what}: expected `{prefix}` and 32 bytes in base64, as `lever plugin keygen` writes"
        ))
    };
    let encoded = text.trim().strip_prefix(prefix).ok_or_else(bad)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// Reads `lever-ed25519:<base64>`.
pub fn decode_public(text: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes = key_bytes(text, PUBLIC_PREFIX, "public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| {
        SignatureError::Malformed(format!("`{text}` is not a valid ed25519 public key"))
    })
}

/// A private key as its key file holds it.
pub fn encode_private(key: &SigningKey) -> String {
    format!("{PRIVATE_PREFIX}{}\n", STANDARD.encode(key.to_bytes()))
}

/// Reads a key file written by [`encode_private`].
pub fn decode_private(text: &str) -> Result<SigningKey, SignatureError> {
    key_bytes(text, PRIVATE_PREFIX, "private key").map(|b| SigningKey::from_bytes(&b))
}

/// A new key pair from the operating system's randomness.
pub fn generate() -> SigningKey {
    let seed: [u8; 32] = rand::random();
    SigningKey::from_bytes(&seed)
}

fn leb128(bytes: &[u8], pos: &mut usize) -> Result<u32, SignatureError> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or_else(|| SignatureError::Malformed("the binary ends inside a section".into()))?;
        *pos += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(SignatureError::Malformed(
        "a section size is malformed".into(),
    ))
}

fn encode_leb128(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The bytes the signature covers and the signature section, if the component has one. Only
/// top-level sections are walked; the signature must be the last of them.
fn split(bytes: &[u8]) -> Result<(&[u8], Option<Payload>), SignatureError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(SignatureError::Malformed(
            "the file is not a WebAssembly binary".into(),
        ));
    }
    let mut pos = 8;
    while pos < bytes.len() {
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let size = leb128(bytes, &mut pos)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| SignatureError::Malformed("a section runs past the end".into()))?;
        if id == 0 {
            let mut name_pos = pos;
            let len = leb128(bytes, &mut name_pos)? as usize;
            let name = bytes.get(name_pos..name_pos + len).unwrap_or_default();
            if name == SECTION.as_bytes() {
                if end != bytes.len() {
                    return Err(SignatureError::Malformed(
                        "the signature section is not the component's last section: something changed the component after it was signed; sign it again".into(),
                    ));
                }
                let payload: Payload = serde_json::from_slice(&bytes[name_pos + len..end])
                    .map_err(|e| {
                        SignatureError::Malformed(format!(
                            "the signature section is malformed: {e}"
                        ))
                    })?;
                return Ok((&bytes[..start], Some(payload)));
            }
        }
        pos = end;
    }
    Ok((bytes, None))
}

/// The component with a signature by `key` appended (replacing one it already had).
pub fn sign(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, SignatureError> {
    let (content, _) = split(bytes)?;
    let payload = Payload {
        key: encode_public(&key.verifying_key()),
        signature: STANDARD.encode(key.sign(content).to_bytes()),
    };
    let payload = serde_json::to_vec(&payload).expect("payload serialises");
    let mut section = Vec::new();
    encode_leb128(SECTION.len() as u32, &mut section);
    section.extend_from_slice(SECTION.as_bytes());
    section.extend_from_slice(&payload);
    let mut out = content.to_vec();
    out.push(0);
    encode_leb128(section.len() as u32, &mut out);
    out.extend_from_slice(&section);
    Ok(out)
}

/// A trusted key: its name (recorded as the signer) and public key.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Who holds it (`platform-team`).
    pub name: String,
    /// The public key.
    pub key: VerifyingKey,
}

/// What publishing asks of signatures.
#[derive(Debug, Clone, Default)]
pub struct SignaturePolicy {
    /// The keys whose signatures are trusted.
    pub trusted: Vec<TrustedKey>,
    /// Refuse unsigned components and those signed by other keys.
    pub required: bool,
}

impl SignaturePolicy {
    /// Checks `bytes`: the name of the trusted key that signed it, `None` when unsigned (or
    /// signed by an unknown key) and signatures are not required. A signature that does not
    /// verify is always refused.
    pub fn check(&self, bytes: &[u8]) -> Result<Option<String>, SignatureError> {
        let expected = || {
            if self.trusted.is_empty() {
                "none is configured: add plugins.trusted_keys to lever.yaml".to_string()
            } else {
                self.trusted
                    .iter()
                    .map(|k| format!("`{}` {}", k.name, encode_public(&k.key)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        if !bytes.starts_with(b"\0asm") {
            // Not WebAssembly at all: the loader refuses it next and says what it is instead
            // (`not-wasm`), which helps more than a word about signatures.
            return Ok(None);
        }
        let (content, payload) = split(bytes)?;
        let Some(payload) = payload else {
            return if self.required {
                Err(SignatureError::Unsigned {
                    expected: expected(),
                })
            } else {
                Ok(None)
            };
        };
        let key = decode_public(&payload.key)?;
        let signature = STANDARD
            .decode(&payload.signature)
            .ok()
            .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
            .ok_or_else(|| {
                SignatureError::Malformed("the signature is not 64 bytes of base64".into())
            })?;
        if key.verify(content, &signature).is_err() {
            return Err(SignatureError::Tampered {
                key: payload.key.clone(),
            });
        }
        match self.trusted.iter().find(|t| t.key == key) {
            Some(trusted) => Ok(Some(trusted.name.clone())),
            None if self.required => Err(SignatureError::Untrusted {
                key: payload.key,
                expected: expected(),
            }),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component binary: the header of a component with no sections.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn policy(key: &SigningKey, required: bool) -> SignaturePolicy {
        SignaturePolicy {
            trusted: vec![TrustedKey {
                name: "platform".into(),
                key: key.verifying_key(),
            }],
            required,
        }
    }

    #[test]
    fn a_signature_verifies_once_and_not_after_any_change() {
        let key = generate();
        let signed = sign(EMPTY_COMPONENT, &key).unwrap();
        assert_eq!(
            policy(&key, true).check(&signed).unwrap().as_deref(),
            Some("platform")
        );
        // Signing again replaces the signature rather than stacking a second one.
        let resigned = sign(&signed, &key).unwrap();
        assert_eq!(resigned.len(), signed.len());
        let mut tampered = sign(&[EMPTY_COMPONENT, b"\x00\x03\x02hi"].concat(), &key).unwrap();
        tampered[12] = b'H';
        assert!(matches!(
            policy(&key, false).check(&tampered),
            Err(SignatureError::Tampered { .. })
        ));
        let other = generate();
        let by_other = sign(EMPTY_COMPONENT, &other).unwrap();
        assert!(matches!(
            policy(&key, true).check(&by_other),
            Err(SignatureError::Untrusted { .. })
        ));
        assert_eq!(policy(&key, false).check(&by_other).unwrap(), None);
        assert!(matches!(
            policy(&key, true).check(EMPTY_COMPONENT),
            Err(SignatureError::Unsigned { .. })
        ));
    }

    #[test]
    fn bytes_that_are_not_webassembly_are_left_to_the_loader() {
        // Even when signatures are required: publish then answers `not-wasm`, not a word
        // about signatures, and nothing unsigned gets through (the loader refuses it).
        let key = generate();
        assert_eq!(
            policy(&key, true).check(b"definitely not wasm").unwrap(),
            None
        );
        assert!(sign(b"definitely not wasm", &key).is_err());
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let key = generate();
        let back = decode_private(&encode_private(&key)).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        let public = decode_public(&encode_public(&key.verifying_key())).unwrap();
        assert_eq!(public, key.verifying_key());
        assert!(decode_public("ssh-ed25519 AAAA").is_err());
    }
}
