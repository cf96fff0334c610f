//! Capability bindings. Templates and actions name a capability function
//! (`git-provider.create-pull-request`); configuration binds each capability to one adapter
//! component or built-in provider with its settings; this crate routes every call there,
//! checks its input and answer against `wit/capabilities.wit`, and records it in the run log
//! (by name, duration and outcome; never a value).
//!
//! Calls come from two places: a template step whose `action` is a capability function (the
//! executor calls [`Capabilities::run_step`]), and an action that imports the capability
//! interface (the sandbox calls the [`CapabilityBackend`] from [`Capabilities::backend`]).

mod adapter;
mod builtin;
mod config;
mod ownership;
mod preview;
pub mod provider;
mod readers;
mod reconcile;

pub use ownership::{owning_team, tracked_scope};
pub use preview::risk;
pub use reconcile::Reconciled;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lever_registry::Registry;
use lever_sandbox::{CallContext, CapabilityBackend, CapabilityError, LogBook};
use lever_secrets::SealedSecrets;
use lever_store::Store;
use serde_json::{Value, json};

pub use config::{BUILTINS, BindingConfig, bindings_config};
/// Re-exported so provider crates implement [`Provider`] with the same macro.
pub use lever_plugin::async_trait;
pub use lever_sandbox::secret_references;
use provider::error;
pub use provider::{NOT_CONFIGURED, Provider, ProviderCall};
pub use readers::{Reader, Readers, secret_readers};

/// The configuration is not valid; the message names the key and what to write.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CapabilityConfigError(pub String);

/// Email addresses by Lever user id and by team or group name, for `builtin:email`.
pub type Directory = BTreeMap<String, Vec<String>>;

/// How long a template step waits for an infrastructure run before giving the worker back.
pub const MAX_WAIT: Duration = Duration::from_secs(30 * 60);

/// Who a call is for and where its log goes.
#[derive(Clone)]
pub struct Scope {
    /// The run, step and requester.
    pub context: CallContext,
    /// The run log the call is recorded in.
    pub log: LogBook,
    /// The repository host the step names (`repoUrl: github.com?owner=…`, as Backstage's
    /// publish actions take it): it chooses among several bindings of one capability, as
    /// Backstage chooses an integration by host. See [`route_host`].
    pub host: Option<String>,
    /// The team the run acts for: what the call creates is recorded as theirs, and what
    /// another team owns is refused (`docs/resources.md`). None outside a run (previews).
    pub owner: Option<String>,
    /// The run's template, recorded with what it creates.
    pub template: Option<String>,
}

/// The host a step's input names in `repoUrl` (Backstage's `host?owner=o&repo=r`) or `url`
/// (`https://host/…`), lowercased: the key [`Capabilities`] routes a call with.
pub fn route_host(input: &Value) -> Option<String> {
    let text = input
        .get("repoUrl")
        .or_else(|| input.get("url"))
        .and_then(Value::as_str)?;
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let host = rest.split(['?', '/']).next().unwrap_or("");
    // A relative `url` (`./skeleton`) names no host.
    (!host.is_empty() && !host.starts_with('.') && host.contains('.'))
        .then(|| host.to_ascii_lowercase())
}

/// The capability bindings in force and the providers behind them.
pub struct Capabilities {
    bindings: BTreeMap<String, BindingConfig>,
    registry: Arc<Registry>,
    store: Store,
    secrets: Arc<SealedSecrets>,
    builtins: builtin::Builtins,
}

/// `capability.function` when `action` names a capability function (`git-provider.create-repository`).
pub fn capability_action(action: &str) -> Option<(&str, &str)> {
    let (capability, function) = action.split_once('.')?;
    lever_sandbox::CAPABILITIES
        .iter()
        .any(|(c, _)| *c == capability)
        .then_some((capability, function))
}

impl Capabilities {
    /// Bindings from the configuration, done by adapter components or by the built-in
    /// `providers` the binary wires (`builtin:secrets`, on the store's sealed secrets, is
    /// always there).
    pub fn new(
        bindings: BTreeMap<String, BindingConfig>,
        registry: Arc<Registry>,
        store: Store,
        secrets: Arc<SealedSecrets>,
        providers: Vec<Arc<dyn Provider>>,
    ) -> Self {
        let builtins = builtin::Builtins::new(store.clone(), secrets.clone(), providers);
        Self {
            bindings,
            registry,
            store,
            secrets,
            builtins,
        }
    }

