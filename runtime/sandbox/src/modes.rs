//! File modes across the WASI boundary. WASI has no permission bits, yet a skeleton's
//! `gradlew` must stay executable from the bundle to the published repository. So the host
//! tells a guest which files of its directories are executable (`LEVER_TEMPLATE_EXECUTABLES`,
//! `LEVER_WORKSPACE_EXECUTABLES`: one path a line, relative to `/template` and `/workspace`),
//! and after the call applies the marks the guest left in `/workspace/.lever-executables`
//! (one workspace path a line), then removes that file.

use std::path::{Component, Path};

/// The file a guest lists the workspace files it made executable in.
pub const MARKS: &str = ".lever-executables";

/// Every executable regular file under `dir`, relative and `/`-separated, one a line.
pub(crate) fn executables(dir: &Path) -> String {
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found.join("\n")
}

#[cfg(unix)]
fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let path = entry.path();
        if meta.is_dir() {
            walk(root, &path, found);
        } else if meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
            && let Ok(relative) = path.strip_prefix(root)
        {
            found.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[cfg(not(unix))]
fn walk(_root: &Path, _dir: &Path, _found: &mut Vec<String>) {}

/// Applies and removes the guest's marks in `workspace`. A mark that leaves the directory,
/// names a symbolic link or no regular file is ignored: the guest could only have written
/// such a path itself, and nothing outside its workspace changes.
pub(crate) fn apply_marks(workspace: &Path) {
    let marks = workspace.join(MARKS);
    let Ok(text) = std::fs::read_to_string(&marks) else {
        return;
    };
    let _ = std::fs::remove_file(&marks);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let relative = Path::new(line.trim_start_matches("/workspace/"));
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            continue;
        }
        // Every ancestor must be a real directory, not a link out of the workspace.
        let mut at = workspace.to_path_buf();
        let mut inside = true;
        for part in relative.components() {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if !meta.file_type().is_symlink() => {}
                _ => {
                    inside = false;
                    break;
                }
            }
        }
        if inside {
            make_executable(&at);
        }
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_file()
    {
        let mode = meta.permissions().mode() | 0o111;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn marks_inside_apply_and_marks_outside_do_not() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("lever-modes-{}", std::process::id()));
        let work = root.join("work");
        std::fs::create_dir_all(work.join("bin")).unwrap();
        std::fs::write(work.join("bin/run"), "#!/bin/sh\n").unwrap();
        std::fs::write(root.join("outside"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("outside"), work.join("link")).unwrap();
        std::fs::write(work.join(MARKS), "bin/run\n../outside\nlink\n").unwrap();
        apply_marks(&work);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o111;
        assert_ne!(mode(&work.join("bin/run")), 0);
        assert_eq!(mode(&root.join("outside")), 0);
        assert!(!work.join(MARKS).exists());
        assert_eq!(executables(&work), "bin/run");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
