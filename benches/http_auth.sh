#!/usr/bin/env bash
# Token-authenticated HTTP requests per second against a release `pantau serve`, measured with
# wrk on this machine (server and load generator share its cores). Three runs each of:
#   token   — a database token (made by `pantau token create`) in the Authorization header
#   file    — a token from access.tokens_file
#   session — a local account's session cookie (after `pantau user add` and a login)
#   open    — no token, access.anonymous = "pimpinan" (the same route without a token lookup)
# on GET /api/dashboards/kota-pasuruan-wall (the guard, then a JSON answer of the dashboard).
# Usage: bash benches/http_auth.sh   (needs `cargo build --release` first and Debian's wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CARGO_TARGET_DIR:-target}/release/pantau"
DIR="$(mktemp -d)"
trap 'kill "${PID:-0}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
FILE_TOKEN="bench-file-token-0123456789abcdef"
echo "admin $FILE_TOKEN" > "$DIR/tokens"
serve() {
  cat > "$DIR/pantau.toml" <<TOML
[server]
listen = "127.0.0.1:18181"
[access]
anonymous = "$1"
tokens_file = "$DIR/tokens"
[log]
level = "warn"
TOML
  "$BIN" serve --config "$DIR/pantau.toml" --data-dir "$DIR/data" 2>>"$DIR/server.log" &
  PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18181/readyz >/dev/null && return; sleep 0.2; done
  echo "server did not start"; cat "$DIR/server.log"; exit 1
}
measure() {
  local label=$1; shift
  for run in 1 2 3; do
    rps=$(wrk -t2 -c64 -d10s "$@" http://127.0.0.1:18181/api/dashboards/kota-pasuruan-wall \
      | awk '/Requests\/sec/ {print $2}')
    echo "$label run $run: $rps requests/s"
  done
}
DB_TOKEN=$("$BIN" token create bench --role pimpinan --data-dir "$DIR/data" 2>/dev/null)
serve none
curl -sf -H "Authorization: Bearer $DB_TOKEN" http://127.0.0.1:18181/api/dashboards/kota-pasuruan-wall >/dev/null
measure token -H "Authorization: Bearer $DB_TOKEN"
measure file -H "Authorization: Bearer $FILE_TOKEN"
# A session: log in with the one-time password, choose a password, then use the cookie.
OTP=$("$BIN" user add bench.user --role pimpinan --data-dir "$DIR/data" 2>/dev/null)
curl -sf -c "$DIR/jar" -H 'Content-Type: application/json' \
  -d "{\"name\":\"bench.user\",\"password\":\"$OTP\"}" http://127.0.0.1:18181/api/session >/dev/null
CSRF=$(awk '$6 == "pantau_csrf" {print $7}' "$DIR/jar")
SESSION=$(awk '$6 == "pantau_session" {print $7}' "$DIR/jar")
curl -sf -b "$DIR/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
  -d "{\"current\":\"$OTP\",\"new\":\"bench password 2027\"}" http://127.0.0.1:18181/api/session/password
curl -sf -H "Cookie: pantau_session=$SESSION" http://127.0.0.1:18181/api/dashboards/kota-pasuruan-wall >/dev/null
measure session -H "Cookie: pantau_session=$SESSION"
kill $PID; wait $PID 2>/dev/null || true
serve pimpinan
measure open
