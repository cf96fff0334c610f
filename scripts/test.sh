#!/usr/bin/env bash
# Runs every test: unit tests, the sandbox cases (guests built from source), the API and CLI
# against real `lever serve` processes, and the store on SQLite and on PostgreSQL
# (LEVER_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
# The email tests receive mail with aiosmtpd (PyPI).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
cargo test --workspace "$@"
# The default approval policy's own Rego test suite (`test_` rules), as `opa test` would run it.
cargo run -q -p lever-cli -- policy test
