//! The run's workspace as Backstage's actions use it: `/workspace`, paths resolved inside it
//! (Backstage's `resolveSafeChildPath`), files read with their executable bit (the host lists
//! executable files in `LEVER_*_EXECUTABLES`, since WASI has no modes) and marked executable
//! for the host to apply (`.lever-executables`); symbolic links read from the host's list
//! (`LEVER_*_LINKS`) and made by the host from the guest's marks (`.lever-links`), as stable
//! Rust on WASI cannot make one.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use lever_sdk::ActionError;
use lever_sdk::capabilities::git_provider::TreeFile;

/// The workspace, as the guest sees it.
pub const ROOT: &str = "/workspace";
/// The bundle, as the guest sees it.
pub const TEMPLATE_ROOT: &str = "/template";
/// Where the host reads the files a guest made executable (`runtime/sandbox/src/modes.rs`).
const MARKS: &str = ".lever-executables";
/// Where the host reads the links a guest asks for.
const LINK_MARKS: &str = ".lever-links";

/// One file, as actions move them: path relative to its tree, bytes, executable bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated, relative.
    pub path: String,
    /// Content.
    pub bytes: Vec<u8>,
    /// Mode 755 rather than 644.
    pub executable: bool,
    /// A symbolic link: `bytes` are its target.
    pub link: bool,
}

/// The workspace, or an error saying the action needs one.
pub fn require() -> Result<(), ActionError> {
    if Path::new(ROOT).is_dir() {
        Ok(())
    } else {
        Err(ActionError::Fatal(
            "this action works on the run's workspace, which only template runs have; run it as a step of a template".into(),
        ))
    }
}

/// `relative` normalised (`.` and `a/../b` folded) and kept inside its root: `Err` when it is
/// absolute or climbs out, as Backstage's `resolveSafeChildPath` refuses it.
pub fn safe_relative(relative: &str, what: &str) -> Result<String, ActionError> {
    let mut parts: Vec<String> = Vec::new();
    let path = Path::new(relative);
    for component in path.components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(ActionError::InvalidInput(format!(
                        "{what} `{relative}` leaves the workspace; give a path inside it"
                    )));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(ActionError::InvalidInput(format!(
                    "{what} `{relative}` is absolute; give a path relative to the workspace"
                )));
            }
        }
    }
    Ok(parts.join("/"))
}

/// The workspace path of `relative` (already [`safe_relative`]).
pub fn path(relative: &str) -> PathBuf {
    if relative.is_empty() {
        PathBuf::from(ROOT)
    } else {
        Path::new(ROOT).join(relative)
    }
}

