//! The Backstage corpus as bundles: a template of `tests/corpus/backstage-templates` with the
//! files its fetch steps read, from its repository in `tests/corpus/backstage-repos`.

use lever_templates::bundle::Bundle;

use crate::repo_root;

/// The embedded demo configuration with the payments team allowed to run every template (the
/// corpus templates are owned upstream by others) and `bindings` (a YAML mapping's lines,
/// indented two spaces) as its `bindings:` section.
pub fn config_with_bindings(bindings: &str) -> String {
    let people = lever_identity::EMBEDDED_CONFIG
        .split("\nbindings:")
        .next()
        .unwrap_or_default()
        .replace(
            "runs: {owners: [\"group:default/payments\", \"payments\"], tags: [payments, recommended]}",
            "runs: {owners: [\"*\"]}",
        );
    format!("{people}\nbindings:\n{bindings}")
}

/// The corpus template `file` (a file name of `tests/corpus/backstage-templates`) as a bundle
/// of its repository folder: the template at its path there, and its skeleton folders.
pub fn corpus_bundle(file: &str) -> Bundle {
    let text = std::fs::read(
        repo_root()
            .join("tests/corpus/backstage-templates")
            .join(file),
    )
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    let repository = file.splitn(3, "__").take(2).collect::<Vec<_>>().join("__");
    let root = repo_root()
        .join("tests/corpus/backstage-repos")
        .join(&repository);
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path).is_ok_and(|bytes| bytes == text) {
                return Bundle::from_dir(&root, &path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
    panic!("{file} is not in tests/corpus/backstage-repos/{repository}")
}
