//! Secrets as opaque handles. Revealing a value is explicit and recorded by name.

pub use crate::bindings::lever::host::secrets::{Error, Secret};

/// Opens the secret `name` and reveals its value in one call.
pub fn reveal(name: &str) -> Result<String, Error> {
    Secret::open(name)?.reveal()
}
