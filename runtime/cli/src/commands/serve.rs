//! `lever serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use lever_api::AppState;
use lever_registry::PublishOptions;

use crate::local::Location;

/// Starts the server: opens the store, resumes unfinished runs, publishes `publish`, applies
/// `templates`, listens.
pub(crate) async fn serve(
    location: Location,
    listen: SocketAddr,
    workers: usize,
    publish: Vec<PathBuf>,
    templates: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let local = location.open(workers, true).await?;
    for file in files_with(&publish, &["wasm"])? {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let (record, outcome) = local
            .registry
            .publish(bytes, PublishOptions::default())
            .await
            .with_context(|| format!("cannot publish {}", file.display()))?;
        tracing::info!(plugin = %format!("{}@{}", record.name, record.version), ?outcome, "published at start");
    }
    for file in files_with(&templates, &["yaml", "yml", "json"])? {
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let (entry, _) = local.catalog.apply(&text).await.with_context(|| format!("cannot apply {}", file.display()))?;
        tracing::info!(template = %entry.record.name, version = entry.record.version, "template applied at start");
    }
    let app = lever_api::router(AppState { store: local.store.clone(), registry: local.registry, executor: local.executor, catalog: local.catalog });
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!("lever listening on http://{address}");
    println!("lever listening on http://{address}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    local.store.close().await;
    Ok(())
}

/// The files in `paths`, and in the directories among them those with one of `extensions`.
fn files_with(paths: &[PathBuf], extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|x| x.to_str()).is_some_and(|x| extensions.contains(&x)))
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
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
