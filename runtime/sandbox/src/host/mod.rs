//! The per-invocation store data and the `lever:host` imports implemented on it.

pub(crate) mod capabilities;
pub(crate) mod http;
mod progress;
pub(crate) mod secrets;
pub(crate) mod state;

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::limits::MemoryLimiter;
use lever_plugin::{Grants, LogBook, SecretBackend, StateBackend};

/// Why a capability call failed: the WIT `error` case (`invalid-input`, `retryable`, `fatal`,
/// `not-found`, `denied`, `other`) and a message saying what to fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CapabilityError {
    /// The WIT `error` case, kebab-case.
    pub kind: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl CapabilityError {
    /// The capability has no binding (or calls are not available here).
    pub fn unbound(capability: &str, why: &str) -> Self {
        Self {
            kind: "denied",
            message: format!("`{capability}` cannot be called: {why}"),
        }
    }
}

/// Where an action's capability imports (`lever:plugin/git-provider`…) go: the bound adapter.
/// `input` and the answer are the JSON forms `wit/capabilities.wit` describes.
#[wasmtime_wasi::async_trait]
pub trait CapabilityBackend: Send + Sync {
    /// Calls `capability`'s `function` (`git-provider`, `create-repository`).
    async fn call(
        &self,
        capability: &str,
        function: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, CapabilityError>;
}

/// The backends an invocation's host imports talk to.
#[derive(Clone)]
pub struct HostServices {
    /// State storage.
    pub state: Arc<dyn StateBackend>,
    /// Secret storage.
    pub secrets: Arc<dyn SecretBackend>,
    /// Capability calls, routed to bound adapters.
    pub capabilities: Arc<dyn CapabilityBackend>,
}

/// Everything one `Store` holds.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_hooks: http::OutboundHttp,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) services: HostServices,
    pub(crate) grants: Grants,
    pub(crate) log: LogBook,
    /// `run:<id>`: the state namespace of the current run.
    pub(crate) run_namespace: String,
    /// `plugin:<name>`: the state namespace of the plugin.
    pub(crate) plugin_namespace: String,
    /// How much state each namespace may hold.
    pub(crate) quota: state::StateQuota,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}
