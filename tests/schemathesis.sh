#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI) against /api/openapi.json of a real `pantau serve` with the
# simulator, every request needing a token. Runs every check schemathesis has, with an admin
# token (and, by its `ignored_auth` check, without one and with a wrong one). See
# docs/reliability.md for the figures of the last run.
#
#   pip install schemathesis
#   bash tests/schemathesis.sh [SECONDS]      # default 300
set -euo pipefail
seconds="${1:-300}"
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --locked --quiet
bin="$target/debug/pantau"
work="$(mktemp -d)"
port=18412
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/pantau.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
[data]
dir = "$work/data"
[simulator]
enabled = true
[access]
anonymous = "none"
# The wrong-token checks would otherwise make this address wait out every minute
# (429 too_many_failures), and nothing else would be tested.
max_failures_per_minute = 100000
EOF
secret="$("$bin" token create schemathesis --role admin --config "$work/pantau.toml" 2>/dev/null \
  | grep -o 'pantau_[0-9a-f]*' | head -1)"
"$bin" serve --config "$work/pantau.toml" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do
  curl -fs -o /dev/null -H "Authorization: Bearer $secret" "http://127.0.0.1:$port/readyz" && break
  sleep 0.5
done
# DELETE is left out: the stateful phase would revoke the run's own token (it may), and every
# later request would be a 401.
st run "http://127.0.0.1:$port/api/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance \
  --exclude-method DELETE \
  --max-time "$seconds" --workers 2 --continue-on-failure \
  -H "Authorization: Bearer $secret"
if grep -qi 'panicked' "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -i -A5 'panicked' "$work/server.log" >&2
  exit 1
fi
