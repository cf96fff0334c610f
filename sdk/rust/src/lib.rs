//! Write a Lever action as one annotated function with serde types.
//!
//! ```ignore
//! use lever_sdk::{action, ActionError, Context};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Input { message: String }
//!
//! #[derive(serde::Serialize, schemars::JsonSchema)]
//! struct Output { logged: bool }
//!
//! #[action(name = "debug-log", version = "0.1.0", description = "Writes a message to the run log")]
//! fn run(_ctx: &Context, input: Input) -> Result<Output, ActionError> {
//!     lever_sdk::log::info(&input.message);
//!     Ok(Output { logged: true })
//! }
//! ```
//!
//! The attribute also takes `hosts = [..]` and `secrets = [..]` (grants the action asks
//! for), `risk = "high"`, `plan = fn_name` and `rollback = fn_name`.

pub use lever_sdk_macros::action;
pub use schemars;
pub use serde;
pub use serde_json;

/// Bindings generated from `wit/`: the single contract between host and plugins.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "action",
        path: "../../wit",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "::lever_sdk::bindings",
    });
}

/// The capabilities an action may call (`capabilities::git_provider::create_repository`…);
/// the host links each to the adapter its binding names and records every call in the run log.
pub mod capabilities {
    pub use crate::bindings::lever::plugin::{
        git_provider, infrastructure, notifier, observability, secrets_store, software_catalog,
    };
}

#[doc(hidden)]
pub mod __private;
mod error;
pub mod http;
pub mod log;
mod plan;
pub mod secrets;
pub mod state;

pub use error::ActionError;
pub use plan::{Plan, PlannedResource};

/// Who and what the current invocation belongs to.
#[derive(Debug, Clone)]
pub struct Context {
    /// The run this invocation is part of.
    pub run_id: String,
    /// The step of the run (`main` for a single-action run).
    pub step_id: String,
    /// Which attempt this is, starting at 1.
    pub attempt: u32,
    /// Stable for one logical attempt: use it to make effects idempotent.
    pub idempotency_key: String,
    /// The principal who asked for the run.
    pub requester: String,
    /// The target environment.
    pub environment: String,
}

impl From<bindings::lever::plugin::types::Context> for Context {
    fn from(c: bindings::lever::plugin::types::Context) -> Self {
        Self {
            run_id: c.run_id,
            step_id: c.step_id,
            attempt: c.attempt,
            idempotency_key: c.idempotency_key,
            requester: c.requester,
            environment: c.environment,
        }
    }
}
