#!/usr/bin/env bash
# mstls sctp-server on kernel SCTP (run inside the guest by run-in-vm.sh):
# the event loop polls the listener's and the associations' fds. 10 silent
# associations (plain kernel SCTP sockets that never send) are open while 5
# sctp-client processes handshake and echo; the server counts 10 handshake
# timeouts and 5 completed associations. The guest emulates its CPU in
# software under the sanitizers: the handshake timeout is 15 s here.
#
# Usage: serve_kernel.sh PATH/TO/mstls
set -u
T=$1
W=$(mktemp -d)
P=47321
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
wait_for() { # file text [seconds]
  local i
  for i in $(seq $((${3:-60} * 10))); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
count() { # the NAME counter on the last line of kind KIND
  grep -a "counters ($1)" "$W/s.out" | tail -1 |
    sed -n "s/.*[:,] $2 \([0-9]*\).*/\1/p"
}

"$T" sctp-server --listen "127.0.0.1:$P" --backend kernel --echo --streams 4 \
  --handshake-timeout 15000 >"$W/s.out" 2>&1 &
SP=$!
wait_for "$W/s.out" "listening on" || fail "server did not start"

/usr/bin/python3 - "$P" >"$W/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)  # IPPROTO_SCTP
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("10 silent associations open", flush=True)
time.sleep(90)
PY
SLOW=$!
wait_for "$W/slow.out" "10 silent associations open" ||
  fail "silent associations not opened: $(cat "$W/slow.out")"

pids=()
for i in 1 2 3 4 5; do
  printf 'hello %d\n' "$i" |
    timeout 120 "$T" sctp-client --connect "127.0.0.1:$P" --backend kernel \
      --insecure --streams 4 --stream 1 --linger 60000 >"$W/c$i.out" 2>&1 &
  pids+=($!)
done
for i in 1 2 3 4 5; do
  wait "${pids[$((i - 1))]}" || fail "client $i: exit $?"
  grep -qF "[stream 1] hello $i" "$W/c$i.out" || fail "client $i: no echo"
done

for _ in $(seq 240); do
  kill -USR1 "$SP"
  sleep 0.5
  [ "$(count SIGUSR1 'handshake timeouts')" = 10 ] && break
done
kill "$SLOW" 2>/dev/null
kill -TERM "$SP"
wait "$SP" || fail "server: exit $?"
for kv in "accepted 15" "handshake timeouts 10" "completed 5" "failed 0" \
  "refused 0"; do
  [ "$(count exit "${kv% *}")" = "${kv##* }" ] || fail "server: want ${kv}"
done
grep -a "counters (exit)" "$W/s.out"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/s.out" | tail -30
echo "serve_kernel: $fails failed"
[ "$fails" = 0 ]
