#!/usr/bin/env bash
# Builds the first-party plugins and runs `lever serve` on the embedded SQLite database in
# ./.lever, publishing them and applying the demo templates (demo/templates) at start.
# Extra arguments go to `lever serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
CARGO_TARGET_DIR=plugins/target cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
exec cargo run -p lever-cli --bin lever -- serve --publish plugins/target/wasm32-wasip2/release --templates demo/templates "$@"
