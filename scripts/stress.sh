#!/usr/bin/env bash
# Run a command N times in a row while both cores are kept busy by a CPU
# hog, and report how many runs passed. A flaky test is a failing test:
# timing-sensitive tests must pass every run here.
#
# Usage: scripts/stress.sh N command [args...]
#   e.g. scripts/stress.sh 200 build-asan/tests/test_udp_endpoint
#        scripts/stress.sh 50 ctest --test-dir build-asan -LE 'vm|threads' -j2
# MSTLS_STRESS_HOGS sets the number of hog processes (default: cores);
# MSTLS_STRESS_KEEP the folder that keeps each failed run's whole output
# (default: a new folder in $TMPDIR, named at the first failure).
set -uo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 N command [args...]" >&2
  exit 2
fi
n=$1
shift
hogs=${MSTLS_STRESS_HOGS:-$(nproc)}
pids=()
for _ in $(seq "$hogs"); do
  # Bounded: a hog never outlives the run by more than its own timeout.
  timeout 7200 sh -c 'while :; do :; done' &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
log=$(mktemp)
# A failed run's whole output is kept here.
keep=${MSTLS_STRESS_KEEP:-$(mktemp -d "${TMPDIR:-/tmp}/stress.XXXXXX")}
mkdir -p "$keep"
pass=0
fail=0
for i in $(seq "$n"); do
  start=$SECONDS
  if "$@" >"$log" 2>&1; then
    pass=$((pass + 1))
    echo "run $i passed ($((SECONDS - start)) s)"
  else
    fail=$((fail + 1))
    echo "run $i failed ($((SECONDS - start)) s), whole output in $keep/run$i.log:"
    cp "$log" "$keep/run$i.log"
    grep -E 'ERROR|LINE|FAILED|Failed|SUMMARY' "$log" | head -20
    tail -15 "$log"
  fi
done
rm -f "$log"
echo "stress: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
