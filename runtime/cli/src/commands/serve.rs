//! `lever serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use lever_api::AppState;
use lever_approvals::Approvals;
use lever_identity::{Authenticator, Config, LinkSigner};
use lever_registry::{PublishError, PublishOptions};
use lever_service::Services;
use lever_store::{Clock, ManualClock, StoreError, SystemClock};

use crate::local::Location;

/// Starts the server: opens the store, resumes unfinished runs, publishes `publish`, applies
/// `templates`, listens.
pub(crate) async fn serve(location: Location, options: ServeOptions) -> anyhow::Result<()> {
    let ServeOptions {
        listen,
        workers,
        publish,
        templates,
        manual_clock,
    } = options;
    let manual = manual_clock.then(|| Arc::new(ManualClock::default()));
    let clock: Arc<dyn Clock> = match &manual {
        Some(manual) => manual.clone(),
        None => Arc::new(SystemClock),
    };
    let local = location.open(workers, true, clock.clone()).await?;
    let config = local.config.clone();
    let email = local.email.clone();
    let identity = Arc::new(Authenticator::new(config.clone(), local.store.clone()));
    let signer = LinkSigner::from_config(&config.links, &local.data_dir)?;
    // Bound before anything links to it: one-click links carry the server's own address.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let approvals = Approvals::new(
        local.store.clone(),
        Arc::new(config),
        clock,
        signer,
        email,
        local.catalog.capabilities().clone(),
        &format!("http://{address}"),
    )
    .await
    .context("cannot load the approval policies in force")?;
    for file in files_with(&publish, &["wasm"])? {
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        match local
            .registry
            .publish(bytes, PublishOptions::default())
            .await
        {
            Ok((record, outcome)) => {
                tracing::info!(plugin = %format!("{}@{}", record.name, record.version), ?outcome, "published at start")
            }
            // Published before with other grants or limits (through the API): that version
            // stays as it is.
            Err(PublishError::Conflict(e @ StoreError::SettingsConflict { .. })) => {
                tracing::info!(file = %file.display(), "kept as published: {e}")
            }
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot publish {}", file.display()))
                );
            }
        }
    }
    for file in files_with(&templates, &["yaml", "yml", "json"])? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let (entry, _) = local
            .catalog
            .apply(&text)
            .await
            .with_context(|| format!("cannot apply {}", file.display()))?;
        tracing::info!(template = %entry.record.name, version = entry.record.version, "template applied at start");
    }
    approvals.spawn_timers();
    if let Some(token) = identity.bootstrap_admin_token().await? {
        // Shown once: only its hash is stored.
        println!(
            "first start: the admin API token is {token} (shown once; keep it, or create others with `lever token create`)"
        );
    }
    spawn_reconciling(local.catalog.capabilities().clone());
    let anchor = Arc::new(crate::commands::audit::anchor(&location)?);
    crate::commands::audit::spawn_anchoring(local.store.clone(), anchor.clone());
    let services = Services {
        store: local.store.clone(),
        registry: local.registry,
        executor: local.executor,
        catalog: local.catalog,
        identity,
        approvals,
        manual_clock: manual,
        secrets: local.secrets.clone(),
        audit_anchor: Some(anchor),
    };
    let state = AppState {
        services: services.clone(),
        gate: Arc::new(lever_api::limits::PrincipalGate::new(
            local.http_limits.max_concurrent_per_principal,
            std::time::Duration::from_millis(local.http_limits.queue_wait_ms),
        )),
    };
    // The web UI shares the port and the services (it is a second transport over them, not a
    // client of the API); the demo sign-in list needs a loopback listener, which is why it is
    // told the address, and its API reference page shows the API's document.
    if let Err(e) = lever_metrics::install(env!("CARGO_PKG_VERSION")) {
        tracing::warn!("metrics are not recorded: {e}");
    }
    let app = local
        .http_limits
        .apply(lever_api::observed(lever_api::answer_panics(
            lever_api::router(state.clone())
                .merge(lever_api::metrics_router(
                    state.clone(),
                    address.ip().is_loopback(),
                ))
                .merge(lever_backstage::router(
                    services.clone(),
                    state.gate.clone(),
                ))
                .merge(lever_web::router(lever_web::WebState::new(
                    services,
                    address,
                    lever_api::openapi_document(),
                ))),
        )));
    tracing::info!("lever listening on http://{address}");
    println!("lever listening on http://{address}");
    crate::listener::serve(listener, app, &local.http_limits, shutdown()).await?;
    local.store.close().await;
    Ok(())
}

/// How often the resource inventory is reconciled with the providers.
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Every [`RECONCILE_EVERY`], asks each live resource's provider whether it still has it
/// (`docs/resources.md`); the first pass waits a period, so a start is not slowed by it.
fn spawn_reconciling(capabilities: Arc<lever_capabilities::Capabilities>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(
            tokio::time::Instant::now() + RECONCILE_EVERY,
            RECONCILE_EVERY,
        );
        loop {
            every.tick().await;
            match capabilities.reconcile().await {
                Ok(found) => tracing::info!(
                    checked = found.checked,
                    drifted = found.drifted.len(),
                    unchecked = found.unchecked.len(),
                    "reconciled the resource inventory"
                ),
                Err(e) => {
                    tracing::warn!(error = %e.message, "reconciling the resource inventory failed")
                }
            }
        }
    });
}

/// How `lever serve` runs.
#[derive(Debug)]
pub(crate) struct ServeOptions {
    /// Address to listen on.
    pub(crate) listen: SocketAddr,
    /// Runs executed at once.
    pub(crate) workers: usize,
    /// Plugins to publish at start.
    pub(crate) publish: Vec<PathBuf>,
    /// Templates to apply at start.
    pub(crate) templates: Vec<PathBuf>,
    /// Approval timers and links follow a clock moved through the API (tests).
    pub(crate) manual_clock: bool,
}

/// The identity config: `--config`, else `<data-dir>/lever.yaml` if present, else the
/// embedded demo config (users, groups, no freeze).
pub(crate) fn load_config(location: &Location) -> anyhow::Result<Config> {
    let text = location.config_text(&location.data_dir)?;
    Config::from_yaml(&text).context("the config is not valid")
}

/// The files in `paths`, and in the directories among them those with one of `extensions`.
fn files_with(paths: &[PathBuf], extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| extensions.contains(&x))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
