#!/bin/bash
# Builds the libFuzzer targets with clang, ASan and UBSan, and runs each for
# a few seconds from its seed corpus. Any finding fails the run.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]     FUZZ_JOBS=N runs N targets at once
#                                              (default 1); FUZZ_KEEP=DIR keeps the logs;
#                                              FUZZ_TIMEOUT=S per input (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-15}"

cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSMBGATE_FUZZ=ON \
  -DSMBGATE_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(find tests/fuzz -maxdepth 1 -name '*_fuzz.cc' -printf '%f\n' | sed 's/\.cc$//' | sort)
[ -n "$targets" ] || { echo "fuzz: no targets"; exit 0; }
# shellcheck disable=SC2086
cmake --build build-fuzz --target $targets

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=${FUZZ_JOBS:-1}
# One target: its log in $work, its verdict line in $work/$t.result.
fuzz_one() {
  local t=$1 corpus="$work/$1"
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$corpus/"
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "build-fuzz/tests/fuzz/$t" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$work/$t." "$corpus" >"$work/$t.log" 2>&1; then
    echo "fuzz $t: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$t.log" | awk '{print $2}' || true) runs, $(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1) edges, $secs s)" >"$work/$t.result"
  else
    { echo "fuzz $t: FAILED"; tail -40 "$work/$t.log"; } >"$work/$t.result"
  fi
}
running=0
for t in $targets; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
passed=0
failed=0
for t in $targets; do
  cat "$work/$t.result"
  if grep -q '^fuzz .*: ok' "$work/$t.result"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
[ -n "${FUZZ_KEEP:-}" ] && mkdir -p "$FUZZ_KEEP" && cp "$work"/*.log "$work"/*.result "$FUZZ_KEEP/" 2>/dev/null
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
