//! Opening Lever in this process: the store in the data dir (or PostgreSQL), the sandbox with
//! its compiled-code cache, the registry and the executor.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use lever_capabilities::Capabilities;
use lever_catalog::Catalog;
use lever_registry::Registry;
use lever_runs::Executor;
use lever_sandbox::{Sandbox, SandboxConfig};
use lever_secrets::SealedSecrets;
use lever_store::Store;

/// Where Lever keeps its data, and which `lever.yaml` configures it.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub(crate) data_dir: PathBuf,
    pub(crate) database: Option<String>,
    /// `--config`; else `<data-dir>/lever.yaml` if present, else the embedded demo config.
    pub(crate) config: Option<PathBuf>,
}

/// Lever, opened in this process.
pub(crate) struct Local {
    pub(crate) store: Store,
    pub(crate) registry: Arc<Registry>,
    pub(crate) executor: Arc<Executor>,
    pub(crate) catalog: Arc<Catalog>,
    /// The data dir, absolute.
    pub(crate) data_dir: PathBuf,
    /// Secrets, sealed at rest with the key outside the database.
    pub(crate) secrets: Arc<SealedSecrets>,
    /// The identity part of the `lever.yaml` in force (its `smtp:` and `bindings:` are read at open).
    pub(crate) config: lever_identity::Config,
    /// The email notifier, when `smtp:` is configured.
    pub(crate) email: Option<lever_notify::EmailNotifier>,
    /// The `http:` section: what one client may make the server do.
    pub(crate) http_limits: lever_api::limits::HttpLimits,
}

impl Location {
    /// Opens the store, the sandbox, the registry and the executor. `resume` picks up runs a
    /// previous server left unfinished; only a server should.
    pub(crate) async fn open(
        &self,
        workers: usize,
        resume: bool,
        clock: Arc<dyn lever_store::Clock>,
    ) -> anyhow::Result<Local> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create the data dir {}", self.data_dir.display()))?;
        // The compiled-code cache wants an absolute path; `./.lever` is the default.
        let data_dir = std::path::absolute(&self.data_dir)
            .with_context(|| format!("cannot resolve the data dir {}", self.data_dir.display()))?;
        let url = match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", data_dir.join("lever.db").display()),
        };
        let store = Store::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let config_text = self.config_text(&data_dir)?;
        let sandbox = Sandbox::new(&SandboxConfig {
            cache_dir: Some(data_dir.join("cache")),
            state_quota: state_quota(&config_text)?,
            ..Default::default()
        })?;
        let registry = Arc::new(
            Registry::new(Arc::new(sandbox), store.clone())
                .with_signatures(signature_policy(&config_text)?),
        );
        let key = lever_secrets::load_key(&data_dir)?;
        let secrets = Arc::new(SealedSecrets::new(store.clone(), &key));
        let sealed = secrets.seal_plaintext().await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed secrets stored before encryption at rest");
        }
        let email = match lever_notify::smtp_config(&config_text)? {
            Some(smtp) => Some(lever_notify::EmailNotifier::new(&smtp)?),
            None => None,
        };
        let bindings = lever_capabilities::bindings_config(&config_text)
            .context("the config's `bindings:` section is not valid")?;
        let config =
            lever_identity::Config::from_yaml(&config_text).context("the config is not valid")?;
        let directory = directory(&config);
        let members = members(&config);
        let capabilities = Arc::new(
            Capabilities::new(
                bindings,
                registry.clone(),
                store.clone(),
                secrets.clone(),
                // The built-in providers this binary runs besides `builtin:secrets`.
                vec![
                    Arc::new(lever_provider_postgres::PostgresBuiltin::new(
                        secrets.clone(),
                    )),
                    Arc::new(lever_notify::EmailBuiltin(email.clone())),
                    Arc::new(lever_notify::InboxBuiltin::new(
                        store.clone(),
                        members,
                        clock.clone(),
                    )),
                ],
            )
            .with_directory(directory),
        );
        let catalog = Arc::new(Catalog::new(store.clone(), registry.clone(), capabilities));
        let executor = Executor::start(
            store.clone(),
            registry.clone(),
            catalog.clone(),
            workers,
            resume,
            clock,
            secrets.clone(),
            engine_options(&config_text, resume, &data_dir)?,
        )
        .await?;
        executor.set_run_log_limit(run_log_limit(&config_text)?);
        let (notify, poll_fallback) = event_delivery(&config_text)?;
        store.configure_event_delivery(notify, poll_fallback);
        Ok(Local {
            store,
            registry,
            executor,
            catalog,
            data_dir,
            secrets,
            config,
            email,
            http_limits: http_limits(&config_text)?,
        })
    }

    /// The `lever.yaml` text: `--config`, else `<data-dir>/lever.yaml`, else the embedded one.
    pub(crate) fn config_text(&self, data_dir: &Path) -> anyhow::Result<String> {
        let in_data_dir = data_dir.join("lever.yaml");
        let path = match &self.config {
            Some(p) => p.clone(),
            None if in_data_dir.exists() => in_data_dir,
            None => return Ok(lever_identity::EMBEDDED_CONFIG.to_string()),
        };
        std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the config {}", path.display()))
    }
}

