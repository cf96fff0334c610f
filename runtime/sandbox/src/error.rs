//! Every way loading or invoking a plugin can fail, each with a message that says which limit
//! or rule was hit and how to change it.

use serde::{Deserialize, Serialize};

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error(
        "the upload is not a WebAssembly binary: expected a WebAssembly component (built for wasm32-wasip2 or by a componentizer)"
    )]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "the upload is a core WebAssembly module, not a component: build it for wasm32-wasip2 (cargo build --target wasm32-wasip2) or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// The component does not compile.
    #[error("the component is invalid: {0}")]
    Invalid(String),
    /// It exports neither Lever world.
    #[error(
        "the component does not target a Lever world: it must export `lever:plugin/action-handler@0.1.0` (world `action`) or `lever:plugin/adapter-handler@0.1.0` (world `adapter`); it exports: {exports}"
    )]
    NotALeverWorld {
        /// What it exports instead.
        exports: String,
    },
    /// It imports something the host does not provide.
    #[error(
        "the component imports something Lever does not provide: {0}. Plugins may import the lever:host interfaces, wasi:http/outgoing-handler and WASI p2"
    )]
    UnknownImport(String),
    /// `describe` failed or returned something unusable.
    #[error("describe() failed: {0}")]
    Describe(String),
}

/// The classes of error a plugin itself reports (the WIT `error` variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginErrorKind {
    /// The input is wrong.
    InvalidInput,
    /// Transient; may be retried.
    Retryable,
    /// Permanent.
    Fatal,
    /// Something does not exist.
    NotFound,
    /// Refused by the provider or the host.
    Denied,
    /// Anything else.
    Other,
}

/// Why one invocation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    /// The host rejected the input before calling the plugin.
    #[error("the input does not match the action's input schema: {}", errors.join("; "))]
    InvalidInput {
        /// One entry per violation, with its JSON path.
        errors: Vec<String>,
    },
    /// The guest burned its whole fuel budget.
    #[error(
        "the plugin ran out of fuel after {budget} units (an endless loop or too much work); raise its `fuel` limit if the work is legitimate"
    )]
    FuelExhausted {
        /// The budget it had.
        budget: u64,
    },
    /// The wall-clock deadline passed.
    #[error(
        "the plugin did not finish within its deadline of {timeout_ms} ms; raise its `timeout_ms` limit if the work is legitimate"
    )]
    DeadlinePassed {
        /// The deadline it had.
        timeout_ms: u64,
    },
    /// The guest tried to grow memory past its cap.
    #[error(
        "the plugin hit its memory limit of {limit} bytes (it asked for {requested}); raise its `memory_bytes` limit if it really needs more"
    )]
    MemoryLimit {
        /// The cap.
        limit: u64,
        /// What it asked for.
        requested: u64,
    },
    /// The guest's call stack overflowed.
    #[error("the plugin overflowed its call stack (unbounded recursion?)\n{backtrace}")]
    StackOverflow {
        /// Wasm backtrace.
        backtrace: String,
    },
    /// The guest trapped (a panic, an unreachable, an out-of-bounds access...).
    #[error("the plugin crashed: {message}\n{backtrace}")]
    Trap {
        /// What trapped.
        message: String,
        /// Wasm backtrace.
        backtrace: String,
    },
    /// The guest tried to reach a host it was not granted.
    #[error(
        "the plugin tried to reach `{host}`, which it was not granted; grant it with `hosts` at publish if it should"
    )]
    HostNotGranted {
        /// The host it tried.
        host: String,
    },
    /// Replaying recorded HTTP, the guest sent a request no recorded exchange answers.
    #[error(
        "the plugin sent `{request}`, which no recorded exchange answers: record its answer in the fixtures (`http:`) or fix the request"
    )]
    UnrecordedRequest {
        /// `METHOD URL` of the request.
        request: String,
    },
    /// The output is not JSON.
    #[error("the plugin returned output that is not valid JSON: {error}")]
    OutputNotJson {
        /// Parser message.
        error: String,
    },
    /// The output breaks the declared output schema.
    #[error("the plugin's output does not match its declared output schema: {}", errors.join("; "))]
    OutputSchema {
        /// One entry per violation.
        errors: Vec<String>,
    },
    /// The output is bigger than allowed.
    #[error(
        "the plugin returned {size} bytes of output, over its limit of {limit}; raise its `max_output_bytes` limit or return less"
    )]
    OutputTooLarge {
        /// What it returned.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// The plugin reported an error itself.
    #[error("{message}")]
    Plugin {
        /// Its class.
        kind: PluginErrorKind,
        /// Its remediation message.
        message: String,
    },
    /// The plugin does not export what was called (an adapter run as an action).
    #[error("{0}")]
    WrongKind(String),
    /// The host could not instantiate the component (pool exhausted, link failure).
    #[error("the host could not start the plugin: {0}")]
    Instantiate(String),
}

impl InvokeError {
    /// A stable kebab-case code for APIs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            InvokeError::InvalidInput { .. } => "invalid-input",
            InvokeError::FuelExhausted { .. } => "fuel-exhausted",
            InvokeError::DeadlinePassed { .. } => "deadline-passed",
            InvokeError::MemoryLimit { .. } => "memory-limit",
            InvokeError::StackOverflow { .. } => "stack-overflow",
            InvokeError::Trap { .. } => "trap",
            InvokeError::HostNotGranted { .. } => "host-not-granted",
            InvokeError::UnrecordedRequest { .. } => "unrecorded-request",
            InvokeError::OutputNotJson { .. } => "output-not-json",
            InvokeError::OutputSchema { .. } => "output-schema",
            InvokeError::OutputTooLarge { .. } => "output-too-large",
            InvokeError::Plugin { kind, .. } => match kind {
                PluginErrorKind::InvalidInput => "plugin-invalid-input",
                PluginErrorKind::Retryable => "plugin-retryable",
                PluginErrorKind::Fatal => "plugin-fatal",
                PluginErrorKind::NotFound => "plugin-not-found",
                PluginErrorKind::Denied => "plugin-denied",
                PluginErrorKind::Other => "plugin-other",
            },
            InvokeError::WrongKind(_) => "wrong-kind",
            InvokeError::Instantiate(_) => "instantiate",
        }
    }

    /// Whether running the same invocation again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            InvokeError::Plugin {
                kind: PluginErrorKind::Retryable,
                ..
            } | InvokeError::Instantiate(_)
        )
    }
}

/// The engine could not be configured (bad cache directory, unsupported platform).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly engine: {0}")]
pub struct EngineError(pub String);
