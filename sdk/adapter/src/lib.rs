//! Write a Lever provider adapter in Rust.
//!
//! An adapter exports `lever:plugin/adapter-handler`: `describe` and one `invoke` that the host
//! calls with a capability function's name (`create-repository`), the binding's settings and the
//! input, all JSON. [`capabilities`] holds the records of `wit/capabilities.wit` with serde
//! derives, so inputs decode and outputs encode exactly as the host checks them; [`rest`] sends
//! provider calls through `wasi:http` and maps the answers onto the WIT `error` the way every
//! adapter must (429/5xx retryable after honouring Retry-After, other 4xx fatal with the
//! provider's message).
//!
//! ```ignore
//! struct GitHub;
//! impl lever_adapter_sdk::Guest for GitHub {
//!     fn describe() -> lever_adapter_sdk::AdapterManifest { ... }
//!     fn invoke(ctx: Context, function: String, settings: String, input: String) -> Result<String, Error> { ... }
//! }
//! lever_adapter_sdk::bindings::export!(GitHub with_types_in lever_adapter_sdk::bindings);
//! ```

/// Bindings of the `adapter` world, generated from `wit/`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "adapter",
        path: "../../wit",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "::lever_adapter_sdk::bindings",
    });
}

/// The capability records (`wit/capabilities.wit`) as serde types. Only the types are used: an
/// adapter never calls these imports, so its component does not import them.
#[allow(missing_docs, clippy::all)]
pub mod capabilities {
    wit_bindgen::generate!({
        world: "capabilities",
        path: "../../wit",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
    pub use lever::plugin::{
        git_provider, infrastructure, notifier, observability, secrets_store, software_catalog,
    };
}

#[path = "../../rust/src/http.rs"]
pub mod http;
pub mod params;
pub mod rest;
pub mod settings;

pub use bindings::exports::lever::plugin::adapter_handler::{AdapterManifest, Guest};
pub use bindings::lever::plugin::types::{Context, Error, Grants};
pub use serde_json;

/// Decodes a call's JSON input into the function's parameters.
pub fn input<T: serde::de::DeserializeOwned>(function: &str, input: &str) -> Result<T, Error> {
    serde_json::from_str(input).map_err(|e| {
        Error::InvalidInput(format!(
            "the input of `{function}` does not match wit/capabilities.wit: {e}"
        ))
    })
}

/// Encodes a function's result as the JSON the host expects.
pub fn output<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Other(format!("cannot encode the result: {e}")))
}

/// The error for a function the adapter does not implement.
pub fn unsupported(adapter: &str, function: &str) -> Error {
    Error::InvalidInput(format!(
        "the {adapter} adapter does not implement `{function}` (see docs/adapters.md)"
    ))
}
