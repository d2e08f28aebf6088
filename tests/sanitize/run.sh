#!/bin/bash
# The sanitizer runs of CI:
#   asan  an ASan+UBSan build (-O1) running the unit, integration and e2e tests (the fault
#         suite with a 256 MiB copy instead of 1 GiB);
#   tsan  a ThreadSanitizer build running the tests of the threaded code: the client's
#         unit tests (connection, credits, encryption: Asio threads), the FUSE layer's,
#         and the integration tests against a real smbd. The pure single-threaded code
#         (auth, codec) gains nothing from TSan and is left to the asan run.
# The CSI driver (gRPC) is left out of both: its test runs in the main build.
#   tests/sanitize/run.sh [asan] [tsan]        (default both; root for smbd and FUSE)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(asan tsan)
common=(-G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DSMBGATE_CSI=OFF)

for run in "${runs[@]}"; do
  case "$run" in
    asan)
      cmake -S . -B build-asan "${common[@]}" -DSMBGATE_SANITIZE=ON >/dev/null
      cmake --build build-asan
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_init_order=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      SMBGATE_FAULT_BIG_MIB=256 \
        ctest --test-dir build-asan --output-on-failure -L 'unit|integration|e2e' -j2
      ;;
    tsan)
      cmake -S . -B build-tsan "${common[@]}" -DSMBGATE_TSAN=ON >/dev/null
      cmake --build build-tsan --target unit_client unit_fuse integration_smb2
      for t in unit_client unit_fuse integration_smb2; do
        echo "tsan: $t"
        # Without address randomisation: GCC 12's TSan cannot map its shadow memory under
        # kernels with vm.mmap_rnd_bits above 28.
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 setarch "$(uname -m)" -R "build-tsan/tests/$t" --gtest_brief=1
      done
      ;;
    *) echo "tests/sanitize/run.sh: unknown run $run (asan or tsan)" >&2; exit 2 ;;
  esac
done
