#!/bin/bash
# The test command of the README and of CI: installs the Debian packages,
# builds, runs the unit, integration (a real smbd is started by the fixture on
# 127.0.0.1) and e2e suites (real FUSE mounts, the fault suite), the pod, chart,
# container image and monitoring tests, the sanitizer runs (ASan+UBSan: unit,
# integration, e2e; TSan: the threaded code and integration), then a short run of
# every fuzz target under ASan+UBSan.
#   tests/run.sh                 everything above
#   tests/run.sh --no-fuzz       skip the fuzz build and run
#   tests/run.sh --no-sanitize   skip the sanitizer builds and runs
#   FUZZ_SECONDS=N               seconds per fuzz target (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz=1
sanitize=1
for a in "$@"; do
  case "$a" in
    --no-fuzz) fuzz=0 ;;
    --no-sanitize) sanitize=0 ;;
    *) echo "tests/run.sh: unknown option $a (use --no-fuzz, --no-sanitize)" >&2; exit 2 ;;
  esac
done

deploy/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMBGATE_WERROR="${SMBGATE_WERROR:-OFF}" >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -L 'unit|integration|e2e' -j2
tests/chart/run.sh
# Sidecar, unprivileged, rotation and host-mount tests with real mounts.
tests/pod/run.sh build
# The container image built with podman (base images by mmdebstrap, no registry) and run
# as the privileged sidecar, in fdpassing mode and for `smbgate check`.
tests/container/run.sh build
tests/monitoring/run.sh build

if [ "$sanitize" = 1 ]; then
  tests/sanitize/run.sh asan tsan
fi

if [ "$fuzz" = 1 ]; then
  FUZZ_JOBS="${FUZZ_JOBS:-2}" tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"
fi
