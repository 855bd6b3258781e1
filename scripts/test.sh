#!/usr/bin/env bash
# The whole test suite: format check, then every test under AddressSanitizer
# and UndefinedBehaviorSanitizer (warnings fatal), the threaded tests under
# ThreadSanitizer, and the kernel-SCTP tests inside a QEMU guest.
#
# Every phase runs even when an earlier one failed; the failures are listed
# at the end and the exit status is non-zero if any phase failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
jobs=${MSTLS_TEST_JOBS:-2}

phase_format() {
  scripts/check-format.sh
}

phase_asan_build() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMSTLS_WERROR=ON \
        -DMSTLS_ASAN=ON -DMSTLS_UBSAN=ON -DMSTLS_BUILD_BENCH=OFF >/dev/null &&
    cmake --build build-asan -j"$jobs" >/dev/null
}

phase_asan() {
  ctest --test-dir build-asan --output-on-failure -LE 'vm|threads' -j"$jobs"
}

phase_asan_threads() {
  ctest --test-dir build-asan --output-on-failure -L threads
}

phase_tsan() {
  local targets
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DMSTLS_WERROR=ON \
        -DMSTLS_TSAN=ON -DMSTLS_BUILD_BENCH=OFF -DMSTLS_BUILD_EXAMPLES=OFF \
        >/dev/null || return 1
  targets=$(ctest --test-dir build-tsan -N -L threads 2>/dev/null |
            sed -n 's/^ *Test *#[0-9]*: //p')
  [ -n "$targets" ] || return 0
  # shellcheck disable=SC2086
  cmake --build build-tsan -j"$jobs" --target $targets >/dev/null &&
    TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan \
      --output-on-failure -L threads
}

phase_vm() {
  ctest --test-dir build-asan --output-on-failure -L vm
}

passed=()
failed=()
run_phase() {
  local name=$1 fn=$2
  echo "== $name"
  if "$fn"; then
    passed+=("$name")
  else
    echo "== $name: FAILED"
    failed+=("$name")
  fi
}

run_phase "format" phase_format
run_phase "ASan + UBSan build" phase_asan_build
if [ "${#failed[@]}" -eq 0 ] || [ "${failed[*]}" = "format" ]; then
  run_phase "ASan + UBSan tests" phase_asan
  run_phase "ASan + UBSan threaded tests" phase_asan_threads
  run_phase "kernel SCTP in a QEMU guest" phase_vm
else
  failed+=("tests not run: the build failed")
fi
run_phase "TSan (threaded tests)" phase_tsan

echo
echo "== summary"
for p in "${failed[@]}"; do
  echo "failed: $p"
done
echo "phases: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
