//! `lever serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use lever_api::AppState;
use lever_registry::PublishOptions;

use crate::local::Location;

/// Starts the server: opens the store, resumes unfinished runs, publishes `publish`, listens.
pub(crate) async fn serve(location: Location, listen: SocketAddr, workers: usize, publish: Vec<PathBuf>) -> anyhow::Result<()> {
    let local = location.open(workers, true).await?;
    for file in wasm_files(&publish)? {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let (record, outcome) = local
            .registry
            .publish(bytes, PublishOptions::default())
            .await
            .with_context(|| format!("cannot publish {}", file.display()))?;
        tracing::info!(plugin = %format!("{}@{}", record.name, record.version), ?outcome, "published at start");
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

fn wasm_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
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
