//! `lever:host/state`.

use serde::{Deserialize, Serialize};

use super::HostState;
use crate::bindings::state::{Error, Host, Scope};

/// How much state one namespace (one plugin, or one run) may hold. Over a bound, `set` answers
/// the typed `too-large` error naming the limit, and nothing already stored changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateQuota {
    /// Largest single value, in bytes.
    pub max_value_bytes: u64,
    /// Most keys in one namespace.
    pub max_keys: u64,
    /// Most bytes of values in one namespace.
    pub max_total_bytes: u64,
}

impl Default for StateQuota {
    fn default() -> Self {
        StateQuota {
            max_value_bytes: 64 * 1024,
            max_keys: 1000,
            max_total_bytes: 8 * 1024 * 1024,
        }
    }
}

impl StateQuota {
    /// Why writing `value_len` bytes under a new or replaced key is refused, given what the
    /// namespace holds besides that key (`keys`, `bytes`).
    pub fn refusal(&self, key: &str, value_len: u64, keys: u64, bytes: u64) -> Option<String> {
        if value_len > self.max_value_bytes {
            return Some(format!(
                "state values are limited to {} bytes; `{key}` has {value_len}",
                self.max_value_bytes
            ));
        }
        if keys + 1 > self.max_keys {
            return Some(format!(
                "this state scope holds at most {} keys and is full: delete keys before adding `{key}`",
                self.max_keys
            ));
        }
        if bytes + value_len > self.max_total_bytes {
            return Some(format!(
                "this state scope holds at most {} bytes; {bytes} are used and `{key}` would add {value_len}",
                self.max_total_bytes
            ));
        }
        None
    }
}

impl HostState {
    fn namespace(&self, scope: Scope) -> &str {
        match scope {
            Scope::Run => &self.run_namespace,
            Scope::Plugin => &self.plugin_namespace,
        }
    }
}

impl Host for HostState {
    async fn get(
        &mut self,
        scope: Scope,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let ns = self.namespace(scope).to_string();
        Ok(self
            .services
            .state
            .get(&ns, &key)
            .await
            .map_err(|e| Error::Other(e.0)))
    }

    async fn set(
        &mut self,
        scope: Scope,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let ns = self.namespace(scope).to_string();
        let len = value.len() as u64;
        // The value's own size needs no query; the scope's usage does.
        if let Some(refusal) = self.quota.refusal(&key, len, 0, 0) {
            return Ok(Err(Error::TooLarge(refusal)));
        }
        let (keys, bytes) = match self.services.state.usage(&ns, &key).await {
            Ok(usage) => usage,
            Err(e) => return Ok(Err(Error::Other(e.0))),
        };
        if let Some(refusal) = self.quota.refusal(&key, len, keys, bytes) {
            return Ok(Err(Error::TooLarge(refusal)));
        }
        Ok(self
            .services
            .state
            .set(&ns, &key, &value)
            .await
            .map_err(|e| Error::Other(e.0)))
    }

    async fn delete(&mut self, scope: Scope, key: String) -> wasmtime::Result<Result<(), Error>> {
        let ns = self.namespace(scope).to_string();
        Ok(self
            .services
            .state
            .delete(&ns, &key)
            .await
            .map_err(|e| Error::Other(e.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bound_is_refused_with_its_limit() {
        let q = StateQuota {
            max_value_bytes: 10,
            max_keys: 2,
            max_total_bytes: 15,
        };
        assert_eq!(q.refusal("k", 10, 1, 5), None);
        assert!(q.refusal("k", 11, 0, 0).unwrap().contains("10 bytes"));
        assert!(q.refusal("k", 1, 2, 0).unwrap().contains("at most 2 keys"));
        assert!(
            q.refusal("k", 6, 1, 10)
                .unwrap()
                .contains("at most 15 bytes")
        );
    }
}
