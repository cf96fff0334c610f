//! Test support: builds the guest fixtures and the `lever` binary, spawns real servers,
//! and hands out fresh SQLite and PostgreSQL databases.

pub mod adapters;
pub mod browser;
pub mod corpus;
pub mod databases;
pub mod fakes;
pub mod forms;
pub mod guests;
pub mod openbao;
pub mod proxy;
pub mod server;

use std::path::PathBuf;
use std::process::Command;

/// Step `id` of a run as the API answers it (`GET /api/v1/runs/{id}`).
pub fn step<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["steps"]
        .as_array()
        .expect("a template run's steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {run:#}"))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `cargo`, as the test process was started by, without the variables `cargo test` sets for
/// the test itself (`CARGO_PKG_*`, `CARGO_MANIFEST_*`, `LD_LIBRARY_PATH`…): a build run with
/// them fingerprints differently from the same build run from a shell, and would recompile
/// the workspace's dependencies on every test run.
pub fn cargo() -> Command {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_for_the_test = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name,
                "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_BIN_NAME"
                    | "LD_LIBRARY_PATH"
                    | "OUT_DIR"
                    | "RUST_RECURSION_COUNT"
            );
        if set_for_the_test {
            command.env_remove(name);
        }
    }
    command
}
