//! The built-in secrets store of the embedded default: every value is sealed with
//! XChaCha20-Poly1305 before it reaches the database, with the secret's name as associated
//! data (a sealed value moved to another name does not open). The 32-byte key lives outside
//! the database: `LEVER_SECRETS_KEY` (hex), or `secrets.key` in the data dir, generated with
//! mode 0600 at first start. A database dump alone reveals no secret.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use lever_plugin::{BackendError, SecretBackend};
use lever_store::{Store, StoreError};
use rand::RngCore;

/// Prefix of a sealed value as stored: format version 1.
const SEALED: &str = "lever-sealed:v1:";
/// The key file in the data dir.
pub const KEY_FILE: &str = "secrets.key";
/// The environment variable that may hold the key (hex).
pub const KEY_ENV: &str = "LEVER_SECRETS_KEY";

/// Why the secrets store failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key is missing, unreadable or not 32 bytes of hex.
    #[error("secrets key: {0}")]
    Key(String),
    /// A stored value does not open with this key: another key, or an edited row.
    #[error(
        "secret `{0}` does not open with this server's key (was the key changed, or the row edited?)"
    )]
    Unsealable(String),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Secrets sealed at rest in the Lever database.
#[derive(Clone)]
pub struct SealedSecrets {
    store: Store,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SealedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecrets").finish_non_exhaustive()
    }
}

/// Reads the key from `LEVER_SECRETS_KEY`, or from `data_dir/secrets.key`, creating that file
/// (mode 0600) with a new random key when there is none.
pub fn load_key(data_dir: &Path) -> Result<[u8; 32], SecretsError> {
    load_named_key(data_dir, KEY_FILE, KEY_ENV)
}

/// A 32-byte key from the environment variable `env` (64 hex digits), else from
/// `DATA_DIR/file`, generated there (0600) at first use. The secrets key and the audit
/// anchor's key are both kept this way.
pub fn load_named_key(data_dir: &Path, file: &str, env: &str) -> Result<[u8; 32], SecretsError> {
    if let Ok(hex_key) = std::env::var(env) {
        return parse_key(&hex_key, env);
    }
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut file) => {
                    file.write_all(hex::encode(key).as_bytes()).map_err(|e| {
                        SecretsError::Key(format!("cannot write {}: {e}", path.display()))
                    })?;
                    tracing::info!(path = %path.display(), "generated a key; back it up with the data dir");
                    Ok(key)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_named_key(data_dir, file, env)
                }
                Err(e) => Err(SecretsError::Key(format!(
                    "cannot create {}: {e}",
                    path.display()
                ))),
            }
        }
        Err(e) => Err(SecretsError::Key(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn parse_key(text: &str, source: &str) -> Result<[u8; 32], SecretsError> {
    let bytes = hex::decode(text.trim())
        .map_err(|e| SecretsError::Key(format!("{source} is not hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| SecretsError::Key(format!("{source} must hold 64 hex digits (32 bytes)")))
}

impl SealedSecrets {
    /// A store sealing with `key`.
    pub fn new(store: Store, key: &[u8; 32]) -> Self {
        Self {
            store,
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    fn seal(&self, name: &str, value: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length we store");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED}{}", STANDARD.encode(bytes))
    }

    fn open(&self, name: &str, stored: &str) -> Result<String, SecretsError> {
        let unsealable = || SecretsError::Unsealable(name.to_string());
        let bytes = STANDARD
            .decode(stored.strip_prefix(SEALED).ok_or_else(unsealable)?)
            .map_err(|_| unsealable())?;
        if bytes.len() < 24 {
            return Err(unsealable());
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| unsealable())?;
        String::from_utf8(plain).map_err(|_| unsealable())
    }

    /// A run's template secrets sealed as one value under a fresh name
    /// (`lever/run-secrets/<32 hex digits>`), for the store to keep with the run until it
    /// finishes.
    pub fn seal_run_secrets(
        &self,
        values: &std::collections::BTreeMap<String, String>,
    ) -> lever_store::RunSecrets {
        let mut id = [0u8; 16];
        rand::rng().fill_bytes(&mut id);
        let name = format!("lever/run-secrets/{}", hex::encode(id));
        let json = serde_json::to_string(values).expect("a map of strings serialises");
        lever_store::RunSecrets {
            sealed: self.seal(&name, &json),
            name,
        }
    }

    /// Stores (or replaces) a secret.
    pub async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        Ok(self.store.put_secret(name, &self.seal(name, value)).await?)
    }

    /// A secret's value.
    pub async fn get(&self, name: &str) -> Result<Option<String>, SecretsError> {
        match self.store.secret(name).await? {
            Some(stored) => self.open(name, &stored).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes a secret; `false` when there was none.
    pub async fn delete(&self, name: &str) -> Result<bool, SecretsError> {
        Ok(self.store.delete_secret(name).await?)
    }

    /// Seals values stored before sealing existed (plain text), so none stays readable in the
    /// database. Returns how many were sealed.
    pub async fn seal_plaintext(&self) -> Result<usize, SecretsError> {
        let mut sealed = 0;
        for name in self.store.secret_names().await? {
            if let Some(stored) = self.store.secret(&name).await?
                && !stored.starts_with(SEALED)
            {
                self.store
                    .put_secret(&name, &self.seal(&name, &stored))
                    .await?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }
}

#[lever_plugin::async_trait]
impl SecretBackend for SealedSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, BackendError> {
        SealedSecrets::get(self, name)
            .await
            .map_err(|e| BackendError(e.to_string()))
    }
}
