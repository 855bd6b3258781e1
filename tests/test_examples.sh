#!/usr/bin/env bash
# Runs an event-loop example (examples/epoll_echo.c or examples/uv_echo.c)
# as it is meant to be used: bad arguments exit 2 with the usage; a client
# whose server is absent fails within seconds with a clear message and exit
# 1; a server and three clients at once, each with 4 streams x 256 KiB,
# every client exits 0 after a byte-exact echo and a close in order, and
# the server reports every association closed; a client that cannot verify
# the server fails; a client stopped by SIGTERM reports where it was; the
# server stops on SIGTERM.
#
# Load-proof: nothing waits for a fixed time. Each step waits for an event
# (a line in a log, a process exit) polled every 0.1 s; the bounds (60 s
# for the server to start, 120 s per process) only mean "hung". The echoes
# run with the stack's own failure detection (--profile default): the
# examples' failover profile takes a peer that has not answered for about
# 2 s for dead, and a process starved of CPU that long on a loaded machine
# lost its association that way (once in about 25 whole-suite runs beside
# three more). The connect to nobody keeps the failover profile.
#
# usage: test_examples.sh PATH/TO/PROGRAM [usrsctp|kernel]
set -u
T=${1:?usage: test_examples.sh PATH/TO/PROGRAM [usrsctp|kernel]}
BACKEND=${2:-usrsctp}
NAME=$(basename "$T")
EXPECT_TIMEOUT=120
EXPECT_NAME=$NAME
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# start_server: start the server on a free port (P), SP = its pid. A port
# taken in the meantime makes it exit at once: try another, a few times.
start_server() {
  local try i
  for ((try = 0; try < 5; try++)); do
    P=$(free_port)
    "$T" server "$P" --backend "$BACKEND" --profile default \
      --cert-out "$W/server.pem" \
      >"$W/server.out" 2>&1 </dev/null &
    SP=$!
    PIDS+=("$SP")
    # Ends with the server (tail --pid), else kills it after 600 s.
    (timeout 600 tail --pid="$SP" -f /dev/null || kill "$SP") \
      >/dev/null 2>&1 &
    for ((i = 0; i < 600; i++)); do
      grep -qF "listening on port $P" "$W/server.out" && return 0
      kill -0 "$SP" 2>/dev/null || break
      sleep 0.1
    done
    kill "$SP" 2>/dev/null
    wait "$SP" 2>/dev/null
  done
  fail "the server never started"
  sed 's/^/    /' "$W/server.out" | head -10
  return 1
}

# --- usage -------------------------------------------------------------------
expect 0 "usage: $T server PORT" --help
expect 2 "say server or client"
expect 2 'the mode is server or client, not "serve"' serve 5000
expect 2 "PORT is missing" server
expect 2 'PORT must be a number in 1..65535, not "0"' server 0
expect 2 'PORT must be a number in 1..65535, not "65536"' client 65536
expect 2 'PORT must be a number in 1..65535, not "-5"' client -5
expect 2 'STREAMS must be a number in 1..1024, not "0"' client 5000 0
expect 2 'STREAMS must be a number in 1..1024, not "1025"' client 5000 1025
expect 2 'BYTES must be a number in 1..4294967296, not "12x"' client 5000 4 12x
expect 2 'BYTES must be a number in 1..4294967296, not "0"' client 5000 4 0
expect 2 'too many arguments at "5"' client 5000 4 1 5
expect 2 'the server takes no STREAMS or BYTES: "4"' server 5000 4
expect 2 '--backend must be usrsctp or kernel, not "tcp"' \
  client 5000 --backend tcp
expect 2 'unknown option "--nope"' client 5000 --nope
expect 2 '--profile must be failover or default, not "fast"' \
  client 5000 --profile fast
expect 2 'missing value after "--ca"' client 5000 --ca
expect 2 "--ca and --insecure are client options" server 5000 --insecure
expect 2 "--cert, --key and --cert-out are server options" \
  client 5000 --cert c.pem --key k.pem
expect 2 "--cert and --key go together" server 5000 --cert c.pem
expect 2 "--ca and --insecure exclude each other" \
  client 5000 --ca c.pem --insecure
expect 2 "usage: $T server PORT" client 5000 --nope

# --- failures that are not about arguments -------------------------------------
expect 1 "$W/none.pem" server 5000 --backend "$BACKEND" \
  --cert "$W/none.pem" --key "$W/none.pem"
