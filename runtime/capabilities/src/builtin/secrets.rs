//! `builtin:secrets`: the `secrets-store` capability on the sealed secrets store. Calls may
//! only touch the paths the binding allows (`paths`, default `databases/*`, `services/*`,
//! `apps/*`), so an action cannot overwrite the credentials other bindings use.

use std::sync::Arc;

use lever_plugin::StateBackend;
use lever_secrets::SealedSecrets;
use lever_store::Store;
use serde_json::{Value, json};

use crate::provider::{CapabilityError, Provider, ProviderCall, error, text};

const DEFAULT_PATHS: &[&str] = &["databases/*", "services/*", "apps/*"];
/// Where rotation versions are counted.
const VERSIONS: &str = "builtin:secrets";

pub(crate) struct BuiltinSecrets {
    store: Store,
    sealed: Arc<SealedSecrets>,
}

fn allowed(settings: &Value, path: &str) -> Result<(), CapabilityError> {
    let patterns: Vec<String> = match settings.get("paths").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None => DEFAULT_PATHS.iter().map(|p| p.to_string()).collect(),
    };
    let ok = !path.is_empty()
        && !path.split('/').any(|part| part.is_empty() || part == "..")
        && patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => p == path,
        });
    if ok {
        Ok(())
    } else {
        Err(error(
            "denied",
            format!(
                "secret path `{path}` is outside this binding's `paths` ({})",
                patterns.join(", ")
            ),
        ))
    }
}

fn storage(e: impl std::fmt::Display) -> CapabilityError {
    error("retryable", format!("the secrets store failed: {e}"))
}

impl BuiltinSecrets {
    pub(crate) fn new(store: Store, sealed: Arc<SealedSecrets>) -> Self {
        Self { store, sealed }
    }

    async fn bump(&self, path: &str) -> Result<u64, CapabilityError> {
        let current = self.store.get(VERSIONS, path).await.map_err(storage)?;
        let version = current
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        self.store
            .set(VERSIONS, path, version.to_string().as_bytes())
            .await
            .map_err(storage)?;
        Ok(version)
    }
}

#[lever_plugin::async_trait]
impl Provider for BuiltinSecrets {
    fn name(&self) -> &'static str {
        "builtin:secrets"
    }

    fn capability(&self) -> &'static str {
        "secrets-store"
    }

    async fn call(&self, call: ProviderCall<'_>) -> Result<Value, CapabilityError> {
        let ProviderCall {
            scope,
            settings,
            function,
            input,
            readers,
            ..
        } = call;
        let path = text(input, "path");
        allowed(settings, path)?;
        let reference = format!("secret://{path}");
        if matches!(function, "put" | "rotate" | "delete") {
            readers.check_writer(path, scope, None).await?;
        }
        match function {
            "put" => {
                self.sealed
                    .put(path, text(input, "value"))
                    .await
                    .map_err(storage)?;
                self.bump(path).await?;
                readers.grant(path, scope, scope.owner.as_deref()).await?;
                Ok(json!(reference))
            }
            "reference" => match self.sealed.get(path).await.map_err(storage)? {
                Some(_) => Ok(json!(reference)),
                None => Err(error("not-found", format!("no secret at `{path}`"))),
            },
            "rotate" => {
                if self.sealed.get(path).await.map_err(storage)?.is_none() {
                    return Err(error(
                        "not-found",
                        format!("no secret at `{path}` to rotate; `put` it first"),
                    ));
                }
                self.sealed
                    .put(path, text(input, "value"))
                    .await
                    .map_err(storage)?;
                Ok(json!(self.bump(path).await?))
            }
            "delete" => {
                self.sealed.delete(path).await.map_err(storage)?;
                self.store.delete(VERSIONS, path).await.map_err(storage)?;
                readers.forget(path).await?;
                Ok(Value::Null)
            }
            other => Err(error(
                "invalid-input",
                format!("secrets-store has no function `{other}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_binding_are_refused() {
        let settings = json!({});
        assert!(allowed(&settings, "databases/orders/dev").is_ok());
        assert!(allowed(&settings, "github-token").is_err());
        assert!(allowed(&settings, "databases/../github-token").is_err());
        assert!(allowed(&json!({"paths": ["team/*"]}), "team/x").is_ok());
    }
}
