//! File modes and symbolic links across the WASI boundary. WASI has no permission bits, yet a
//! skeleton's `gradlew` must stay executable from the bundle to the published repository; and
//! a guest on stable Rust cannot make a symbolic link. So the host tells a guest which files
//! of its directories are executable (`LEVER_TEMPLATE_EXECUTABLES`,
//! `LEVER_WORKSPACE_EXECUTABLES`: one path a line, relative to `/template` and `/workspace`)
//! and which are links (`LEVER_TEMPLATE_LINKS`, `LEVER_WORKSPACE_LINKS`: `path<TAB>target` a
//! line), and after the call applies the marks the guest left in `/workspace/.lever-executables`
//! (one workspace path a line) and `/workspace/.lever-links` (`path<TAB>target` a line), then
//! removes those files. A link is made only when its target is relative and stays in the
//! workspace, so a guest can never reach out of it through one.

use std::path::{Component, Path};

/// The file a guest lists the workspace files it made executable in.
pub const MARKS: &str = ".lever-executables";
/// The file a guest lists the symbolic links it asks for in.
pub const LINK_MARKS: &str = ".lever-links";

/// Whether `target`, read from the folder `from` (relative to the root), stays under the root.
fn stays_inside(from: &Path, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.starts_with('\\') {
        return false;
    }
    let mut depth = from.components().count();
    for part in target.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if depth == 0 => return false,
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    true
}

/// Every symbolic link under `dir` whose target stays inside it: `path<TAB>target` a line.
pub(crate) fn links(dir: &Path) -> String {
    let mut found = Vec::new();
    walk_links(dir, dir, &mut found);
    found.sort();
    found.join("\n")
}

fn walk_links(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        if kind.is_dir() {
            walk_links(root, &path, found);
        } else if kind.is_symlink()
            && let Ok(target) = std::fs::read_link(&path)
        {
            let target = target.to_string_lossy().into_owned();
            let folder = relative.parent().unwrap_or(Path::new(""));
            if stays_inside(folder, &target) && !target.contains(['\t', '\n']) {
                found.push(format!(
                    "{}\t{target}",
                    relative.to_string_lossy().replace('\\', "/")
                ));
            }
        }
    }
}

/// Makes and removes the links the guest asked for in `workspace` (`.lever-links`). A link
/// whose path leaves the workspace, passes through a link, or names a folder, or whose target
/// is absolute or climbs out, is not made.
pub(crate) fn apply_link_marks(workspace: &Path) {
    let marks = workspace.join(LINK_MARKS);
    let Ok(text) = std::fs::read_to_string(&marks) else {
        return;
    };
    let _ = std::fs::remove_file(&marks);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((path, target)) = line.split_once('\t') else {
            continue;
        };
        let relative = Path::new(path.trim().trim_start_matches("/workspace/"));
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            continue;
        }
        let folder = relative.parent().unwrap_or(Path::new(""));
        if !stays_inside(folder, target) || !real_folders(workspace, folder) {
            continue;
        }
        let at = workspace.join(relative);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => {
                let _ = std::fs::remove_file(&at);
            }
            Err(_) => {}
        }
        make_link(target, &at);
    }
}

/// Whether every folder of `folder` under `root` exists and is a real folder, not a link.
fn real_folders(root: &Path, folder: &Path) -> bool {
    let mut at = root.to_path_buf();
    folder.components().all(|part| {
        at.push(part);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir())
    })
}

#[cfg(unix)]
fn make_link(target: &str, at: &Path) {
    let _ = std::os::unix::fs::symlink(target, at);
}

#[cfg(not(unix))]
fn make_link(_target: &str, _at: &Path) {}

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
        // Links are not followed: a link to `..` would walk forever.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
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

    #[cfg(unix)]
    #[test]
    fn links_inside_are_made_and_listed_and_links_out_are_not() {
        let root = std::env::temp_dir().join(format!("lever-links-{}", std::process::id()));
        let work = root.join("work");
        std::fs::create_dir_all(work.join("docs")).unwrap();
        std::fs::write(work.join("README.md"), "# x\n").unwrap();
        std::fs::write(work.join("docs/old"), "a file a link replaces").unwrap();
        std::os::unix::fs::symlink("..", work.join("up")).unwrap();
        std::fs::write(
            work.join(LINK_MARKS),
            "docs/index.md\t../README.md\ndocs/old\t../README.md\nout\t../outside\nabs\t/etc/passwd\nup/through\tREADME.md\n../x\tREADME.md\n",
        )
        .unwrap();
        apply_link_marks(&work);
        let target = |p: &str| std::fs::read_link(work.join(p)).ok();
        assert_eq!(target("docs/index.md"), Some("../README.md".into()));
        assert_eq!(target("docs/old"), Some("../README.md".into()));
        assert_eq!(target("out"), None);
        assert_eq!(target("abs"), None);
        assert!(!root.join("through").exists());
        assert!(!root.join("x").exists());
        assert!(!work.join(LINK_MARKS).exists());
        // `up` leads out of the workspace: it is not listed; the walk does not follow it.
        assert_eq!(
            links(&work),
            "docs/index.md\t../README.md\ndocs/old\t../README.md"
        );
        assert_eq!(executables(&work), "");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
