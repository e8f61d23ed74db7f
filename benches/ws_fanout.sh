#!/usr/bin/env bash
# WebSocket fan-out benchmark: N real clients follow the Kota Pasuruan wall dashboard (every panel's
# topic, as a wall screen does) while the simulator ingests.
# Usage: bash benches/ws_fanout.sh [CLIENTS] [SECONDS]     (results: see docs/performance.md)
#        INTERVAL_MS=50 FOLLOW_TOPIC=dashboards/overview/total bash benches/ws_fanout.sh   (one topic)
# Runs two servers in turn on 127.0.0.1 only:
#   idle — no simulator: server memory per connected, subscribed, idle client;
#   live — the demo with the simulator committing a batch every INTERVAL_MS (250 ms by default:
#          four commits a second, each moving several of the dashboard's panels): delivery rate
#          and latency.
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-5000}"
seconds="${2:-30}"
interval_ms="${INTERVAL_MS:-250}"
# What every client follows: the wall dashboard (all its panels), or one topic with FOLLOW_TOPIC.
if [ -n "${FOLLOW_TOPIC:-}" ]; then follow=(--topic "$FOLLOW_TOPIC"); else follow=(--dashboard kota-pasuruan-wall); fi
port_idle=18090
port_live=18091
ulimit -n "$(ulimit -Hn)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/pantau"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Every client comes from 127.0.0.1: lift the per-address and total connection caps.
export PANTAU__LIVE__MAX_CONNECTIONS_PER_IP=100000
export PANTAU__SERVER__MAX_CONNECTIONS=200000
export PANTAU__SERVER__MAX_CONNECTIONS_PER_IP=200000
export PANTAU__LOG__LEVEL=warn

wait_ready() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not become ready" >&2; exit 1
}

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(git rev-parse --short HEAD)"

echo "== idle: $clients clients, no data flowing"
cat > "$work/idle.toml" <<TOML
[server]
listen = "127.0.0.1:$port_idle"
[access]
anonymous = "wall"
TOML
"$bin" serve --config "$work/idle.toml" --data-dir "$work/idle" 2>"$work/idle.log" &
server=$!
wait_ready $port_idle
"$bin" loadgen --url "ws://127.0.0.1:$port_idle/ws" "${follow[@]}" --clients "$clients" --duration 3 --settle 3
kill -TERM "$server"; wait "$server" || true; server=""

echo "== live: $clients clients, simulator committing every $interval_ms ms, ${seconds} s"
PANTAU__SIMULATOR__INTERVAL_MS="$interval_ms" "$bin" demo --listen "127.0.0.1:$port_live" --data-dir "$work/live" 2>"$work/live.log" &
server=$!
wait_ready $port_live
"$bin" loadgen --url "ws://127.0.0.1:$port_live/ws" "${follow[@]}" --clients "$clients" --duration "$seconds" --settle 2
kill -TERM "$server"; wait "$server" || true; server=""
