#!/bin/bash
# Opt-in load and endurance (not in the default CI run; about 1.5 hours on 2 cores):
#   1. tests/load/load_test.py: 64 processes of mixed I/O on one mount for 10 minutes
#      (errors, wrong reads, the daemon's RSS) and 50 mounts authenticating against one
#      smbd at once (authentication p50/p95/max, one attempt per mount);
#   2. every fuzz target for 10 minutes (tests/fuzz/run.sh 600).
#   tests/load/run.sh [BUILD_DIR]          LOAD_MINUTES, LOAD_PROCS, LOAD_MOUNTS, FUZZ_SECONDS
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
[ -x "$build/smbgate" ] || { echo "tests/load/run.sh: $build/smbgate is missing (build first)" >&2; exit 2; }
status=0
/usr/bin/python3 tests/load/load_test.py "$build" --minutes "${LOAD_MINUTES:-10}" --procs "${LOAD_PROCS:-64}" \
  --mounts "${LOAD_MOUNTS:-50}" || status=1
# Per input 60 s, not 10: on a busy 2-core machine a starved fuzzer otherwise reports
# "timeouts" that take 0.5 s when run again (seen here).
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-60}" FUZZ_JOBS="${FUZZ_JOBS:-2}" tests/fuzz/run.sh "${FUZZ_SECONDS:-600}" || status=1
exit $status
