//! Small key-value state, scoped to the run or to the plugin.

use crate::bindings::lever::host::state;
pub use crate::bindings::lever::host::state::{Error, Scope};

/// Reads a key; `None` when it was never set.
pub fn get(scope: Scope, key: &str) -> Result<Option<Vec<u8>>, Error> {
    state::get(scope, key)
}

/// Writes a key.
pub fn set(scope: Scope, key: &str, value: &[u8]) -> Result<(), Error> {
    state::set(scope, key, value)
}

/// Deletes a key.
pub fn delete(scope: Scope, key: &str) -> Result<(), Error> {
    state::delete(scope, key)
}
