//! The host backends of a harness call: state and secrets from the fixtures, in memory, and
//! capability calls answered from the fixtures in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use lever_sandbox::{
    BackendError, CapabilityBackend, CapabilityError, SecretBackend, StateBackend, async_trait,
};
use serde_json::Value;

use crate::fixtures::{CapabilityFixture, StateFixture};

/// `run:` namespaces are the run scope, everything else the plugin's.
fn scope(namespace: &str) -> &'static str {
    if namespace.starts_with("run:") {
        "run"
    } else {
        "plugin"
    }
}

/// State in memory, seeded from the fixtures.
pub(crate) struct MemoryState(Mutex<HashMap<(&'static str, String), Vec<u8>>>);

impl MemoryState {
    pub(crate) fn new(seed: &StateFixture) -> Self {
        let mut map = HashMap::new();
        for (key, value) in &seed.run {
            map.insert(("run", key.clone()), value.clone().into_bytes());
        }
        for (key, value) in &seed.plugin {
            map.insert(("plugin", key.clone()), value.clone().into_bytes());
        }
        Self(Mutex::new(map))
    }

    /// A value as text, for the `state` expectation.
    pub(crate) fn value(&self, scope: &str, key: &str) -> Option<String> {
        let map = self.0.lock().expect("state lock");
        let scope = if scope == "run" { "run" } else { "plugin" };
        map.get(&(scope, key.to_string()))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

#[async_trait]
impl StateBackend for MemoryState {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let map = self.0.lock().expect("state lock");
        Ok(map.get(&(scope(ns), key.to_string())).cloned())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        let mut map = self.0.lock().expect("state lock");
        map.insert((scope(ns), key.to_string()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), BackendError> {
        let mut map = self.0.lock().expect("state lock");
        map.remove(&(scope(ns), key.to_string()));
        Ok(())
    }
}

/// Secret values from the fixtures; the host has already checked the grant.
pub(crate) struct Secrets(pub(crate) BTreeMap<String, String>);

#[async_trait]
impl SecretBackend for Secrets {
    async fn get(&self, name: &str) -> Result<Option<String>, BackendError> {
        Ok(self.0.get(name).cloned())
    }
}

/// Capability answers from the fixtures, each used once, in order.
pub(crate) struct Capabilities(Mutex<Vec<(CapabilityFixture, bool)>>);

impl Capabilities {
    pub(crate) fn new(fixtures: &[CapabilityFixture]) -> Self {
        Self(Mutex::new(
            fixtures.iter().cloned().map(|f| (f, false)).collect(),
        ))
    }
}

/// The WIT error case names, as the host's capability errors carry them.
fn kind(name: &str) -> &'static str {
    match name {
        "invalid-input" => "invalid-input",
        "retryable" => "retryable",
        "fatal" => "fatal",
        "not-found" => "not-found",
        "denied" => "denied",
        _ => "other",
    }
}

#[async_trait]
impl CapabilityBackend for Capabilities {
    async fn call(
        &self,
        capability: &str,
        function: &str,
        _input: Value,
    ) -> Result<Value, CapabilityError> {
        let wanted = format!("{capability}.{function}");
        let mut answers = self.0.lock().expect("capabilities lock");
        let Some((fixture, used)) = answers
            .iter_mut()
            .find(|(f, used)| !used && f.call == wanted)
        else {
            return Err(CapabilityError {
                kind: "denied",
                message: format!(
                    "`{wanted}` has no answer in the fixtures: add one under `capabilities:` (call: {wanted}, output: ...)"
                ),
            });
        };
        *used = true;
        match (&fixture.output, &fixture.error) {
            (Some(output), _) => Ok(output.clone()),
            (None, Some(e)) => Err(CapabilityError {
                kind: kind(&e.kind),
                message: e.message.clone(),
            }),
            (None, None) => unreachable!("checked when the fixtures were read"),
        }
    }
}
