//! Builds the wasm32-wasip2 components the tests need, once per test process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::repo_root;

fn build(manifest: &Path) -> PathBuf {
    let dir = manifest.parent().expect("manifest has a parent");
    let status = crate::cargo()
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .status()
        .expect("run cargo to build the guests");
    assert!(
        status.success(),
        "building {} for wasm32-wasip2 failed; is the target installed? (rustup target add wasm32-wasip2)",
        manifest.display()
    );
    dir.join("target/wasm32-wasip2/release")
}

/// The directory holding the guest fixtures (`tests/guests`), built.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build(&repo_root().join("tests/guests/Cargo.toml")))
}

/// The directory holding the first-party plugins (`plugins/`), built.
pub fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build(&repo_root().join("plugins/Cargo.toml")))
}

/// The bytes of guest fixture `name` (`sandbox_panic`...).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The bytes of first-party plugin `name` (`debug_log`...).
pub fn plugin(name: &str) -> Vec<u8> {
    let path = plugins_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `bytes` with a custom section appended: a different digest, the same behaviour.
pub fn with_custom_section(bytes: &[u8], note: &str) -> Vec<u8> {
    let name = b"lever-test";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(note.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    let mut len = payload.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&payload);
    out
}
