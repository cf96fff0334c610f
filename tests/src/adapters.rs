//! Runs one provider adapter in-process, the way a binding does: the sandbox with the grants a
//! binding gives (the fake provider's address, the secrets its settings name), an in-memory
//! secret store, and the capability's WIT shapes checked on the way in and out.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use lever_sandbox::{
    BackendError, Call, CallContext, CapabilityBackend, CapabilityError, Grants, HostServices,
    InvokeError, Limits, LogBook, Plugin, Sandbox, SandboxConfig, SecretBackend, StateBackend,
};
use serde_json::Value;

use crate::guests::plugin;

fn sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| Arc::new(Sandbox::new(&SandboxConfig::default()).expect("sandbox")))
        .clone()
}

/// Secrets and state in memory.
#[derive(Default)]
struct Memory {
    secrets: HashMap<String, String>,
    state: std::sync::Mutex<HashMap<String, Vec<u8>>>,
}

#[lever_sandbox::async_trait]
impl SecretBackend for Memory {
    async fn get(&self, name: &str) -> Result<Option<String>, BackendError> {
        Ok(self.secrets.get(name).cloned())
    }
}

#[lever_sandbox::async_trait]
impl StateBackend for Memory {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .get(&format!("{ns}/{key}"))
            .cloned())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.state
            .lock()
            .unwrap()
            .insert(format!("{ns}/{key}"), value.to_vec());
        Ok(())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), BackendError> {
        self.state.lock().unwrap().remove(&format!("{ns}/{key}"));
        Ok(())
    }
}

#[lever_sandbox::async_trait]
impl CapabilityBackend for Memory {
    async fn call(&self, capability: &str, _: &str, _: Value) -> Result<Value, CapabilityError> {
        Err(CapabilityError::unbound(
            capability,
            "adapters do not call capabilities",
        ))
    }
}

/// Why a harness call failed.
#[derive(Debug)]
pub enum AdapterFailure {
    /// The sandbox or the adapter refused (the adapter's own error is `InvokeError::Plugin`).
    Invoke(InvokeError),
    /// The answer does not match the capability's result type.
    Shape(String),
}

impl AdapterFailure {
    /// The stable code (`plugin-retryable`, `plugin-fatal`, `host-not-granted`...).
    pub fn code(&self) -> &'static str {
        match self {
            AdapterFailure::Invoke(e) => e.code(),
            AdapterFailure::Shape(_) => "output-shape",
        }
    }

    /// The message shown to the user.
    pub fn message(&self) -> String {
        match self {
            AdapterFailure::Invoke(e) => e.to_string(),
            AdapterFailure::Shape(m) => m.clone(),
        }
    }
}

/// One adapter, loaded from `plugins/` and granted one provider address.
pub struct AdapterHarness {
    plugin: Plugin,
    grants: Grants,
    memory: Arc<Memory>,
    /// The log of every call so far (reveals are recorded here by name).
    pub log: LogBook,
}

impl AdapterHarness {
    /// Loads plugin `wasm_name` (`adapter_github`), granted `authority` (`127.0.0.1:PORT`) and
    /// the given secrets, which the in-memory store holds.
    pub async fn new(wasm_name: &str, authority: &str, secrets: &[(&str, &str)]) -> Self {
        let sandbox = sandbox();
        let compiled = sandbox.load(&plugin(wasm_name)).expect("adapter loads");
        let manifest = sandbox
            .describe(&compiled)
            .await
            .expect("adapter describes itself");
        let plugin = Plugin::new(compiled, manifest, Limits::default(), Grants::default())
            .expect("schemas compile");
        let grants = Grants {
            hosts: vec![authority.to_string()],
            secrets: secrets.iter().map(|(k, _)| k.to_string()).collect(),
            ..Default::default()
        };
        let memory = Arc::new(Memory {
            secrets: secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        });
        Self {
            plugin,
            grants,
            memory,
            log: LogBook::new(256 * 1024),
        }
    }

    /// The adapter's manifest.
    pub fn manifest(&self) -> &lever_sandbox::Manifest {
        self.plugin.manifest()
    }

    /// Calls `capability`'s `function` with `settings` and `input`, checking both shapes.
    pub async fn call(
        &self,
        capability: &str,
        function: &str,
        settings: Value,
        input: Value,
    ) -> Result<Value, AdapterFailure> {
        lever_sandbox::check_capability_input(capability, function, &input)
            .map_err(AdapterFailure::Shape)?;
        let call = Call {
            context: CallContext {
                run_id: "adapter-test".into(),
                step_id: function.into(),
                attempt: 1,
                idempotency_key: format!("adapter-test/{function}/1"),
                requester: "tester".into(),
                environment: "dev".into(),
            },
            services: HostServices {
                state: self.memory.clone(),
                secrets: self.memory.clone(),
                capabilities: self.memory.clone(),
            },
            log: self.log.clone(),
            workspace: None,
            http: lever_sandbox::HttpPolicy::default(),
        };
        let output = sandbox()
            .invoke_adapter(
                &self.plugin,
                &self.grants,
                &call,
                function,
                &settings,
                &input,
            )
            .await
            .map_err(AdapterFailure::Invoke)?;
        lever_sandbox::check_capability_output(capability, function, &output)
            .map_err(AdapterFailure::Shape)?;
        Ok(output)
    }
}
