//! Where the host's `lever:host` imports keep what plugins store and read: the traits the
//! store and the secrets crate implement, so neither needs the sandbox to do so.

/// A storage failure behind a host interface; the guest sees it as an `other` error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// Where `lever:host/state` keeps its values. `namespace` is `run:<id>` or `plugin:<name>`.
#[async_trait::async_trait]
pub trait StateBackend: Send + Sync {
    /// Reads a value.
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Writes a value.
    async fn set(&self, namespace: &str, key: &str, value: &[u8]) -> Result<(), BackendError>;
    /// Deletes a value.
    async fn delete(&self, namespace: &str, key: &str) -> Result<(), BackendError>;
    /// How many keys and bytes of values `namespace` holds, not counting `except_key` (which a
    /// write would replace). Backends that cannot tell answer zero: no quota then applies.
    async fn usage(&self, namespace: &str, except_key: &str) -> Result<(u64, u64), BackendError> {
        let _ = (namespace, except_key);
        Ok((0, 0))
    }
}

/// Where `lever:host/secrets` reads secret values.
#[async_trait::async_trait]
pub trait SecretBackend: Send + Sync {
    /// The value of `name`, if it exists.
    async fn get(&self, name: &str) -> Result<Option<String>, BackendError>;
}
