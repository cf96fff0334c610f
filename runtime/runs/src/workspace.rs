//! Per-run workspaces: a private directory under the data dir for each template run, kept
//! across its steps, retries and a restart (it is on disk, named by the run), lent to the
//! plugins that ask for `workspace`, with the template's bundle unpacked beside it read-only.
//! Removed when the run ends, except after a failure: then it is kept for
//! [`Workspaces::keep_failed`] for debugging and swept after.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lever_sandbox::Workspace;
use lever_store::{RunRecord, Store, StoreError};

/// Where the workspaces live and how big one may grow.
#[derive(Debug, Clone)]
pub struct WorkspaceOptions {
    /// The directory holding one folder per run (`<data dir>/workspaces`).
    pub root: PathBuf,
    /// The most bytes one run's workspace may hold.
    pub max_bytes_per_run: u64,
    /// How long a failed run's workspace is kept.
    pub keep_failed: Duration,
}

/// The default of [`WorkspaceOptions::max_bytes_per_run`]: 512 MiB.
pub const DEFAULT_WORKSPACE_BYTES: u64 = 512 * 1024 * 1024;
/// The default of [`WorkspaceOptions::keep_failed`]: a day.
pub const DEFAULT_KEEP_FAILED: Duration = Duration::from_secs(24 * 3600);

/// The workspaces of this node.
#[derive(Debug, Clone)]
pub(crate) struct Workspaces {
    options: WorkspaceOptions,
    /// Runs whose workspace this process has prepared and not yet finished: their later steps
    /// skip the trip to the blocking pool that checks the folder (a step of a run granted the
    /// workspace paid two or more such trips before its guest ran). A restart, or another node
    /// taking the run over, starts without it and checks the folder on disk.
    prepared: Arc<Mutex<HashSet<String>>>,
}

/// A workspace over its quota, or one that could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkspaceError {
    #[error("the run's workspace cannot be prepared: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Workspaces {
    pub(crate) fn new(options: WorkspaceOptions) -> Self {
        Self {
            options,
            prepared: Arc::default(),
        }
    }

    fn folder(&self, run_id: &str) -> PathBuf {
        // Run ids are UUIDs; anything else is flattened so it cannot name another folder.
        let safe: String = run_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.options.root.join(safe)
    }

    /// The run's workspace, made on first use: `work/` empty, `template/` holding the template
    /// version's bundle (written once, then only read).
    pub(crate) async fn prepare(
        &self,
        store: &Store,
        run: &RunRecord,
        bundle_path: Option<&str>,
    ) -> Result<Workspace, WorkspaceError> {
        let folder = self.folder(&run.id);
        let work = folder.join("work");
        let template = folder.join("template");
        let known = self
            .prepared
            .lock()
            .expect("workspaces lock")
            .contains(&run.id);
        if !known {
            let done = folder.join(".template-written");
            let (work_dir, done_mark) = (work.clone(), done.clone());
            let written = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&work_dir)?;
                done_mark.try_exists()
            })
            .await
            .map_err(std::io::Error::other)??;
            if let (Some(name), false) = (&run.template, written) {
                let version = run.template_version.unwrap_or(1);
                let files = store.template_files(name, version, "").await?;
                let into = template.clone();
                // The whole bundle in one trip to the blocking pool, the mark last.
                tokio::task::spawn_blocking(move || write_bundle(&into, files, &done))
                    .await
                    .map_err(std::io::Error::other)??;
            }
            self.prepared
                .lock()
                .expect("workspaces lock")
                .insert(run.id.clone());
        }
        let template_folder = bundle_path
            .and_then(|p| p.rsplit_once('/'))
            .map(|(dir, _)| dir.to_string())
            .unwrap_or_default();
        Ok(Workspace {
            dir: work,
            template: Some(template),
            template_folder,
        })
    }

    /// How many bytes the run's workspace holds, when it holds more than its quota.
    pub(crate) async fn over_quota(&self, run_id: &str) -> Option<(u64, u64)> {
        let work = self.folder(run_id).join("work");
        let limit = self.options.max_bytes_per_run;
        let used = tokio::task::spawn_blocking(move || size_of(&work))
            .await
            .unwrap_or(0);
        (used > limit).then_some((used, limit))
    }

    /// The run ended: its workspace goes, unless it failed (then the sweep takes it later).
    pub(crate) async fn finish(&self, run_id: &str, failed: bool) {
        self.prepared
            .lock()
            .expect("workspaces lock")
            .remove(run_id);
        let folder = self.folder(run_id);
        if failed {
            // Its age counts from the end of the run.
            let _ = tokio::fs::write(folder.join(".failed"), b"").await;
            return;
        }
        if let Err(e) = tokio::fs::remove_dir_all(&folder).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(run = %run_id, error = %e, "the run's workspace could not be removed");
        }
    }

    /// Removes the workspaces of failed runs older than the time they are kept.
    pub(crate) async fn sweep(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.options.root).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let marker = entry.path().join(".failed");
            let Ok(meta) = tokio::fs::metadata(&marker).await else {
                continue;
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            if age >= self.options.keep_failed {
                let _ = tokio::fs::remove_dir_all(entry.path()).await;
            }
        }
    }
}

/// The bytes of every file under `dir` (links not followed).
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match std::fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => size_of(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Writes a template's bundle files under `template` (their modes kept, links kept only when
/// they stay inside the bundle), then the `done` mark.
fn write_bundle(
    template: &Path,
    files: Vec<(String, u32, Vec<u8>)>,
    done: &Path,
) -> std::io::Result<()> {
    std::fs::create_dir_all(template)?;
    for (path, mode, bytes) in files {
        let target = template.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = lever_templates::bundle::BundleFile { mode, bytes };
        if file.is_link() {
            // Checked when the bundle was taken; checked again, as the bytes come from the
            // database: a link never leads out of the template's folder.
            let link = String::from_utf8_lossy(&file.bytes).into_owned();
            if lever_templates::bundle::check_link(&path, &link).is_ok() {
                make_link(&link, &target)?;
            }
            continue;
        }
        std::fs::write(&target, &file.bytes)?;
        set_mode(&target, mode)?;
    }
    std::fs::write(done, b"")
}

#[cfg(unix)]
fn make_link(link: &str, at: &Path) -> std::io::Result<()> {
    match std::os::unix::fs::symlink(link, at) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn make_link(_link: &str, _at: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