/// User ids by user id and by team or group, for the built-in inbox notifier.
fn members(config: &lever_identity::Config) -> std::collections::HashMap<String, Vec<String>> {
    let mut members: std::collections::HashMap<String, Vec<String>> = config
        .users
        .iter()
        .map(|u| (u.id.clone(), vec![u.id.clone()]))
        .collect();
    let groups = config
        .groups
        .iter()
        .map(|g| g.name.clone())
        .chain(config.users.iter().filter_map(|u| u.team.clone()));
    for group in groups {
        let ids = config.members_of(&group);
        members.entry(group).or_insert(ids);
    }
    members
}

/// Email addresses by user id and by team or group, for the built-in email notifier.
fn directory(config: &lever_identity::Config) -> lever_capabilities::Directory {
    let email = |id: &str| config.user(id).and_then(|u| u.email.clone());
    let mut directory = lever_capabilities::Directory::new();
    for user in &config.users {
        if let Some(address) = &user.email {
            directory.insert(user.id.clone(), vec![address.clone()]);
        }
    }
    let groups = config
        .groups
        .iter()
        .map(|g| g.name.clone())
        .chain(config.users.iter().filter_map(|u| u.team.clone()));
    for group in groups {
        let addresses: Vec<String> = config
            .members_of(&group)
            .iter()
            .filter_map(|id| email(id))
            .collect();
        directory.entry(group).or_insert(addresses);
    }
    directory
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &url[scheme + 3..at];
            let user = user_info.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// The top-level `key:` section of lever.yaml as `T`, `None` when absent or empty; `hint`
/// says what the section holds, for the error when it does not parse.
fn config_section<T: serde::de::DeserializeOwned>(
    config_text: &str,
    key: &str,
    hint: &str,
) -> anyhow::Result<Option<T>> {
    let document: Option<serde_yaml::Value> =
        serde_yaml::from_str(config_text).context("the config is not valid YAML")?;
    match document.as_ref().and_then(|d| d.get(key)) {
        None | Some(serde_yaml::Value::Null) => Ok(None),
        Some(section) => serde_yaml::from_value(section.clone())
            .map(Some)
            .with_context(|| format!("the config's `{key}:` section is not valid: {hint}")),
    }
}

/// The `plugins:` section of lever.yaml: `trusted_keys` (each a `name` and a public `key` as
/// `lever plugin keygen` writes it) and `require_signatures` (refuse unsigned components and
/// those signed by other keys; default false).
fn signature_policy(config_text: &str) -> anyhow::Result<lever_registry::SignaturePolicy> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Key {
        name: String,
        key: String,
    }
    #[derive(Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Plugins {
        #[serde(default)]
        trusted_keys: Vec<Key>,
        #[serde(default)]
        require_signatures: bool,
    }
    let section: Plugins = config_section(
        config_text,
        "plugins",
        "use trusted_keys (a list of {name, key: lever-ed25519:...}) and require_signatures (true or false)",
    )?
    .unwrap_or_default();
    let mut trusted = Vec::new();
    for k in section.trusted_keys {
        let key = lever_registry::signature::decode_public(&k.key)
            .with_context(|| format!("plugins.trusted_keys `{}`", k.name))?;
        trusted.push(lever_registry::TrustedKey { name: k.name, key });
    }
    if section.require_signatures && trusted.is_empty() {
        anyhow::bail!(
            "plugins.require_signatures is true but plugins.trusted_keys is empty: no component could be published; add the public key `lever plugin keygen` wrote"
        );
    }
    Ok(lever_registry::SignaturePolicy {
        trusted,
        required: section.require_signatures,
    })
}

/// `run_logs.max_bytes_per_run` in lever.yaml: the most log a run stores (default 8 MiB).
fn run_log_limit(config_text: &str) -> anyhow::Result<u64> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RunLogs {
        max_bytes_per_run: u64,
    }
    let section: Option<RunLogs> = config_section(
        config_text,
        "run_logs",
        "use max_bytes_per_run (bytes of log messages one run stores)",
    )?;
    Ok(section.map_or(lever_runs::DEFAULT_RUN_LOG_BYTES, |r| r.max_bytes_per_run))
}

