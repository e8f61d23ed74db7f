#!/usr/bin/env bash
# Builds the fuzz targets (cargo-fuzz, libFuzzer, overflow checks on, no sanitizer: Pantau's
# readers are safe Rust, so a crash is a panic, an abort or a broken promise, which libFuzzer
# catches without ASan) and runs each for RUNS executions or MAX seconds, whichever comes first,
# JOBS at a time, starting from the committed seeds in fuzz/corpus/<target>/. New inputs go to
# fuzz/corpus-work/<target>/ (not committed); a crash lands in fuzz/artifacts/<target>/ — copy it to
# fuzz/regressions/<target>/ once fixed, and `cargo test --test it -- fuzz` replays it for ever.
# Prints one line per target: executions, seconds, coverage, crashes.
#
#   cargo install cargo-fuzz                     # once
#   bash fuzz/run.sh [RUNS] [MAX_SECONDS] [JOBS] [TARGET...]   # default 10000000 3600 2, every target
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-10000000}"
max="${2:-3600}"
jobs="${3:-2}"
shift $(( $# < 3 ? $# : 3 ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/pantau/fuzz-target}"
# cargo-fuzz passes `-Z` flags; the machine's stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
# FUZZ_BIN: run already built targets from there (e.g. a copy, while a rebuild goes on).
bin="${FUZZ_BIN:-}"
if [ -z "$bin" ]; then
  cargo fuzz build --sanitizer none --debug-assertions
  bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
fi
mkdir -p logs
run_one() {
  local t="$1"
  mkdir -p "corpus-work/$t" "artifacts/$t"
  "$bin/$t" "corpus-work/$t" "corpus/$t" -runs="$runs" -max_total_time="$max" \
    -max_len=65536 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" > "logs/$t.log" 2>&1 || true
  local execs secs cov crashes
  execs=$(awk -F: '/stat::number_of_executed_units/{gsub(/ /,"",$2); print $2}' "logs/$t.log")
  secs=$(awk -F: '/stat::average_exec_per_sec/{gsub(/ /,"",$2); print $2}' "logs/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | cut -d' ' -f2)
  crashes=$(ls "artifacts/$t" | wc -l)
  printf '%-16s execs=%s exec/s=%s cov=%s crashes=%s\n' "$t" "${execs:-?}" "${secs:-?}" "${cov:-?}" "$crashes"
}
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
