//! `lever:host/secrets`: handles opened by granted name; every reveal is logged by name.

use wasmtime::component::Resource;

use super::HostState;
use crate::bindings::secrets::{Error, Host, HostSecret};

/// What a `secret` resource holds on the host side: only the name.
pub struct SecretHandle {
    name: String,
}

impl Host for HostState {}

impl HostSecret for HostState {
    async fn open(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<SecretHandle>, Error>> {
        if !self.grants.allows_secret(&name) {
            self.log.push(
                "host",
                "warn",
                &format!("refused to open secret `{name}`: not granted"),
            );
            return Ok(Err(Error::NotGranted(format!(
                "this plugin was not granted the secret `{name}`; grant it with `secrets` at publish"
            ))));
        }
        match self.services.secrets.get(&name).await {
            Ok(Some(_)) => Ok(Ok(self.table.push(SecretHandle { name })?)),
            Ok(None) => Ok(Err(Error::NotFound(format!(
                "no secret named `{name}` exists"
            )))),
            Err(e) => Ok(Err(Error::Other(e.0))),
        }
    }

    async fn name(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&handle)?.name.clone())
    }

    async fn reveal(
        &mut self,
        handle: Resource<SecretHandle>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let name = self.table.get(&handle)?.name.clone();
        self.log
            .push("host", "info", &format!("secret `{name}` revealed"));
        match self.services.secrets.get(&name).await {
            Ok(Some(value)) => {
                // From now on the run masks it wherever the plugin might echo it.
                self.log.masker().register(&value);
                Ok(Ok(value))
            }
            Ok(None) => Ok(Err(Error::NotFound(format!(
                "the secret `{name}` was deleted"
            )))),
            Err(e) => Ok(Err(Error::Other(e.0))),
        }
    }

    async fn drop(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}
