//! The sandboxed WebAssembly host.
//!
//! [`Sandbox`] owns the runs' wasmtime [`Engine`](wasmtime::Engine) (pooling allocator, fuel,
//! epoch interruption, on-disk compiled-code cache), an inspection engine for publishing (the
//! same settings and cache, instances on demand), and for each a linker with the full WASI p2
//! (deny-by-default context), `wasi:http/outgoing-handler` filtered by the plugin's granted
//! hosts, and the `lever:host` interfaces. [`Sandbox::load`] compiles a component once into
//! a [`Compiled`] (an `InstancePre`); every invocation then gets a fresh `Store` with the
//! plugin's [`Limits`], and every way a guest can fail comes back as an [`InvokeError`].

mod bindings;
mod engine;
mod error;
mod exchanges;
mod host;
mod invoke;
mod limits;
mod manifest;
mod modes;
mod output;

pub use engine::{CompileCacheCounts, Compiled, Sandbox, SandboxConfig};
pub use error::{EngineError, InvokeError, LoadError, PluginErrorKind};
pub use exchanges::{
    HttpAnswers, HttpExchange, HttpPolicy, HttpRecording, RecordedRequest, RecordedResponse,
};
pub use host::capabilities::{
    check_input as check_capability_input, check_output as check_capability_output,
    inverse as capability_inverse,
};
pub use host::state::StateQuota;
pub use host::{CapabilityBackend, CapabilityError, HostServices};
pub use invoke::{Call, CallContext, Plugin, Workspace};
// The plugin model's plain types, for the crates that run plugins through the sandbox.
pub use lever_plugin::{
    BackendError, CAPABILITIES, ExecutionPlan, ExistingResource, Grants, Limits, LogBook, LogLine,
    MASK, Manifest, Masker, PlannedResource, PluginKind, Risk, SecretBackend, StateBackend,
    async_trait, purpose_of, secret_references,
};