# Nobody listens: the INITs go unanswered and the failover profile gives
# up within seconds (bounded by the 120 s of expect, which means "hung").
expect 1 "no SCTP association with 127.0.0.1 port" \
  client "$(free_port)" 2 1000 --backend "$BACKEND" --insecure

# --- a server and three clients at once --------------------------------------
ncheck=$((ncheck + 1))
if start_server; then
  CP=()
  for i in 1 2 3; do
    timeout 120 "$T" client "$P" 4 262144 --backend "$BACKEND" \
      --profile default --ca "$W/server.pem" >"$W/client$i.out" 2>&1 \
      </dev/null &
    CP+=($!)
  done
  for i in 1 2 3; do
    wait "${CP[$((i - 1))]}"
    rc=$?
    [ "$rc" = 0 ] || fail "client $i: exit $rc"
    grep -qF "4 streams x 262144 bytes echoed and verified, closed in order" \
      "$W/client$i.out" || fail "client $i: no verified echo"
    # All of it: a client stopped by timeout's SIGTERM reports where.
    [ "$rc" = 0 ] || sed "s/^/    client $i: /" "$W/client$i.out"
  done

  # The server saw three whole echoes end in order (1 MiB each). A client
  # that already exited may leave the server's SCTP shutdown to time out:
  # wait (bounded, 60 s means hung) until it has reported all three ends.
  ncheck=$((ncheck + 1))
  for _ in $(seq 300); do
    [ "$(grep -cE '^association [0-9]+: (closed|dropped)' "$W/server.out")" -ge 3 ] &&
      break
    sleep 0.2
  done
  n=$(grep -cF "closed, 1048576 bytes echoed" "$W/server.out")
  [ "$n" = 3 ] || fail "server: $n associations closed with 1 MiB, want 3"
  ! grep -qF "dropped" "$W/server.out" || fail "server dropped an association"

  # Without the server's certificate the client refuses it (system trust).
  ncheck=$((ncheck + 1))
  timeout 120 "$T" client "$P" 2 1000 --backend "$BACKEND" \
    --profile default >"$W/untrusted.out" 2>&1 </dev/null
  rc=$?
  [ "$rc" = 1 ] || fail "client without the server's CA: exit $rc, want 1"
  grep -qF "TLS handshake: peer certificate verification failed" \
    "$W/untrusted.out" || fail "client without the server's CA: no reason"

  # SIGTERM stops a client in the middle of its echo: exit 1, with a
  # report of where it was (it is association 5 on the server; once the
  # server has its streams up, the client's handler is in place). The
  # client gets the signal once: without --foreground, timeout(1) passes
  # it on twice (to the client and to its process group), and a second
  # SIGTERM that comes after the client has begun to stop ends it by
  # default (exit 143; once in 18 whole-suite runs under load).
  ncheck=$((ncheck + 1))
  timeout --foreground 120 "$T" client "$P" 4 4294967296 \
    --backend "$BACKEND" --profile default --ca "$W/server.pem" \
    >"$W/stopped.out" 2>&1 </dev/null &
  CS=$!
  if wait_for "$W/server.out" "association 5: 4 streams up"; then
    kill -TERM "$CS"
    wait "$CS"
    rc=$?
    [ "$rc" = 1 ] || fail "client stopped by SIGTERM: exit $rc, want 1"
    for text in "stopped while" "DATA chunks unacknowledged"; do
      grep -qF "$text" "$W/stopped.out" ||
        fail "client stopped by SIGTERM: no '$text'"
    done
  else
    kill "$CS"
  fi

  # SIGTERM stops it (bounded: killed after 60 s).
  ncheck=$((ncheck + 1))
  kill -TERM "$SP"
  for ((i = 0; i < 600; i++)); do
    kill -0 "$SP" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SP" 2>/dev/null && fail "server ignored SIGTERM"
  wait "$SP"
  rc=$?
  [ "$rc" = 0 ] || fail "server: exit $rc after SIGTERM"
  grep -qF "stopping" "$W/server.out" || fail "server: no 'stopping'"
  [ "$fails" = 0 ] || sed 's/^/    server: /' "$W/server.out" | tail -20
fi

echo "$NAME ($BACKEND): $ncheck checks, $fails failed"
[ "$fails" = 0 ]
