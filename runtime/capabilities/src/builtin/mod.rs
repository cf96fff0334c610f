//! The built-in providers this server runs (why in `docs/providers.md`): `builtin:secrets`,
//! the sealed secrets store as `secrets-store`, always; the others the binary wires
//! ([`crate::provider`]).

mod secrets;

use std::collections::BTreeMap;
use std::sync::Arc;

use lever_secrets::SealedSecrets;
use lever_store::Store;
use serde_json::Value;

use crate::provider::{CapabilityError, Provider, ProviderCall, error};
use crate::{BindingConfig, Directory, Readers, Scope};

/// The built-in providers by name, with what they share.
pub(crate) struct Builtins {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
    readers: Readers,
    pub(crate) directory: Directory,
}

impl Builtins {
    pub(crate) fn new(
        store: Store,
        sealed: Arc<SealedSecrets>,
        wired: Vec<Arc<dyn Provider>>,
    ) -> Self {
        let own: Arc<dyn Provider> = Arc::new(secrets::BuiltinSecrets::new(store.clone(), sealed));
        let providers = std::iter::once(own)
            .chain(wired)
            .map(|p| (p.name(), p))
            .collect();
        Self {
            providers,
            readers: Readers::new(store),
            directory: Directory::new(),
        }
    }

    /// `ours`: the inventory says this step claimed what it applies before (see
    /// [`ProviderCall::ours`]).
    pub(crate) async fn call(
        &self,
        scope: &Scope,
        binding: &BindingConfig,
        capability: &str,
        function: &str,
        input: &Value,
        ours: bool,
    ) -> Result<Value, CapabilityError> {
        let Some(provider) = self.providers.get(binding.adapter.as_str()) else {
            return Err(error(
                "denied",
                format!(
                    "bindings.{capability}.adapter: `{}` is not a built-in provider this server runs",
                    binding.adapter
                ),
            ));
        };
        provider
            .call(ProviderCall {
                scope,
                settings: &binding.settings,
                function,
                input,
                ours,
                readers: &self.readers,
                directory: &self.directory,
            })
            .await
    }
}
