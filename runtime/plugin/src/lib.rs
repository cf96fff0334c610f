//! The plugin model's plain types — what the store, the registry, the catalog and the
//! transports share about plugins — without wasmtime: a crate that reads a manifest, a log
//! line or a limit compiles none of the sandbox.
//!
//! The sandbox (`lever-sandbox`) runs plugins and re-exports these; the store implements the
//! [`StateBackend`] and the secrets crate the [`SecretBackend`] defined here.

mod backends;
mod capabilities;
mod grants;
mod limits;
mod log;
mod manifest;
mod mask;

pub use backends::{BackendError, SecretBackend, StateBackend};
pub use capabilities::{CAPABILITIES, CAPABILITY_DOCS, functions_of, purpose_of};
pub use grants::{Grants, secret_references};
pub use limits::Limits;
pub use log::{LogBook, LogLine};
pub use manifest::{ExecutionPlan, ExistingResource, Manifest, PlannedResource, PluginKind, Risk};
pub use mask::{MASK, MIN_MASKED_CHARS, Masker, encodings};

/// Re-exported so backends can implement [`StateBackend`] and [`SecretBackend`].
pub use async_trait::async_trait;
