#!/usr/bin/env bash
# mstls sctp-server on kernel SCTP (run inside the guest by run-in-vm.sh):
# the event loop polls the listener's and the associations' fds. 10 silent
# associations (plain kernel SCTP sockets that never send) are open while 5
# sctp-client processes handshake and echo; the server counts 10 handshake
# timeouts and 5 completed associations. The guest emulates its CPU in
# software under the sanitizers: the server's handshake timeout is 60 s
# here. The silent associations, which never send a byte, always reach
# it; the legitimate clients (whose own bound is mstls's default, 30 s
# per stream) only if hung.
#
# Then --workers 2 --fleet-secret: two worker processes, each with its own
# listener bound with SO_REUSEPORT to the port; a server without
# --workers cannot take the port, nor workers the port of a server
# without; a client keeps its session (--session),
# then 6 clients resume it at once on whichever worker the kernel gives
# them (the workers share the fleet's ticket key); all are served, every
# stream of the 6 resumed, and the counters are summed and printed per
# worker; SIGHUP makes every worker read the fleet file again.
#
# Load-proof: each step waits for an event (a line in a log polled every
# 0.1 s for up to 60 s, a process exit, counters asked with SIGUSR1 every
# 0.5 s for up to 240 s); the verdict is the server's counters. The silent
# peer holds its associations until the script kills it (bounded by an
# outer timeout), so it outlasts the server's handshake timeouts however
# long they take to come.
#
# Usage: serve_kernel.sh PATH/TO/mstls
set -u
T=$1
W=$(mktemp -d)
P=47321
# The server's handshake timeout, in ms: what ends the silent associations,
# and for the legitimate clients a bound that only a hang reaches.
HS_MS=60000
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
count() { # KIND NAME [FILE]: the NAME counter on the last line of KIND
  grep -a "counters ($1)" "${3:-$W/s.out}" | tail -1 |
    sed -n "s/.*[:,] $2 \([0-9]*\).*/\1/p"
}

"$T" sctp-server --listen "127.0.0.1:$P" --backend kernel --echo --streams 4 \
  --handshake-timeout "$HS_MS" >"$W/s.out" 2>&1 &
SP=$!
wait_for "$W/s.out" "listening on" || fail "server did not start"

# The silent peer stays until it is killed below, once the server has
# counted its handshake timeouts; the outer timeout only keeps it from
# outliving a run that went wrong.
timeout 600 /usr/bin/python3 - "$P" >"$W/slow.out" 2>&1 <<'PY' &
import signal, socket, sys
port = int(sys.argv[1])
socks = []
for _ in range(10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)  # IPPROTO_SCTP
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("10 silent associations open", flush=True)
while True:
    signal.pause()
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

# The silent associations end HS_MS after they were accepted; ask until
# the server has counted all 10 (bounded against a hang).
until_s=$((SECONDS + 240))
while [ "$SECONDS" -lt "$until_s" ]; do
  kill -USR1 "$SP"
  sleep 0.5
  [ "$(count SIGUSR1 'handshake timeouts')" = 10 ] && break
done
kill "$SLOW" 2>/dev/null
wait "$SLOW" 2>/dev/null
kill -TERM "$SP"
wait "$SP" || fail "server: exit $?"
for kv in "accepted 15" "handshake timeouts 10" "completed 5" "failed 0" \
  "refused 0"; do
  [ "$(count exit "${kv% *}")" = "${kv##* }" ] || fail "server: want ${kv}"
done
grep -a "counters (exit)" "$W/s.out"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/s.out" | tail -30

# --- --workers 2 --fleet-secret ---------------------------------------------
P=47331
f0=$fails
printf '# fleet\n%s\n' \
  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
  >"$W/fleet.key"
chmod 600 "$W/fleet.key"
"$T" sctp-server --listen "127.0.0.1:$P" --backend kernel --workers 2 \
  --fleet-secret "$W/fleet.key" --echo --streams 4 \
  --handshake-timeout "$HS_MS" >"$W/w.out" 2>&1 &
WP=$!
wait_for "$W/w.out" "listening on 127.0.0.1:$P (kernel SCTP, profile default, 2 workers, fleet " ||
  fail "workers: server did not start"