    /// Where `builtin:email` finds the addresses of a user or team named in `to`.
    pub fn with_directory(mut self, directory: Directory) -> Self {
        self.builtins.directory = directory;
        self
    }

    /// The bindings in force.
    pub fn bindings(&self) -> &BTreeMap<String, BindingConfig> {
        &self.bindings
    }

    /// The binding of `capability` for a call about `host`: the binding (`capability` or
    /// `capability/label`) whose `hosts` lists it, else the plain `capability` one; or why
    /// there is none.
    fn binding(
        &self,
        capability: &str,
        host: Option<&str>,
    ) -> Result<&BindingConfig, CapabilityError> {
        self.keyed_binding(capability, host).map(|(_, b)| b)
    }

    /// [`Capabilities::binding`] with its key in `bindings:` (`capability` or
    /// `capability/label`): the inventory records resources under it.
    fn keyed_binding(
        &self,
        capability: &str,
        host: Option<&str>,
    ) -> Result<(&str, &BindingConfig), CapabilityError> {
        let labelled = format!("{capability}/");
        let mut candidates = self
            .bindings
            .iter()
            .filter(|(key, _)| *key == capability || key.starts_with(&labelled));
        if let Some(host) = host
            && let Some((key, binding)) =
                candidates.find(|(_, b)| b.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
        {
            return Ok((key.as_str(), binding));
        }
        self.bindings.get_key_value(capability).map(|(k, b)| (k.as_str(), b)).ok_or_else(|| {
            let about = host.map(|h| format!(" for `{h}`")).unwrap_or_default();
            error(NOT_CONFIGURED, format!("`{capability}` is not bound to a provider{about}: add `bindings.{capability}` (an adapter and its settings, and `hosts: [{}]` to choose it by repository host) to lever.yaml", host.unwrap_or("github.com")))
        })
    }

    /// Calls one function, as an action's import does: checked, routed, recorded.
    pub async fn call(
        &self,
        scope: &Scope,
        capability: &str,
        function: &str,
        input: Value,
    ) -> Result<Value, CapabilityError> {
        lever_sandbox::check_capability_input(capability, function, &input)
            .map_err(|e| error("invalid-input", format!("the input of `{capability}.{function}` does not match wit/capabilities.wit: {e}")))?;
        // What a notifier or an observability tool receives is shown to people: the run's
        // secret values never go there. (A secrets store, by contrast, is where they belong.)
        let input = if matches!(capability, "notifier" | "observability") {
            scope.log.masker().mask_json(&input)
        } else {
            input
        };
        let (key, binding) = self
            .keyed_binding(capability, scope.host.as_deref())
            .inspect_err(|e| {
                // A warning, not an error: an action may go on without it (`catalog:register`
                // uses Lever's entity list when no `software-catalog` is bound); one that
                // cannot fails with its own error.
                scope.log.push(
                    "capability",
                    "warn",
                    &format!("{capability}.{function}: {}: {}", e.kind, e.message),
                );
            })?;
        let started = Instant::now();
        // What Lever creates is claimed in the inventory first, and what it did not create or
        // another team owns is refused before the provider is asked (`ownership.rs`).
        let result =
            match ownership::Guard::before(self, scope, key, binding, capability, function, &input)
                .await
            {
                Err(refused) => Err(refused),
                Ok(guard) => {
                    // The provider may complete what exists: the step's own claim from before, or
                    // the team's resource it converges.
                    let ours = matches!(
                        guard,
                        ownership::Guard::Claimed { resumed: true, .. }
                            | ownership::Guard::Updating(_)
                    );
                    let result = if binding.is_builtin() {
                        self.builtins
                            .call(scope, binding, capability, function, &input, ours)
                            .await
                    } else {
                        adapter::call(self, scope, binding, capability, function, &input).await
                    };
                    guard.after(self, scope, result).await
                }
            };
        let result = result.and_then(|answer| {
            lever_sandbox::check_capability_output(capability, function, &answer)
                .map(|()| answer)
                .map_err(|e| {
                    error(
                        "fatal",
                        format!(
                            "`{}` answered `{capability}.{function}` with the wrong shape: {e}",
                            binding.adapter
                        ),
                    )
                })
        });
        let ms = started.elapsed().as_millis();
        lever_metrics::capability_call(
            capability,
            &binding.adapter,
            result.as_ref().map_or_else(|e| e.kind, |_| "ok"),
        );
        match &result {
            Ok(_) => scope.log.push(
                "capability",
                "info",
                &format!(
                    "{capability}.{function} via {}: ok in {ms} ms",
                    binding.adapter
                ),
            ),
            Err(e) => scope.log.push(
                "capability",
                "error",
                &format!(
                    "{capability}.{function} via {}: {} after {ms} ms: {}",
                    binding.adapter, e.kind, e.message
                ),
            ),
        }
        result
    }

    /// Runs a template step's capability call. `infrastructure.apply` and `.destroy` wait for
    /// the provider to finish (polling `status`), and `apply` answers with the outputs too:
    /// `{"id", "state", "outputs"}`.
    pub async fn run_step(
        &self,
        scope: &Scope,
        capability: &str,
        function: &str,
        input: Value,
    ) -> Result<Value, CapabilityError> {
        let answer = self
            .call(scope, capability, function, input.clone())
            .await?;
        if capability != "infrastructure"
            || !matches!(function, "apply" | "destroy" | "rotate-credentials")
        {
            return Ok(answer);
        }
        let status = self.wait(scope, answer).await?;
        if function != "apply" {
            return Ok(status);
        }
        let outputs = self
            .call(
                scope,
                "infrastructure",
                "outputs",
                json!({"workspace": input["workspace"]}),
            )
            .await?;
        self.record_applied(
            scope,
            input["workspace"].as_str().unwrap_or_default(),
            &status,
            &outputs,
        )
        .await?;
        let mut answer = json!({"id": status["id"], "state": status["state"], "outputs": outputs});
        // An apply that found the team's resource in place says so (the run page shows it).
        if let Some(message) = status["message"].as_str() {
            answer["message"] = json!(message);
        }
        Ok(answer)
    }

    /// Polls an apply or destroy until it ends; `errored` or `cancelled` is a fatal error with
    /// the provider's message. A run still going after [`MAX_WAIT`] is `retryable`: the step's
    /// retry policy (or its `timeout`, if shorter) decides, and a retried apply finds the same
    /// provider run.
    async fn wait(&self, scope: &Scope, mut status: Value) -> Result<Value, CapabilityError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            match status["state"].as_str().unwrap_or("") {
                "applied" => return Ok(status),
                "errored" | "cancelled" => {
                    let said = status["message"].as_str().unwrap_or("no message");
                    return Err(error(
                        "fatal",
                        format!(
                            "the infrastructure run {} ended {}: {said}",
                            status["id"], status["state"]
                        ),
                    ));
                }
                _ => {}
            }
            if started.elapsed() >= MAX_WAIT {
                return Err(error(
                    "retryable",
                    format!(
                        "the infrastructure run {} is still {} after {} minutes",
                        status["id"],
                        status["state"],
                        MAX_WAIT.as_secs() / 60
                    ),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            status = self
                .call(
                    scope,
                    "infrastructure",
                    "status",
                    json!({"id": status["id"]}),
                )
                .await?;
        }
    }

    /// The backend an action's capability imports call, for one invocation.
    pub fn backend(self: &Arc<Self>, scope: Scope) -> Arc<dyn CapabilityBackend> {
        Arc::new(ActionCalls {
            capabilities: self.clone(),
            scope,
        })
    }
}

/// An action's capability imports, bound to its invocation's run and log.
struct ActionCalls {
    capabilities: Arc<Capabilities>,
    scope: Scope,
}

#[lever_sandbox::async_trait]
impl CapabilityBackend for ActionCalls {
    async fn call(
        &self,
        capability: &str,
        function: &str,
        input: Value,
    ) -> Result<Value, CapabilityError> {
        self.capabilities
            .call(&self.scope, capability, function, input)
            .await
    }
}
