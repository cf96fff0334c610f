//! Built-in providers: capabilities done in process by Lever rather than by an adapter
//! component. This crate says what a provider is; each provider crate implements [`Provider`]
//! (`lever-provider-postgres` for `builtin:postgres`, `lever-notify` for `builtin:email`), and
//! the binary hands them to [`crate::Capabilities::new`] — so the capability depends on no
//! provider, and a new one is a crate of its own plus one line where the binary wires it.
//! `builtin:secrets` ships here: it is Lever's own sealed store.

use serde_json::Value;

pub use lever_sandbox::CapabilityError;

use crate::{Directory, Readers, Scope};

/// A built-in provider of one capability.
#[lever_plugin::async_trait]
pub trait Provider: Send + Sync {
    /// The name a binding gives it in `lever.yaml`: `builtin:postgres`.
    fn name(&self) -> &'static str;

    /// The capability it does: `infrastructure`.
    fn capability(&self) -> &'static str;

    /// Calls one of the capability's functions. The input was checked against the WIT
    /// shape, and the call was let through by the ownership guard.
    async fn call(&self, call: ProviderCall<'_>) -> Result<Value, CapabilityError>;
}

/// One call of a built-in provider.
pub struct ProviderCall<'a> {
    /// Who the call is for and where its log goes.
    pub scope: &'a Scope,
    /// The binding's settings (`secret://` references not yet resolved).
    pub settings: &'a Value,
    /// The capability function (`apply`).
    pub function: &'a str,
    /// Its input.
    pub input: &'a Value,
    /// Lever's inventory says this step claimed the workspace before (a retried or resumed
    /// step), so what exists on the provider's side is its own to complete.
    pub ours: bool,
    /// The readers of the secrets built-in providers write.
    pub readers: &'a Readers,
    /// Email addresses of users and teams (`lever.yaml`).
    pub directory: &'a Directory,
}

/// The kind of a call this Lever is not set up for (an unbound capability, a binding to an
/// adapter never published): the platform team's to fix in lever.yaml, not the step's input or
/// its rights. A guest calling such a capability sees it as `denied`.
pub const NOT_CONFIGURED: &str = "not-configured";

/// A failure of the WIT `error` case `kind` (`invalid-input`, `retryable`, `fatal`,
/// `not-found`, `denied`, `other`, or [`NOT_CONFIGURED`]) with a message saying what to fix.
pub fn error(kind: &'static str, message: impl Into<String>) -> CapabilityError {
    CapabilityError {
        kind,
        message: message.into(),
    }
}

/// A string field of a call's input (already checked against the WIT shape).
pub fn text<'a>(input: &'a Value, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or_default()
}
