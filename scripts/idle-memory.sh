#!/usr/bin/env bash
# The idle memory figure of BENCHMARKS.md: `lever serve` on a data dir publishing the first-party
# plugins (built: plugins/target/wasm32-wasip2/release) and the demo templates, its VmRSS and
# VmHWM five seconds after it answers /healthz.
#   scripts/idle-memory.sh BINARY fresh     # a new data dir: every plugin compiled at start
#   scripts/idle-memory.sh BINARY restart   # the same data dir again: compiled code from the cache
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$1
mode=${2:-fresh}
data=${IDLE_MEMORY_DIR:-/tmp/lever-idle-memory}
[ "$mode" = fresh ] && rm -rf "$data"
mkdir -p "$data"
"$binary" serve --data-dir "$data" --listen 127.0.0.1:7979 \
  --publish plugins/target/wasm32-wasip2/release --templates demo/templates >"$data.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf http://127.0.0.1:7979/healthz >/dev/null && break
  sleep 0.2
done
sleep 5
grep -E "VmRSS|VmHWM" "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' '
echo
