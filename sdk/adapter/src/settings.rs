//! Binding settings: plain JSON from the configuration, where credentials are `secret://name`
//! references the adapter opens through `lever:host/secrets` (the host grants exactly the names
//! the binding refers to, and records each reveal by name).

use serde_json::Value;

use crate::Error;
use crate::bindings::lever::host::secrets::{self, Secret};

/// Parses the settings object.
pub fn parse(settings: &str) -> Result<Value, Error> {
    let value: Value = serde_json::from_str(settings)
        .map_err(|e| Error::InvalidInput(format!("the binding settings are not JSON: {e}")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Error::InvalidInput(
            "the binding settings must be a mapping".into(),
        ))
    }
}

/// A string setting, or `default` when absent.
pub fn string(settings: &Value, key: &str, default: &str) -> String {
    settings
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

/// A required string setting.
pub fn required(settings: &Value, key: &str) -> Result<String, Error> {
    settings
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::InvalidInput(format!("the binding settings need `{key}`")))
}

/// Reveals the secret a setting refers to (`secret://name`). Inline values are refused, so a
/// credential never sits in the configuration file.
pub fn secret(settings: &Value, key: &str) -> Result<String, Error> {
    let reference = required(settings, key)?;
    let Some(name) = reference.strip_prefix("secret://") else {
        return Err(Error::InvalidInput(format!(
            "the binding setting `{key}` must be a secret reference (`secret://name`), not a value"
        )));
    };
    Secret::open(name)
        .and_then(|s| s.reveal())
        .map_err(|e| match e {
            secrets::Error::NotGranted(m) => Error::Denied(m),
            secrets::Error::NotFound(m) => {
                Error::Denied(format!("the credential `{key}` is missing: {m}"))
            }
            secrets::Error::Other(m) => Error::Other(m),
        })
}
