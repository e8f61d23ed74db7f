#!/usr/bin/env bash
# Soak: the demo's server (release build) for MINUTES minutes at 20× the demo's ingest (a batch
# every 50 ms instead of every second), with 1,000 WebSocket clients following the Kota Pasuruan
# wall that disconnect and reconnect every minute, 50 more that come and go every 10 s, a dataset
# export every 5 s and a snapshot every 30 s. Every minute it samples the server's RSS, the
# memory and row versions of the store's hot tables, open file descriptors, threads, open
# connections, store size, the WebSocket commit-to-client p99 of that minute and the
# export/snapshot p99, and writes them as CSV; at the end it prints the slope of RSS and latency
# after warm-up (first five minutes left out) and draws docs/soak.png.
#
#   bash benches/soak.sh [MINUTES] [OUT.csv]        # default 60, /tmp/pantau-soak.csv
# Needs curl and, for the plot, `pip install matplotlib`. Results: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-60}"
out="${2:-/tmp/pantau-soak.csv}"
port=18500
ulimit -n "$(ulimit -Hn)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked --quiet
bin="$CARGO_TARGET_DIR/release/pantau"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${server:-}" ] && kill -TERM "$server" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Every client comes from 127.0.0.1: lift the per-address caps (the global cap stays on).
export PANTAU__LIVE__MAX_CONNECTIONS_PER_IP=100000
export PANTAU__SERVER__MAX_CONNECTIONS_PER_IP=4096
export PANTAU__SERVER__MAX_CONNECTIONS=4096
export PANTAU__EXPORT__SNAPSHOTS_PER_HOUR=100000
export PANTAU__LOG__LEVEL=warn
PANTAU__SIMULATOR__INTERVAL_MS=50 "$bin" demo --listen "127.0.0.1:$port" --data-dir "$work/data" \
  2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
url="http://127.0.0.1:$port"

# The main crowd: 1,000 wall clients, reconnecting every minute; one JSON report per minute.
(
  while true; do
    "$bin" loadgen --url "ws://127.0.0.1:$port/ws" --dashboard kota-pasuruan-wall \
      --clients 1000 --duration 55 --settle 1 --json > "$work/ws.$(date +%s).json" 2>>"$work/loadgen.log" || true
  done
) &
pids+=($!)
# Churn: 50 clients that connect, follow and leave every 10 s.
(
  while true; do
    "$bin" loadgen --url "ws://127.0.0.1:$port/ws" --topic dashboards/overview/total \
      --clients 50 --duration 8 --settle 0 >/dev/null 2>>"$work/churn.log" || true
  done
) &
pids+=($!)
# Exports every 5 s, snapshots every 30 s: time and status of each.
(
  n=0
  while true; do
    curl -s -o /dev/null -w "export %{http_code} %{time_total}\n" \
      "$url/api/datasets/complaints/export?format=csv&limit=20000" >> "$work/http.log" || true
    if [ $((n % 6)) -eq 0 ]; then
      curl -s -o /dev/null -w "snapshot %{http_code} %{time_total}\n" -X POST \
        -H 'content-type: application/json' \
        -d '{"dashboard":"kota-pasuruan-wall","description":"soak"}' \
        "$url/api/snapshots" >> "$work/http.log" || true
    fi
    n=$((n + 1))
    sleep 5
  done
) &
pids+=($!)

echo "minute,rss_mib,store_heap_mib,store_rows,fds,threads,http_connections,ws_connections,store_mib,store_seq,ws_p99_ms,ws_msgs_per_s,http_p99_ms,http_errors" > "$out"
for minute in $(seq 1 "$minutes"); do
  sleep 60
  rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$server/status")
  threads=$(awk '/Threads/{print $2}' "/proc/$server/status")
  fds=$(ls "/proc/$server/fd" | wc -l)
  metrics=$(curl -fsS "$url/metrics")
  http_conn=$(echo "$metrics" | awk '/^pantau_http_connections /{print $2}')
  ws_conn=$(echo "$metrics" | awk '/^pantau_ws_connections /{print $2}')
  heap=$(echo "$metrics" | awk '/^pantau_store_heap_bytes/{s+=$2} END{printf "%.1f", s/1048576}')
  rows=$(echo "$metrics" | awk '/^pantau_store_rows/{s+=$2} END{print s}')
  store=$(du -sm "$work/data/store" | cut -f1)
  seq=$(curl -fsS "$url/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["checks"]["store"]["seq"])')
  latest=$(ls -t "$work"/ws.*.json 2>/dev/null | sed -n 2p || true)
  if [ -n "$latest" ]; then
    read -r ws_p99 ws_rate < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["latency_ms"]["p99"], round(r["messages_per_second"]))' "$latest")
  else
    ws_p99=""; ws_rate=""
  fi
  read -r http_p99 http_err < <(python3 - "$work/http.log" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1])]
open(sys.argv[1], "w").close()
times = sorted(float(l[2]) * 1000 for l in lines)
errors = sum(1 for l in lines if not l[1].startswith("2"))
p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0
print(round(p99, 1), errors)
PY
)
  echo "$minute,$rss,$heap,$rows,$fds,$threads,$http_conn,$ws_conn,$store,$seq,$ws_p99,$ws_rate,$http_p99,$http_err" | tee -a "$out"
done

panics=$(grep -ci 'panicked' "$work/server.log" || true)
errors=$(grep -c ' ERROR ' "$work/server.log" || true)
echo "server log: $panics panics, $errors error lines"
python3 - "$out" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
warm = [r for r in rows if int(r["minute"]) > 5]
def slope(key):
    pts = [(int(r["minute"]), float(r[key])) for r in warm if r[key] not in ("", None)]
    if len(pts) < 2:
        return float("nan")
    n = len(pts); mx = sum(x for x, _ in pts) / n; my = sum(y for _, y in pts) / n
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
for key, unit in [("rss_mib", "MiB/min"), ("store_heap_mib", "MiB/min"), ("fds", "fds/min"), ("ws_p99_ms", "ms/min"), ("http_p99_ms", "ms/min")]:
    print(f"slope after warm-up, {key}: {slope(key):+.3f} {unit}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    m = [int(r["minute"]) for r in rows]
    fig, ax = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    ax[0].plot(m, [float(r["rss_mib"]) for r in rows], label="RSS")
    ax[0].plot(m, [float(r["store_heap_mib"]) for r in rows], label="store hot tables")
    ax[0].set_ylabel("MiB"); ax[0].legend()
    ax[1].plot(m, [float(r["ws_p99_ms"] or "nan") for r in rows], label="WebSocket p99")
    ax[1].plot(m, [float(r["http_p99_ms"] or "nan") for r in rows], label="export/snapshot p99")
    ax[1].set_ylabel("ms"); ax[1].legend()
    ax[2].plot(m, [float(r["store_mib"]) for r in rows]); ax[2].set_ylabel("store (MiB)")
    ax[2].set_xlabel("minute")
    fig.suptitle("Pantau soak: 20x demo ingest, 1,000 WebSocket clients, exports and snapshots")
    fig.tight_layout(); fig.savefig("docs/soak.png", dpi=80)
    print("plot: docs/soak.png")
except ImportError:
    print("no matplotlib: no plot")
PY
