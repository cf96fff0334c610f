//! Host bindings generated from `wit/`, the single contract between host and plugins.

/// Bindings of the `action` world.
pub(crate) mod action {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "lever:plugin/action",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        // Capability records travel as JSON between template steps, the host and adapters.
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "lever:host/secrets.secret": crate::host::secrets::SecretHandle,
        },
    });
}

/// Bindings of the `adapter` world; host interfaces and shared types come from `action`.
pub(crate) mod adapter {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "lever:plugin/adapter",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "lever:host": super::action::lever::host,
            "lever:plugin/types": super::action::lever::plugin::types,
        },
    });
}

pub(crate) use action::lever::host::{progress, secrets, state};
pub(crate) use action::lever::plugin::types as wit;
pub(crate) use action::lever::plugin::{
    git_provider, infrastructure, notifier, observability, secrets_store, software_catalog,
};
