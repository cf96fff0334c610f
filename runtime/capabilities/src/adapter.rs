//! Calls into an adapter component: resolved from the registry by the binding's reference,
//! granted only its provider's host (the `base_url` setting's, else what it declares) and the
//! secrets its settings refer to.

use std::sync::Arc;

use lever_registry::{PluginRef, ResolveError};
use lever_sandbox::{
    Call, CapabilityBackend, CapabilityError, Grants, HostServices, InvokeError, PluginErrorKind,
    PluginKind,
};
use serde_json::Value;

use crate::{BindingConfig, Capabilities, NOT_CONFIGURED, Scope, error, secret_references};

/// `host[:port]` of a URL setting.
fn authority(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r)?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

/// What a binding grants its adapter.
pub(crate) fn grants(binding: &BindingConfig, declared: &Grants) -> Grants {
    let hosts = match binding
        .settings
        .get("base_url")
        .and_then(Value::as_str)
        .and_then(authority)
    {
        Some(host) => vec![host],
        None => declared.hosts.clone(),
    };
    Grants {
        hosts,
        secrets: secret_references(&binding.settings),
        ..Default::default()
    }
}

pub(crate) async fn call(
    capabilities: &Capabilities,
    scope: &Scope,
    binding: &BindingConfig,
    capability: &str,
    function: &str,
    input: &Value,
) -> Result<Value, CapabilityError> {
    let at = format!("bindings.{capability}.adapter");
    let reference = PluginRef::parse(&binding.adapter)
        .map_err(|e| error(NOT_CONFIGURED, format!("{at}: {e}")))?;
    let (record, plugin) =
        capabilities
            .registry
            .resolve(&reference)
            .await
            .map_err(|e| match e {
                ResolveError::NotFound(m) => error(
                    NOT_CONFIGURED,
                    format!("{at}: {m}; publish the adapter component (plugins/adapter-*) first"),
                ),
                other => error("other", format!("{at}: {other}")),
            })?;
    let manifest = plugin.manifest();
    if manifest.kind != PluginKind::Adapter {
        return Err(error(
            NOT_CONFIGURED,
            format!("{at}: `{}` is an action, not an adapter", record.name),
        ));
    }
    if !manifest.capabilities.iter().any(|c| c == capability) {
        return Err(error(
            NOT_CONFIGURED,
            format!(
                "{at}: `{}` implements {}, not `{capability}`",
                record.name,
                manifest.capabilities.join(", ")
            ),
        ));
    }
    let call = Call {
        context: scope.context.clone(),
        services: HostServices {
            state: Arc::new(capabilities.store.clone()),
            secrets: capabilities.secrets.clone(),
            capabilities: Arc::new(NoNesting),
        },
        log: scope.log.clone(),
        workspace: None,
        http: lever_sandbox::HttpPolicy::default(),
    };
    let grants = grants(binding, &manifest.grants);
    capabilities
        .registry
        .sandbox()
        .invoke_adapter(&plugin, &grants, &call, function, &binding.settings, input)
        .await
        .map_err(|e| invoke_error(&record.name, e))
}

fn invoke_error(adapter: &str, e: InvokeError) -> CapabilityError {
    let kind = match &e {
        InvokeError::Plugin { kind, .. } => match kind {
            PluginErrorKind::InvalidInput => "invalid-input",
            PluginErrorKind::Retryable => "retryable",
            PluginErrorKind::Fatal => "fatal",
            PluginErrorKind::NotFound => "not-found",
            PluginErrorKind::Denied => "denied",
            PluginErrorKind::Other => "other",
        },
        InvokeError::InvalidInput { .. } => "invalid-input",
        InvokeError::HostNotGranted { .. } => "denied",
        e if e.is_retryable() => "retryable",
        _ => "fatal",
    };
    error(kind, format!("{adapter}: {e}"))
}

/// Adapters do not call other capabilities.
struct NoNesting;

#[lever_sandbox::async_trait]
impl CapabilityBackend for NoNesting {
    async fn call(&self, capability: &str, _: &str, _: Value) -> Result<Value, CapabilityError> {
        Err(CapabilityError::unbound(
            capability,
            "an adapter cannot call capabilities",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_replaces_the_declared_host() {
        let declared = Grants {
            hosts: vec!["api.github.com".into()],
            secrets: vec![],
            ..Default::default()
        };
        let binding = BindingConfig {
            adapter: "github".into(),
            settings: serde_json::json!({"base_url": "http://127.0.0.1:8081/api/v3", "token": "secret://gh"}),
            hosts: vec![],
        };
        assert_eq!(
            grants(&binding, &declared),
            Grants {
                hosts: vec!["127.0.0.1:8081".into()],
                secrets: vec!["gh".into()],
                ..Default::default()
            }
        );
        let binding = BindingConfig {
            adapter: "github".into(),
            settings: serde_json::json!({}),
            hosts: vec![],
        };
        assert_eq!(
            grants(&binding, &declared).hosts,
            vec!["api.github.com".to_string()]
        );
    }
}