fn listed(variable: &str) -> Vec<String> {
    std::env::var(variable)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every file under `dir` (inside `root`: `/workspace` or `/template`), sorted, with the
/// executable bit the host listed. Symbolic links are not followed.
pub fn read_tree(root: &str, dir: &Path) -> Result<Vec<Entry>, ActionError> {
    let executables = listed(if root == ROOT {
        "LEVER_WORKSPACE_EXECUTABLES"
    } else {
        "LEVER_TEMPLATE_EXECUTABLES"
    });
    let mut out = Vec::new();
    walk(root, dir, dir, &executables, &mut out)?;
    let links = std::env::var(if root == ROOT {
        "LEVER_WORKSPACE_LINKS"
    } else {
        "LEVER_TEMPLATE_LINKS"
    })
    .unwrap_or_default();
    // The host's list is relative to the root; keep those under `dir`, relative to it.
    let under = dir
        .strip_prefix(root)
        .unwrap_or(Path::new(""))
        .to_string_lossy()
        .replace('\\', "/");
    for line in links.lines() {
        let Some((path, target)) = line.split_once('\t') else {
            continue;
        };
        let relative = if under.is_empty() {
            Some(path)
        } else {
            path.strip_prefix(&format!("{under}/"))
        };
        if let Some(relative) = relative {
            out.push(Entry {
                path: relative.to_string(),
                bytes: target.as_bytes().to_vec(),
                executable: false,
                link: true,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(
    root: &str,
    base: &Path,
    dir: &Path,
    executables: &[String],
    out: &mut Vec<Entry>,
) -> Result<(), ActionError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ActionError::Fatal(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| ActionError::Fatal(format!("cannot read {}: {e}", dir.display())))?;
        let file_path = entry.path();
        let meta = std::fs::symlink_metadata(&file_path)
            .map_err(|e| ActionError::Fatal(format!("cannot read {}: {e}", file_path.display())))?;
        if meta.is_dir() {
            walk(root, base, &file_path, executables, out)?;
        } else if meta.is_file() {
            let relative = file_path
                .strip_prefix(base)
                .unwrap_or(&file_path)
                .to_string_lossy()
                .replace('\\', "/");
            let from_root = file_path
                .strip_prefix(root)
                .unwrap_or(&file_path)
                .to_string_lossy()
                .replace('\\', "/");
            if root == ROOT && (from_root == MARKS || from_root == LINK_MARKS) {
                continue;
            }
            let bytes = std::fs::read(&file_path).map_err(|e| {
                ActionError::Fatal(format!("cannot read {}: {e}", file_path.display()))
            })?;
            out.push(Entry {
                executable: executables.contains(&from_root),
                path: relative,
                bytes,
                link: false,
            });
        }
    }
    Ok(())
}

/// Writes `entry` at workspace path `relative` (parents made): a file, marked executable when
/// it is, or a symbolic link the host makes after the call.
pub fn write_entry(relative: &str, entry: &Entry) -> Result<(), ActionError> {
    if !entry.link {
        return write(relative, &entry.bytes, entry.executable);
    }
    let target = String::from_utf8_lossy(&entry.bytes);
    if target.contains(['\t', '\n']) {
        return Err(ActionError::InvalidInput(format!(
            "the link {relative} has a target the workspace cannot hold"
        )));
    }
    let at = path(relative);
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ActionError::Fatal(format!("cannot create {}: {e}", parent.display())))?;
    }
    append_mark(LINK_MARKS, &format!("{relative}\t{target}"), relative)
}

fn append_mark(file: &str, line: &str, relative: &str) -> Result<(), ActionError> {
    use std::io::Write as _;
    let mut marks = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(ROOT).join(file))
        .map_err(|e| ActionError::Fatal(format!("cannot record {relative}: {e}")))?;
    writeln!(marks, "{line}")
        .map_err(|e| ActionError::Fatal(format!("cannot record {relative}: {e}")))
}

/// Writes `bytes` at workspace path `relative` (parents made) and marks it executable when
/// asked.
pub fn write(relative: &str, bytes: &[u8], executable: bool) -> Result<(), ActionError> {
    let target = path(relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ActionError::Fatal(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&target, bytes)
        .map_err(|e| ActionError::Fatal(format!("cannot write {relative}: {e}")))?;
    if executable {
        append_mark(MARKS, relative, relative)?;
    }
    Ok(())
}

/// The files to commit: `entries` under `prefix` in the repository, base64-encoded.
pub fn tree_files(entries: &[Entry], prefix: &str) -> Vec<TreeFile> {
    let prefix = prefix.trim_matches('/');
    entries
        .iter()
        .map(|e| TreeFile {
            path: if prefix.is_empty() || prefix == "." {
                e.path.clone()
            } else {
                format!("{prefix}/{}", e.path)
            },
            content_base64: base64::engine::general_purpose::STANDARD.encode(&e.bytes),
            executable: e.executable,
            link: e.link,
        })
        .collect()
}

/// Downloaded files back into entries; a file whose content is not base64 is an error of
/// the adapter, named.
pub fn entries(files: Vec<TreeFile>) -> Result<Vec<Entry>, ActionError> {
    files
        .into_iter()
        .map(|f| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f.content_base64.as_bytes())
                .map_err(|e| {
                    ActionError::Fatal(format!("the provider sent {} not base64: {e}", f.path))
                })?;
            Ok(Entry {
                path: f.path,
                bytes,
                executable: f.executable,
                link: f.link,
            })
        })
        .collect()
}

/// The files of the workspace (or of its `source_path`) to publish.
pub fn publishable(source_path: Option<&str>) -> Result<Vec<Entry>, ActionError> {
    require()?;
    let relative = safe_relative(source_path.unwrap_or("."), "sourcePath")?;
    let dir = path(&relative);
    if !dir.is_dir() {
        return Err(ActionError::InvalidInput(format!(
            "sourcePath `{}` is not a folder of the workspace",
            source_path.unwrap_or(".")
        )));
    }
    let mut entries = read_tree(ROOT, &dir)?;
    // A published repository never carries a `.git` folder from a fetched one.
    entries.retain(|e| !e.path.starts_with(".git/"));
    Ok(entries)
}
