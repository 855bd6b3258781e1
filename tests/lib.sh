# Shared by the shell tests (source it): a work directory, background
# processes killed at exit, failure counting, bounded waits and free ports.
#
# Before sourcing, set T (the program under test) and, optionally,
# EXPECT_TIMEOUT (seconds one `expect` run may take, default 60) and
# EXPECT_NAME (the name failures print, default "mstls").
# shellcheck shell=bash

W=$(mktemp -d "${TMPDIR:-/tmp}/mstls-test.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null
  done
  [ -n "${KEEP_W:-}" ] || rm -rf "$W"
}
trap cleanup EXIT

fails=0
ncheck=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# expect RC TEXT ARGS...: run $T (stdin empty), require exit code RC and
# TEXT (fixed string) in its stdout+stderr.
expect() {
  local rc=$1 text=$2 got
  shift 2
  ncheck=$((ncheck + 1))
  timeout "${EXPECT_TIMEOUT:-60}" "$T" "$@" </dev/null >"$W/out" 2>&1
  got=$?
  if [ "$got" != "$rc" ]; then
    fail "${EXPECT_NAME:-mstls} $*: exit $got, want $rc"
    sed 's/^/    /' "$W/out" | head -5
    return
  fi
  if ! grep -qF -- "$text" "$W/out"; then
    fail "${EXPECT_NAME:-mstls} $*: output lacks '$text'"
    sed 's/^/    /' "$W/out" | head -5
  fi
}

# expect_not TEXT: the last expect's output must not contain TEXT.
expect_not() {
  if grep -qF -- "$1" "$W/out"; then
    fail "output contains '$1'"
  fi
}

# wait_for FILE TEXT: until TEXT appears in FILE (bounded: 60 s; polled,
# never a fixed sleep).
wait_for() {
  local i
  for ((i = 0; i < 600; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "'$2' never appeared in $(basename "$1")"
  sed 's/^/    /' "$1" | head -10
  return 1
}

# bg OUTFILE COMMAND...: start COMMAND in the background (BG = its pid)
# with a watchdog that kills it after 60 s.
bg_cmd() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 </dev/null &
  BG=$!
  PIDS+=("$BG")
  (timeout 60 tail --pid="$BG" -f /dev/null || kill "$BG") >/dev/null 2>&1 &
}

# A UDP port (and the next one) nobody uses now.
free_port() {
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
    if [ -z "$(ss -Hunl "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null)" ]; then
      echo "$p"
      return
    fi
  done
  echo 47123
}

# finish: print the count and exit 1 if anything failed.
finish() {
  echo "${ncheck} checks, ${fails} failed"
  [ "$fails" -eq 0 ]
  exit $?
}
