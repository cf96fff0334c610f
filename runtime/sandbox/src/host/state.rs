//! `lever:host/state`.

use super::{HostState, MAX_STATE_VALUE};
use crate::bindings::state::{Error, Host, Scope};

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
        if value.len() > MAX_STATE_VALUE {
            return Ok(Err(Error::TooLarge(format!(
                "state values are limited to {MAX_STATE_VALUE} bytes; `{key}` has {}",
                value.len()
            ))));
        }
        let ns = self.namespace(scope).to_string();
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