/// The `engine:` section of lever.yaml: `guest_threads` (threads for guest work, apart from
/// the API's; default the core count; 0 shares the API's threads, as before they were apart;
/// only the server, `serving`, has its own) and
/// `max_queued_runs` (runs waiting for a worker before submissions get 503; default 10,000);
/// and the `workspace:` section: `max_bytes_per_run` (default 512 MiB) and `keep_failed_hours`
/// (how long a failed run's workspace is kept, default 24), under `<data dir>/workspaces`.
fn engine_options(
    config_text: &str,
    serving: bool,
    data_dir: &Path,
) -> anyhow::Result<lever_runs::EngineOptions> {
    #[derive(Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Workspace {
        max_bytes_per_run: Option<u64>,
        keep_failed_hours: Option<u64>,
    }
    let workspace: Workspace = config_section(
        config_text,
        "workspace",
        "use max_bytes_per_run (bytes a template run's workspace may hold) and keep_failed_hours (how long a failed run's workspace is kept), whole numbers",
    )?
    .unwrap_or_default();
    let workspaces = lever_runs::WorkspaceOptions {
        root: data_dir.join("workspaces"),
        max_bytes_per_run: workspace
            .max_bytes_per_run
            .unwrap_or(lever_runs::DEFAULT_WORKSPACE_BYTES),
        keep_failed: workspace
            .keep_failed_hours
            .map_or(lever_runs::DEFAULT_KEEP_FAILED, |h| {
                std::time::Duration::from_secs(h * 3600)
            }),
    };
    #[derive(Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Engine {
        guest_threads: Option<usize>,
        max_queued_runs: Option<usize>,
        lease_ms: Option<u64>,
        node_id: Option<String>,
    }
    let engine: Engine = config_section(
        config_text,
        "engine",
        "use guest_threads (0 shares the API's threads), max_queued_runs (at least 1), lease_ms (how long a dead node's runs wait, at least 100) as whole numbers, and node_id (this node's name in run leases)",
    )?
    .unwrap_or_default();
    if engine.max_queued_runs == Some(0) {
        anyhow::bail!("engine.max_queued_runs is at least 1");
    }
    if engine.lease_ms.is_some_and(|ms| ms < 100) {
        anyhow::bail!(
            "engine.lease_ms is at least 100 (milliseconds a run's lease lasts unrenewed)"
        );
    }
    if engine
        .node_id
        .as_ref()
        .is_some_and(|n| n.trim().is_empty() || n.len() > 200)
    {
        anyhow::bail!("engine.node_id names this node: 1 to 200 characters");
    }
    let node_id = match (engine.node_id, serving) {
        (Some(id), _) => id,
        (None, true) => node_id(data_dir)?,
        // A CLI sharing a server's data dir is another process: never the server's id.
        (None, false) => format!("cli-{}", uuid::Uuid::new_v4()),
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(lever_runs::EngineOptions {
        guest_threads: match engine.guest_threads.unwrap_or(cores) {
            0 => None,
            n => serving.then_some(n),
        },
        max_queued_runs: engine
            .max_queued_runs
            .unwrap_or(lever_runs::DEFAULT_MAX_QUEUED_RUNS),
        workspaces: Some(workspaces),
        node_id,
        lease: engine
            .lease_ms
            .map_or(lever_runs::DEFAULT_LEASE, std::time::Duration::from_millis),
    })
}

/// The server's node id: `<data dir>/node-id`, made on first start. Stable, so a server that
/// restarts on the same data dir takes its own runs back at once, without waiting for their
/// leases to expire.
fn node_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    if let Ok(text) = std::fs::read_to_string(&path)
        && !text.trim().is_empty()
    {
        return Ok(text.trim().to_string());
    }
    let id = format!("node-{}", uuid::Uuid::new_v4());
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// The `events:` section of lever.yaml: `notify` (PostgreSQL notifications between nodes,
/// default on) and `poll_fallback_ms` (how long a stream waits before reading the table
/// anyway, default 1,000).
fn event_delivery(config_text: &str) -> anyhow::Result<(bool, std::time::Duration)> {
    #[derive(serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Events {
        notify: bool,
        poll_fallback_ms: u64,
    }
    impl Default for Events {
        fn default() -> Self {
            Self {
                notify: true,
                poll_fallback_ms: 1_000,
            }
        }
    }
    let events: Events = config_section(
        config_text,
        "events",
        "use notify (true/false) and poll_fallback_ms (milliseconds, at least 1)",
    )?
    .unwrap_or_default();
    if events.poll_fallback_ms == 0 {
        anyhow::bail!("events.poll_fallback_ms is 0; give at least 1 (milliseconds)");
    }
    Ok((
        events.notify,
        std::time::Duration::from_millis(events.poll_fallback_ms),
    ))
}

/// The `http:` section of lever.yaml (each bound defaults as `HttpLimits` says).
fn http_limits(config_text: &str) -> anyhow::Result<lever_api::limits::HttpLimits> {
    Ok(config_section(
        config_text,
        "http",
        "use request_timeout_seconds, header_read_timeout_seconds, max_header_bytes, max_headers, max_concurrent_per_principal and queue_wait_ms",
    )?
    .unwrap_or_default())
}

/// The `state_quota:` section of lever.yaml (each bound defaults as `StateQuota` says).
fn state_quota(config_text: &str) -> anyhow::Result<lever_sandbox::StateQuota> {
    Ok(config_section(
        config_text,
        "state_quota",
        "use max_value_bytes, max_keys and max_total_bytes",
    )?
    .unwrap_or_default())
}