# One listener alone binds without SO_REUSEPORT: it cannot join them.
timeout 120 "$T" sctp-server --listen "127.0.0.1:$P" --backend kernel \
  --once >"$W/w1.out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "a server without --workers on the workers' port: exit $rc"
grep -qF "listen: transport failure" "$W/w1.out" ||
  fail "a server without --workers on the workers' port: $(cat "$W/w1.out")"

# Nor can workers join a port that such a listener holds: a worker says
# so, the others are stopped, and the server exits 1 without listening.
"$T" sctp-server --listen "127.0.0.1:$((P + 1))" --backend kernel --once \
  >"$W/w2.out" 2>&1 &
SP1=$!
wait_for "$W/w2.out" "listening on" || fail "single server did not start"
timeout 120 "$T" sctp-server --listen "127.0.0.1:$((P + 1))" \
  --backend kernel --workers 2 >"$W/w3.out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "workers on a single server's port: exit $rc"
grep -qE "mstls: worker [12]: listen: transport failure" "$W/w3.out" ||
  fail "workers on a single server's port: $(cat "$W/w3.out")"
grep -qF "listening on" "$W/w3.out" &&
  fail "workers on a single server's port: said listening"
kill -TERM "$SP1"
wait "$SP1" || fail "single server: exit $?"

printf 'first\n' | timeout 120 "$T" sctp-client --connect "127.0.0.1:$P" \
  --backend kernel --insecure --streams 4 --session "$W/c0.sess" \
  --linger 60000 >"$W/wc0.out" 2>&1 || fail "workers: first client: exit $?"
grep -qF "[stream 0] first" "$W/wc0.out" || fail "workers: first client: no echo"
grep -qF "no session kept yet" "$W/wc0.out" ||
  fail "workers: first client: not a full handshake"
[ -s "$W/c0.sess" ] || fail "workers: first client kept no session"
pids=()
for i in 1 2 3 4 5 6; do
  cp "$W/c0.sess" "$W/c$i.sess"
  printf 'again %d\n' "$i" |
    timeout 120 "$T" sctp-client --connect "127.0.0.1:$P" --backend kernel \
      --insecure --streams 4 --stream 3 --session "$W/c$i.sess" \
      --linger 60000 >"$W/wc$i.out" 2>&1 &
  pids+=($!)
done
for i in 1 2 3 4 5 6; do
  wait "${pids[$((i - 1))]}" || fail "workers: client $i: exit $?"
  grep -qF "[stream 3] again $i" "$W/wc$i.out" || fail "workers: client $i: no echo"
  grep -qF "4 of 4 streams resumed" "$W/wc$i.out" ||
    fail "workers: client $i: not every stream resumed"
done
# SIGHUP reaches every worker: each reads the fleet file again.
kill -HUP "$WP"
for i in 1 2; do
  wait_for "$W/w.out" "mstls sctp-server (worker $i): SIGHUP: fleet secret read again (fleet " ||
    fail "workers: worker $i did not read the fleet secret again"
done
until_s=$((SECONDS + 240))
while [ "$SECONDS" -lt "$until_s" ]; do
  kill -USR1 "$WP"
  sleep 0.5
  [ "$(count SIGUSR1 completed "$W/w.out")" = 7 ] && break
done
kill -TERM "$WP"
wait "$WP" || fail "workers: server: exit $?"
for kv in "accepted 7" "completed 7" "failed 0" "refused 0"; do
  [ "$(count exit "${kv% *}" "$W/w.out")" = "${kv##* }" ] ||
    fail "workers: server: want ${kv}"
done
for i in 1 2; do
  grep -qaF "counters (exit, worker $i): " "$W/w.out" ||
    fail "workers: no counters of worker $i"
done
# Where the kernel put them (not judged: it hashes the clients' ports).
grep -a "counters (exit" "$W/w.out"
grep -ac "worker 1: association .* established (4 resumed)" "$W/w.out" |
  sed 's/^/resumed associations on worker 1: /'
grep -ac "worker 2: association .* established (4 resumed)" "$W/w.out" |
  sed 's/^/resumed associations on worker 2: /'
[ "$fails" = "$f0" ] || sed 's/^/    /' "$W/w.out" | tail -40
echo "serve_kernel: $fails failed"
[ "$fails" = 0 ]
