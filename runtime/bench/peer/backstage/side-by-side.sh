#!/usr/bin/env bash
# Lever and the Backstage scaffolder peer, measured by the same script shape in one run, on the
# same template (templates/peer-3-debug-log.yaml, three debug:log steps), taking turns: Lever
# through its own API (measure-lever.js), Lever through Backstage's scaffolder API
# (/api/scaffolder/v2, driven by the peer's own measure.js unchanged), and Backstage.
#   usage: side-by-side.sh PEER_DIR LEVER_BIN PLUGINS_DIR [TRIALS=2]
# PEER_DIR: a folder setup.sh installed. LEVER_BIN: a release `lever` binary. PLUGINS_DIR: the
# folder of built first-party plugins (it must hold debug_log.wasm).
# Env: as for measure.js / measure-lever.js (DRYRUN_N, SEQ_N, BURST_N, WARMUP_N, POLL_MS, SSE_N).
# Prints one line per system and trial, then the JSON of each run under PEER_DIR/side-by-side/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peer="$(cd "${1:?usage: side-by-side.sh PEER_DIR LEVER_BIN PLUGINS_DIR [TRIALS]}" && pwd)"
lever="${2:?LEVER_BIN}"; plugins="${3:?PLUGINS_DIR}"; trials="${4:-2}"
out="$peer/side-by-side"; mkdir -p "$out"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
line() {  # system trial json-file
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8")), mib = k => k == null ? "-" : (k / 1024).toFixed(0);
    console.log(`${process.argv[1].padEnd(9)} trial ${process.argv[2]} | ${r.dry_run.p50_ms}/${r.dry_run.p99_ms} | ` +
      `${r.task_seq.p50_ms}/${r.task_seq.p99_ms} | ${r.burst.submit_all_ms}/${r.burst.all_completed_ms}, ` +
      `${r.burst.tasks_per_s} | ${mib(r.rss_kib_idle_before)}/${mib(r.rss_kib_after)} | ${r.task_sse ? r.task_sse.p50_ms : "-"}`);
  ' "$1" "$2" "$3"
}
echo "system    trial | dry-run or preview p50/p99 ms | 3-step run p50/p99 ms | burst ${BURST_N:-50} submit/all ms, runs/s | rss MiB idle/after | stream sees completion p50 ms"
# Starts Lever on a fresh data dir with the first-party plugins and the peer template loaded;
# sets data, port, lpid and token (the admin token it printed).
start_lever() {
  data=$(mktemp -d); port=$(free_port)
  mkdir -p "$data/templates"; cp "$here/templates/peer-3-debug-log.yaml" "$data/templates/"
  "$lever" serve --listen "127.0.0.1:$port" --data-dir "$data" --publish "$plugins" --templates "$data/templates" >"$data/serve.log" 2>&1 &
  lpid=$!
  for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  token=$(grep -oE 'lvr_[A-Za-z0-9_-]+' "$data/serve.log" | head -1)
  [ -n "$token" ] || { echo "no admin token in $data/serve.log" >&2; kill "$lpid"; exit 1; }
  sleep 3
}
stop_lever() { kill "$lpid"; wait "$lpid" 2>/dev/null || true; rm -rf "$data"; }
for t in $(seq 1 "$trials"); do
  # Lever through its own API.
  start_lever
  LEVER_URL="http://127.0.0.1:$port" LEVER_TOKEN="$token" node "$here/measure-lever.js" "$lpid" >"$out/lever-$t.json"
  line lever "$t" "$out/lever-$t.json"
  stop_lever

  # Lever again, fresh, driven through /api/scaffolder/v2 by Backstage's measuring script.
  start_lever
  (cd "$peer" && BS_PEER_URL="http://127.0.0.1:$port" BS_PEER_TOKEN="$token" node measure.js templates/peer-3-debug-log.yaml "$lpid") >"$out/lever-bs-$t.json"
  line lever-bs "$t" "$out/lever-bs-$t.json"
  stop_lever

  # The Backstage peer, fresh start.
  "$here/start.sh" "$peer" >/dev/null
  bpid="$(cat "$peer/server.pid")"
  sleep 5
  (cd "$peer" && BS_PEER_TOKEN="${BS_PEER_TOKEN:-peer-static-token-0123456789}" node measure.js templates/peer-3-debug-log.yaml "$bpid") >"$out/backstage-$t.json"
  line backstage "$t" "$out/backstage-$t.json"
  kill "$bpid"; for _ in $(seq 1 40); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.25; done
done
