#!/usr/bin/env bash
# The whole test suite: format check, then every test under AddressSanitizer
# and UndefinedBehaviorSanitizer (warnings fatal), the threaded tests under
# ThreadSanitizer, and the kernel-SCTP tests inside a QEMU guest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

echo "== format"
scripts/check-format.sh

echo "== ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMSTLS_WERROR=ON \
      -DMSTLS_ASAN=ON -DMSTLS_UBSAN=ON -DMSTLS_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j2 >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -LE 'vm|threads' -j2
ctest --test-dir build-asan --output-on-failure -L threads

echo "== TSan (threaded tests)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DMSTLS_WERROR=ON \
      -DMSTLS_TSAN=ON -DMSTLS_BUILD_BENCH=OFF -DMSTLS_BUILD_EXAMPLES=OFF \
      >/dev/null
tsan_targets=$(ctest --test-dir build-tsan -N -L threads 2>/dev/null |
               sed -n 's/^ *Test *#[0-9]*: //p')
if [ -n "$tsan_targets" ]; then
  # shellcheck disable=SC2086
  cmake --build build-tsan -j2 --target $tsan_targets >/dev/null
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan \
      --output-on-failure -L threads
fi

echo "== kernel SCTP in a QEMU guest"
ctest --test-dir build-asan --output-on-failure -L vm
