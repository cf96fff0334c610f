//! The `bindings:` section of `lever.yaml`: which adapter (or built-in provider) does each
//! capability, and with what settings. Credentials in settings are `secret://name` references,
//! never values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::CapabilityConfigError;

/// One capability's binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    /// A published adapter (`github`, `github@0.1.0`) or a built-in provider (`builtin:postgres`,
    /// `builtin:secrets`, `builtin:email`).
    pub adapter: String,
    /// The adapter's settings (checked against its settings schema at each call).
    #[serde(default = "empty")]
    pub settings: Value,
    /// Repository hosts this binding serves (`github.com`): a step whose `repoUrl` names one
    /// goes to it. Several bindings of one capability are keyed `capability/label`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

impl BindingConfig {
    /// Whether a built-in provider (host-side) does this capability, not an adapter component.
    pub fn is_builtin(&self) -> bool {
        self.adapter.starts_with("builtin:")
    }
}

fn empty() -> Value {
    Value::Object(Default::default())
}

/// The built-in providers and the capability each implements.
pub const BUILTINS: &[(&str, &str)] = &[
    ("builtin:postgres", "infrastructure"),
    ("builtin:secrets", "secrets-store"),
    ("builtin:email", "notifier"),
    ("builtin:inbox", "notifier"),
];

/// Reads and checks the `bindings:` section of a `lever.yaml` text (absent: no bindings).
pub fn bindings_config(
    lever_yaml: &str,
) -> Result<BTreeMap<String, BindingConfig>, CapabilityConfigError> {
    #[derive(Deserialize)]
    struct Whole {
        #[serde(default)]
        bindings: BTreeMap<String, BindingConfig>,
    }
    let whole: Whole = serde_yaml::from_str(lever_yaml)
        .map_err(|e| CapabilityConfigError(format!("bindings: {e}")))?;
    for (key, binding) in &whole.bindings {
        // `git-provider/gitlab`: a second binding of `git-provider`, chosen by its `hosts`.
        let capability = key.split_once('/').map_or(key.as_str(), |(c, _)| c);
        check(capability, binding).map_err(|e| {
            CapabilityConfigError(e.0.replacen(
                &format!("bindings.{capability}"),
                &format!("bindings.{key}"),
                1,
            ))
        })?;
        if key.contains('/') && binding.hosts.is_empty() {
            return Err(CapabilityConfigError(format!(
                "bindings.{key}: a second binding of `{capability}` needs `hosts` (the repository hosts whose steps go to it)"
            )));
        }
    }
    Ok(whole.bindings)
}

fn check(capability: &str, binding: &BindingConfig) -> Result<(), CapabilityConfigError> {
    let known: Vec<&str> = lever_sandbox::CAPABILITIES
        .iter()
        .map(|(c, _)| *c)
        .collect();
    if !known.contains(&capability) {
        return Err(CapabilityConfigError(format!(
            "bindings.{capability}: not a capability; bind one of {}",
            known.join(", ")
        )));
    }
    if !binding.settings.is_object() {
        return Err(CapabilityConfigError(format!(
            "bindings.{capability}.settings must be a mapping"
        )));
    }
    if binding.is_builtin() {
        match BUILTINS.iter().find(|(name, _)| *name == binding.adapter) {
            None => {
                let names: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
                return Err(CapabilityConfigError(format!(
                    "bindings.{capability}.adapter: `{}` is not a built-in provider; there are {}",
                    binding.adapter,
                    names.join(", ")
                )));
            }
            Some((name, implements)) if *implements != capability => {
                return Err(CapabilityConfigError(format!(
                    "bindings.{capability}.adapter: `{name}` implements `{implements}`, not `{capability}`"
                )));
            }
            Some(_) => {}
        }
    }
    inline_credentials(
        &binding.settings,
        &format!("bindings.{capability}.settings"),
    )
}

/// Names that hold credentials must be secret references, so none sits in the file.
fn inline_credentials(settings: &Value, at: &str) -> Result<(), CapabilityConfigError> {
    const CREDENTIALS: &[&str] = &[
        "token",
        "password",
        "secret",
        "private_key",
        "api_key",
        "app_key",
        "secret_id",
        "signing_secret",
    ];
    let Value::Object(map) = settings else {
        return Ok(());
    };
    for (key, value) in map {
        match value {
            Value::String(s)
                if CREDENTIALS
                    .iter()
                    .any(|c| key == c || key.ends_with(&format!("_{c}")))
                    && !s.starts_with("secret://") =>
            {
                return Err(CapabilityConfigError(format!(
                    "{at}.{key}: credentials are secret references (`secret://name`, stored with `PUT /api/v1/secrets/name`), never values in the file"
                )));
            }
            Value::Object(_) => inline_credentials(value, &format!("{at}.{key}"))?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_references;

    #[test]
    fn inline_token_is_refused_and_references_are_collected() {
        let err = bindings_config(
            "bindings:\n  git-provider:\n    adapter: github\n    settings: {token: ghp_abc}\n",
        )
        .unwrap_err();
        assert!(
            err.0.contains("bindings.git-provider.settings.token"),
            "{err}"
        );
        let ok = bindings_config("bindings:\n  git-provider:\n    adapter: github\n    settings: {token: 'secret://gh', owner: acme}\n").unwrap();
        assert_eq!(
            secret_references(&ok["git-provider"].settings),
            vec!["gh".to_string()]
        );
    }

    #[test]
    fn unknown_capability_and_mismatched_builtin_are_refused() {
        let err = bindings_config("bindings:\n  git-hosting:\n    adapter: github\n").unwrap_err();
        assert!(err.0.contains("not a capability"), "{err}");
        let err = bindings_config("bindings:\n  git-provider:\n    adapter: builtin:postgres\n")
            .unwrap_err();
        assert!(err.0.contains("implements `infrastructure`"), "{err}");
    }
}

#[cfg(test)]
mod routing_tests {
    use super::*;

    #[test]
    fn a_second_binding_of_a_capability_needs_the_hosts_it_serves() {
        let ok = bindings_config(
            "bindings:\n  git-provider: {adapter: github, hosts: [github.com]}\n  git-provider/gitlab: {adapter: gitlab, hosts: [gitlab.com]}\n",
        )
        .unwrap();
        assert_eq!(ok["git-provider/gitlab"].hosts, ["gitlab.com"]);
        let err =
            bindings_config("bindings:\n  git-provider/gitlab: {adapter: gitlab}\n").unwrap_err();
        assert!(
            err.0.contains("bindings.git-provider/gitlab") && err.0.contains("hosts"),
            "{err}"
        );
        let err =
            bindings_config("bindings:\n  gits/x: {adapter: gitlab, hosts: [a.b]}\n").unwrap_err();
        assert!(err.0.contains("bindings.gits/x: not a capability"), "{err}");
    }

    #[test]
    fn the_route_is_the_host_a_steps_repo_url_or_url_names() {
        use crate::route_host;
        use serde_json::json;
        assert_eq!(
            route_host(&json!({"repoUrl": "GitLab.com?owner=a&repo=b"})).as_deref(),
            Some("gitlab.com")
        );
        assert_eq!(
            route_host(&json!({"url": "https://github.com/o/r/tree/main/x"})).as_deref(),
            Some("github.com")
        );
        assert_eq!(route_host(&json!({"url": "./skeleton"})), None);
        assert_eq!(route_host(&json!({"name": "x"})), None);
    }
}
