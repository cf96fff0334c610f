#!/usr/bin/env bash
# Vendors the WASI WIT packages that the host's wasmtime-wasi-http implements, byte for byte,
# from that crate's own source in the cargo registry. Never edit wit/deps/wasi-* by hand:
# bump wasmtime in Cargo.toml and run this script again.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(cargo metadata --format-version 1 | python3 -c '
import json, sys, os
meta = json.load(sys.stdin)
pkg = next(p for p in meta["packages"] if p["name"] == "wasmtime-wasi-http")
print(os.path.join(os.path.dirname(pkg["manifest_path"]), "wit", "deps"))')
rm -rf wit/deps/wasi-*
for file in "$src"/*.wit; do
  name=$(basename "$file" .wit)
  version=$(sed -n 's/^package wasi:[a-z-]*@\([0-9.]*\);/\1/p' "$file" | head -n 1)
  mkdir -p "wit/deps/wasi-$name@$version"
  cp "$file" "wit/deps/wasi-$name@$version/$name.wit"
done
echo "vendored WASI WIT from $src"
