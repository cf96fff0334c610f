//! Test support: builds the guest fixtures and the `lever` binary, spawns real servers,
//! and hands out fresh SQLite and PostgreSQL databases.

pub mod adapters;
pub mod browser;
pub mod databases;
pub mod fakes;
pub mod forms;
pub mod guests;
pub mod server;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
