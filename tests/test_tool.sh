#!/usr/bin/env bash
# Runs the mstls tool's subcommands with bad and good arguments and checks
# exit codes and messages: usage errors exit 2 and name the option, the
# value and the allowed range; --help exits 0; file, name and backend
# errors exit 1 and say what is wrong; demo, sctp-server/sctp-client
# pairs over usrsctp (one with two addresses on each end, as root in a
# network namespace) and a dtls-server/dtls-client pair echo data.
#
# Load-proof: nothing waits for a fixed time. Each step waits for an
# event (a line in a log, a process exit) polled every 0.1 s, with
# generous bounds (60 s per process) only as a safety net; every run ends
# by itself (--once, --exit-after, the clients' end of stdin with a
# --linger that stops as soon as every line is answered).
#
# usage: test_tool.sh PATH/TO/mstls
set -u
T=${1:?usage: test_tool.sh PATH/TO/mstls}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# bg OUTFILE ARGS...: start the tool in the background (BG = its pid, so
# signals reach the tool itself) with a watchdog.
bg() {
  local out=$1
  shift
  bg_cmd "$out" "$T" "$@"
}

# --- multihoming (run inside a network namespace of its own) ----------------
# The caller runs `unshare -n bash test_tool.sh MSTLS --multihome` as root:
# loopback there gets 127.0.0.2 beside 127.0.0.1, so both ends can bind two
# addresses, and nothing leaves the namespace. A two-address server and
# client with the failover profile; the client sends a line at each step
# of a cut of the second path, and each step waits for the server's path
# event with the address: 127.0.0.2 confirmed by heartbeat; then a
# blackhole route to 127.0.0.2 (its heartbeats go unanswered) until it is
# unreachable; then the route back until it is available again. Every
# line is echoed over the primary path, 127.0.0.1, all along. (Cutting
# 127.0.0.1 instead would not test failover here: the kernel gives packets
# to 127.0.0.2 the source 127.0.0.1, so the second path depends on it.)
if [ "${2:-}" = --multihome ]; then
  ip link set lo up && ip addr add 127.0.0.2/8 dev lo || exit 1
  ncheck=$((ncheck + 1))
  P=$(free_port)
  bg "$W/ms.out" sctp-server --listen "127.0.0.1,127.0.0.2:$P" \
    --backend usrsctp --echo --once --profile failover
  SP=$BG
  if wait_for "$W/ms.out" \
    "listening on 127.0.0.1,127.0.0.2:$P (usrsctp, profile failover)"; then
    # The feeder's messages go to stderr: its stdout is the client's stdin.
    {
      wait_for "$W/ms.out" "association 1: path 127.0.0.2 confirmed" >&2
      printf 'before the cut\n'
      ip route del local 127.0.0.2 table local >&2 &&
        ip route add blackhole 127.0.0.2/32 table local >&2
      wait_for "$W/ms.out" "association 1: path 127.0.0.2 unreachable" >&2
      printf 'during the cut\n'
      ip route del blackhole 127.0.0.2/32 table local >&2 &&
        ip route add local 127.0.0.2 dev lo table local >&2
      wait_for "$W/ms.out" "association 1: path 127.0.0.2 available" >&2
      printf 'after the cut\n'
    } 2>"$W/feed.out" | timeout 60 "$T" sctp-client \
      --connect "127.0.0.1,127.0.0.2:$P" --bind 127.0.0.1,127.0.0.2 \
      --backend usrsctp --insecure --profile failover --linger 60000 \
      >"$W/mc.out" 2>&1
    rc=$?
    [ "$rc" = 0 ] || fail "two-address sctp-client: exit $rc"
    for l in "before the cut" "during the cut" "after the cut"; do
      grep -qF "[stream 0] $l" "$W/mc.out" ||
        fail "two-address sctp-client: no echo of '$l'"
    done
    grep -qF "connecting to 127.0.0.1,127.0.0.2 port $P from 127.0.0.1,127.0.0.2 (usrsctp, profile failover: gives up after about 1.2 s)" \
      "$W/mc.out" || fail "two-address sctp-client: no progress line"
    for e in confirmed unreachable available; do
      grep -qF "association 1: path 127.0.0.2 $e" "$W/ms.out" ||
        fail "two-address sctp-server: no 'path 127.0.0.2 $e'"
    done
    [ -s "$W/feed.out" ] && sed 's/^/    feeder: /' "$W/feed.out"
  fi
  wait "$SP"
  rc=$?
  [ "$rc" = 0 ] || fail "two-address sctp-server --once: exit $rc"
  grep -qF "association 1 closed (all streams closed)" "$W/ms.out" ||
    fail "two-address sctp-server: association not reported closed"
  [ "$fails" = 0 ] || sed 's/^/    /' "$W/ms.out" "$W/mc.out" | tail -30
  echo "$ncheck checks, $fails failed"
  [ "$fails" = 0 ]
  exit
fi

# --- help and usage -------------------------------------------------------
expect 0 "usage: mstls COMMAND" --help
expect 2 "usage: mstls COMMAND"
expect 2 "unknown command 'nosuch'" nosuch
for c in sctp-server sctp-client dtls-server dtls-client demo; do
  expect 0 "usage: mstls $c" "$c" --help
done

# --- numbers, ranges, addresses ----------------------------------------------
expect 2 '--streams: "10x" is not a number (1..65535)' \
  sctp-server --listen 5000 --streams 10x
expect 2 '--streams: 0 is out of range (1..65535)' \
  sctp-client --connect 127.0.0.1:5000 --insecure --streams 0
expect 2 '--stream: "x" is not a number (0..65534)' \
  sctp-client --connect 127.0.0.1:5000 --insecure --stream x
expect 2 '--stream 12: only 10 streams' \
  sctp-client --connect 127.0.0.1:5000 --insecure --stream 12
expect 2 '--udp-port: 70000 is out of range (1..65535)' \
  sctp-server --listen 5000 --udp-port 70000
expect 2 '--udp-port: 70000 is out of range (1..65535)' \
  sctp-client --connect 127.0.0.1:5000 --insecure --udp-port 70000
expect 2 '--udp-buffer: 100 is out of range (4096..1073741824)' \
  sctp-server --listen 5000 --udp-buffer 100
expect 2 '--udp-buffer: "4M" is not a number (4096..1073741824)' \
  sctp-client --connect 127.0.0.1:5000 --insecure --udp-buffer 4M
expect 2 '--listen: port "99999" is not a number in 1..65535' \
  sctp-server --listen 127.0.0.1:99999
expect 2 '--listen: ":" has no port (1..65535)' sctp-server --listen :
expect 2 '--connect: ":5000" has no host' \
  sctp-client --connect :5000 --insecure
expect 2 '--connect: "localhost" is not HOST:PORT' \
  sctp-client --connect localhost --insecure
expect 2 '--policy: "foo" is not one of resume|parallel|lazy' \
  sctp-client --connect 127.0.0.1:5000 --insecure --policy foo
expect 2 '--backend: "foo" is not one of usrsctp|kernel' \
  sctp-server --listen 5000 --backend foo
expect 2 '--linger: "-1" is not a number (0..3600000)' \
  sctp-client --connect 127.0.0.1:5000 --insecure --linger -1
expect 2 '--handshake-timeout: 0 is out of range (1..3600000)' \
  sctp-server --listen 5000 --handshake-timeout 0
expect 2 '--max-assocs: 65537 is out of range (1..65536)' \
  sctp-server --listen 5000 --max-assocs 65537
expect 2 '--echo-backlog: "1k" is not a number (1..1073741824)' \
  sctp-server --listen 5000 --echo-backlog 1k
expect 2 '--stall-timeout: 3600001 is out of range (1..3600000)' \
  sctp-server --listen 5000 --stall-timeout 3600001
expect 2 '--backlog: 0 is out of range (1..65535)' \
  sctp-server --listen 5000 --backlog 0
expect 2 '--max-assocs is for sctp-server' \
  sctp-client --connect 127.0.0.1:5000 --insecure --max-assocs 2
expect 2 'unknown option --bogus' sctp-server --listen 5000 --bogus
expect 2 'unknown option --bogus' sctp-client --bogus
expect 2 '--listen needs a value' sctp-server --listen
expect 2 'unexpected argument "extra"' sctp-server --listen 5000 extra
expect 2 '--listen [ADDR:]PORT is required' sctp-server
expect 2 '--connect ADDR:PORT is required' sctp-client --insecure
expect 2 '--connect is for sctp-client' sctp-server --connect 127.0.0.1:1
expect 2 'give --ca FILE, --pin SHA256, --psk ID:KEY or --insecure' sctp-client --connect 127.0.0.1:5000
expect 2 '--cert and --key go together' sctp-server --listen 5000 --cert x


# SCTP tunables: each option's range on both sides, the profile, the
# RTO order (given, from the profile, or the stack's default).
C=(sctp-client --connect 127.0.0.1:5000 --insecure)
S=(sctp-server --listen 5000)
expect 2 '--profile: "foo" is not one of default|failover' "${C[@]}" \
  --profile foo
expect 2 '--profile: "" is not one of default|failover' "${S[@]}" --profile=
for side in C S; do
  declare -n A=$side
  expect 2 '--rto-initial: 0 is out of range (1..86400000)' "${A[@]}" \
    --rto-initial 0
  expect 2 '--rto-initial: "1s" is not a number (1..86400000)' "${A[@]}" \
    --rto-initial 1s
  expect 2 '--rto-min: 86400001 is out of range (1..86400000)' "${A[@]}" \
    --rto-min 86400001
  expect 2 '--rto-max: "-1" is not a number (1..86400000)' "${A[@]}" \
    --rto-max -1
  expect 2 '--assoc-max-retrans: 0 is out of range (1..65535)' "${A[@]}" \
    --assoc-max-retrans 0
  expect 2 '--assoc-max-retrans: "3x" is not a number (1..65535)' \
    "${A[@]}" --assoc-max-retrans 3x
  expect 2 '--path-max-retrans: 65536 is out of range (1..65535)' "${A[@]}" \
    --path-max-retrans 65536
  expect 2 '--heartbeat: 0 is out of range (1..86400000)' "${A[@]}" \
    --heartbeat 0
  expect 2 '--heartbeat: "1e3" is not a number (1..86400000)' "${A[@]}" \
    --heartbeat 1e3
  expect 2 '--init-attempts: 0 is out of range (1..65535)' "${A[@]}" \
    --init-attempts 0
  expect 2 '--init-timeout: 65536 is out of range (1..65535)' "${A[@]}" \
    --init-timeout 65536
  expect 2 '--sack-delay: 501 is out of range (1..500)' "${A[@]}" \
    --sack-delay 501
  expect 2 '--sack-delay: a number is needed (1..500)' "${A[@]}" --sack-delay=
  expect 2 '--nagle takes no value' "${A[@]}" --nagle=1
  expect 2 '--rto-min 2000 is above --rto-max 1000: RTO.Min <= RTO.Initial <= RTO.Max' \
    "${A[@]}" --rto-min 2000 --rto-max 1000
  unset -n A
done
expect 2 '--rto-min 300 is above --rto-initial 200' "${C[@]}" \
  --rto-initial 200 --rto-min 300 --rto-max 1000
expect 2 '--rto-min 500 is above RTO.Initial 200 ms of --profile failover: RTO.Min <= RTO.Initial <= RTO.Max (set --rto-initial too)' \
  "${S[@]}" --profile failover --rto-min 500
expect 2 'the default RTO.Initial of 3000 ms is above --rto-max 1000' \
  "${C[@]}" --rto-max 1000
expect 2 '--bind needs a value' "${C[@]}" --bind
expect 2 '--bind: an address is needed' "${C[@]}" --bind=
expect 2 '--bind is for sctp-client: the server binds the addresses of --listen ADDR1,ADDR2:PORT' \
  "${S[@]}" --bind 127.0.0.1

# Address lists: IPv4 and names with commas, IPv6 each in brackets; every
# entry resolved and checked before SCTP starts, the faulty one named.
expect 2 '--connect: "127.0.0.1,::1:5000": write IPv6 addresses as [ADDRESS]:PORT, a list as [ADDRESS],[ADDRESS]:PORT' \
  sctp-client --connect 127.0.0.1,::1:5000 --insecure
expect 2 '--connect: "[::1],::2:5000": a list that starts with [ADDRESS] has every address in brackets' \
  sctp-client --connect '[::1],::2:5000' --insecure
expect 2 '--listen: "[::1]x:5000" is not [ADDRESS]:PORT (a list: [ADDRESS],[ADDRESS]:PORT)' \
  sctp-server --listen '[::1]x:5000'
U=(--insecure --backend usrsctp)
expect 1 '--connect: cannot resolve nosuch.invalid' \
  sctp-client --connect 127.0.0.1,nosuch.invalid:5000 "${U[@]}"
expect 1 '--connect 127.0.0.1,,127.0.0.2: an empty entry in the address list' \
  sctp-client --connect 127.0.0.1,,127.0.0.2:5000 "${U[@]}"
expect 1 '--connect: 127.0.0.1 and 127.0.0.1 are the same address' \
  sctp-client --connect 127.0.0.1,127.0.0.1:5000 "${U[@]}"
expect 1 '--connect: more than 8 addresses' \
  sctp-client --connect 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9:5000 \
  "${U[@]}"
expect 1 '--connect: ::1 is IPv6 and 127.0.0.1 is IPv4: list addresses of one family' \
  sctp-client --connect '[::1],[127.0.0.1]:5000' "${U[@]}"
expect 1 '--listen: cannot resolve nosuch.invalid' \
  sctp-server --listen 127.0.0.1,nosuch.invalid:5000 --backend usrsctp
expect 1 '--bind: cannot resolve nosuch.invalid' \
  sctp-client --connect 127.0.0.1:5000 "${U[@]}" --bind 127.0.0.1,nosuch.invalid
expect_not 'transport failure'

expect 2 '--max-peers: "-1" is not a number (1..4294967295)' \
  dtls-server --max-peers -1
expect 2 '--max-peers: 0 is out of range (1..4294967295)' \
  dtls-server --max-peers 0
expect 2 '--idle: "abc" is not a number of seconds (0..2592000)' \
  dtls-server --idle abc
expect 2 '--idle: "-5" is not a number of seconds' dtls-server --idle -5
expect 2 '--idle: 18446744074 is out of range (0..2592000 seconds)' \
  dtls-server --idle 18446744074
expect 2 '--mtu: 4294967552 is out of range (256..65535)' \
  dtls-server --mtu 4294967552
expect 2 '--mtu: 0 is out of range (256..65535)' dtls-server --mtu 0
expect_not 'No such file'
expect 2 '--mtu: "1e3" is not a number (256..65535)' \
  dtls-client --connect 127.0.0.1:5000 --insecure --mtu 1e3
expect 2 '--listen: port "99999" is not a number in 1..65535' \
  dtls-server --listen 127.0.0.1:99999
expect 2 '--listen: ":" has no port (1..65535)' dtls-server --listen :
expect 2 '--listen: port "0" is not a number in 1..65535' \
  dtls-server --listen 0
expect 2 '--connect: port "0" is not a number in 1..65535' \
  dtls-client --connect 127.0.0.1:0 --insecure
expect 2 '--linger: "-1" is not a number of milliseconds (0..3600000)' \
  dtls-client --connect 127.0.0.1:5000 --insecure --linger -1
expect 2 '--exit-after: "1x" is not a number' dtls-server --exit-after 1x
expect 2 '--stats-interval: 86401 is out of range (0..86400 seconds)' \
  dtls-server --stats-interval 86401
expect 2 '--echo takes no value' dtls-server --echo=1
expect 2 'unknown option --connect' dtls-server --connect 127.0.0.1:5000
expect 2 'unknown option --listen' dtls-client --listen 127.0.0.1:5000
expect 2 '--connect HOST:PORT is required' dtls-client --insecure
expect 2 'give --ca FILE, --pin SHA256, --psk ID:KEY or --insecure' dtls-client --connect 127.0.0.1:5000
expect 2 '--cert and --key go together' dtls-client --connect 127.0.0.1:5000 \
  --insecure --key x
expect 2 'unknown option --bogus' demo --bogus
expect 2 'unexpected argument "extra"' demo extra

# --- files ---------------------------------------------------------------------
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$W/k1.pem" -out "$W/c1.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -days 2 >/dev/null 2>&1 &&
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$W/k2.pem" >/dev/null 2>&1; then
  have_certs=1
  for c in dtls-server sctp-server; do
    L=127.0.0.1:$(free_port)
    expect 1 "--cert $W/missing.pem: no such file" \
      "$c" --listen "$L" --cert "$W/missing.pem" --key "$W/k1.pem"
    expect 1 "--key $W/missing.pem: no such file" \
      "$c" --listen "$L" --cert "$W/c1.pem" --key "$W/missing.pem"
    expect 1 "--cert $W: not a regular file" \
      "$c" --listen "$L" --cert "$W" --key "$W/k1.pem"
    expect 1 "--cert $W/k1.pem: not a PEM certificate" \
      "$c" --listen "$L" --cert "$W/k1.pem" --key "$W/k1.pem"
    expect 1 "--key $W/c1.pem: not a PEM private key" \
      "$c" --listen "$L" --cert "$W/c1.pem" --key "$W/c1.pem"
    expect 1 "--key $W/k2.pem does not match the certificate in --cert $W/c1.pem" \
      "$c" --listen "$L" --cert "$W/c1.pem" --key "$W/k2.pem"
  done
  expect 1 "--ca $W/missing.pem: no such file" \
    dtls-client --connect 127.0.0.1:5000 --ca "$W/missing.pem"
  expect 1 "--ca $W/k1.pem: not a PEM certificate" \
    dtls-client --connect 127.0.0.1:5000 --ca "$W/k1.pem"
  expect 1 "--ca $W/missing.pem: no such file" \
    sctp-client --connect 127.0.0.1:5000 --backend usrsctp \
    --ca "$W/missing.pem"
  expect 1 "--key $W/k2.pem does not match" dtls-client \
    --connect 127.0.0.1:5000 --insecure --cert "$W/c1.pem" --key "$W/k2.pem"
  if [ "$(id -u)" != 0 ]; then
    cp "$W/c1.pem" "$W/locked.pem" && chmod 000 "$W/locked.pem"
    expect 1 "--cert $W/locked.pem: not readable" \
      dtls-server --listen "$L" --cert "$W/locked.pem" --key "$W/k1.pem"
  else
    echo "note: running as root, the unreadable-file case is skipped"
  fi
else
  have_certs=0
  echo "note: openssl could not make certificates, file cases skipped"
fi

# --- names and backends ------------------------------------------------------
expect 1 "cannot resolve nosuch.invalid" \
  dtls-client --connect nosuch.invalid:5000 --insecure
expect 1 "cannot resolve nosuch.invalid" \
  sctp-client --connect nosuch.invalid:5000 --insecure --backend usrsctp
expect_not "transport failure"
ncheck=$((ncheck + 1))
timeout 60 "$T" sctp-client --connect 127.0.0.1:1 --insecure \
  --backend kernel </dev/null >"$W/out" 2>&1
rc=$?
if grep -qF "the kernel has no SCTP" "$W/out"; then
  [ "$rc" = 1 ] || fail "--backend kernel without SCTP: exit $rc, want 1"
  grep -qF "use --backend usrsctp" "$W/out" ||
    fail "--backend kernel without SCTP does not suggest usrsctp"
else
  echo "note: the kernel has SCTP here; the no-SCTP message is not checked"
fi

# --- good runs ---------------------------------------------------------------
expect 0 "TLS1.3" demo
expect 0 "TLS1.3" demo --memory

# sctp-server/sctp-client over usrsctp (UDP encapsulation on PORT and
# PORT+1), echo on stream 3.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/ss.out" sctp-server --listen "127.0.0.1:$P" --backend usrsctp \
  --echo --once --udp-buffer 1048576
SP=$BG
if wait_for "$W/ss.out" "listening on 127.0.0.1:$P"; then
  printf 'hello over sctp\n' |
    timeout 60 "$T" sctp-client --connect "127.0.0.1:$P" --backend usrsctp \
      --insecure --stream 3 --linger 60000 >"$W/sc.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "sctp-client: exit $rc"
  grep -qF "[stream 3] hello over sctp" "$W/sc.out" ||
    fail "sctp-client: no echo on stream 3"
fi
wait "$SP"
rc=$?
[ "$rc" = 0 ] || fail "sctp-server --once: exit $rc"
grep -qF "association 1 closed (all streams closed)" "$W/ss.out" ||
  fail "sctp-server: association not reported closed"
grep -qE '^usrsctp UDP \(exit\): receive buffer [1-9][0-9]*, dropped [0-9]+$' \
  "$W/ss.out" || fail "sctp-server: no usrsctp UDP counters at exit"
[ "$rc" = 0 ] || sed 's/^/    /' "$W/ss.out" "$W/sc.out" | tail -20

# A connect to a port where nothing listens (two addresses, both
# loopback) gives up by itself: the progress line names the bound (the
# INITs alternate between the addresses, each doubling its own timer, so
# 1.2 s rather than 2.4), the failure how long it waited. No verdict on
# the time: the bound is only printed. The default profile adds a hint to
# the failover profile (a short INIT schedule keeps this run quick).
ncheck=$((ncheck + 1))
P=$(free_port)
timeout 60 "$T" sctp-client --connect "127.0.0.1,127.0.0.2:$P" --insecure \
  --backend usrsctp --profile failover </dev/null >"$W/nc.out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "sctp-client to a silent port: exit $rc, want 1"
grep -qF "connecting to 127.0.0.1,127.0.0.2 port $P (usrsctp, profile failover: gives up after about 1.2 s)" \
  "$W/nc.out" || fail "sctp-client to a silent port: no progress line"
grep -qE "^mstls: no answer from 127.0.0.1,127.0.0.2 port $P after [0-9]+\.[0-9] s: nothing listens there, or the host or the path is down$" \
  "$W/nc.out" || fail "sctp-client to a silent port: no 'no answer' message"
grep -qF "gives up in about" "$W/nc.out" &&
  fail "sctp-client --profile failover: hint to the failover profile"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/nc.out"
ncheck=$((ncheck + 1))
P=$(free_port)
timeout 60 "$T" sctp-client --connect "127.0.0.1:$P" --insecure \
  --backend usrsctp --rto-initial 100 --rto-min 100 --init-attempts 1 \
  </dev/null >"$W/nc.out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "sctp-client to a silent port, default profile: exit $rc"
grep -qF "(usrsctp, profile default: gives up after about 0.3 s)" \
  "$W/nc.out" || fail "sctp-client, default profile: no bound in progress line"
grep -qF "mstls: no answer from 127.0.0.1 port $P after" "$W/nc.out" ||
  fail "sctp-client, default profile: no 'no answer' message"
grep -qF "(--profile failover gives up in about 2.4 s)" "$W/nc.out" ||
  fail "sctp-client, default profile: no hint to --profile failover"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/nc.out"

# The failover profile on both sides, tunables on top of it and a bound
# local address on the client: the echo arrives and the client reports
# its progress (connecting, association up) on stderr.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/fs.out" sctp-server --listen "127.0.0.1:$P" --backend usrsctp \
  --echo --once --profile failover
SP=$BG
if wait_for "$W/fs.out" "listening on 127.0.0.1:$P (usrsctp, profile failover)"; then
  printf 'hello with failover\n' |
    timeout 60 "$T" sctp-client --connect "127.0.0.1:$P" --backend usrsctp \
      --insecure --stream 2 --linger 60000 --profile failover --rto-min 50 \
      --heartbeat 200 --bind 127.0.0.1 >"$W/fc.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "sctp-client --profile failover: exit $rc"
  grep -qF "[stream 2] hello with failover" "$W/fc.out" ||
    fail "sctp-client --profile failover: no echo on stream 2"
  grep -qF "connecting to 127.0.0.1 port $P from 127.0.0.1 (usrsctp, profile failover: gives up after about 2.4 s)" \
    "$W/fc.out" || fail "sctp-client --profile failover: no progress line"
  grep -qF "SCTP association up, TLS handshakes on 10 streams..." \
    "$W/fc.out" || fail "sctp-client --profile failover: no 'association up'"
fi
wait "$SP"
rc=$?
[ "$rc" = 0 ] || fail "sctp-server --profile failover --once: exit $rc"
grep -qF "association 1 up over usrsctp" "$W/fs.out" ||
  fail "sctp-server --profile failover: association not reported up"
grep -qF "association 1 closed (all streams closed)" "$W/fs.out" ||
  fail "sctp-server --profile failover: association not reported closed"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/fs.out" "$W/fc.out" | tail -30

# Multihoming: two addresses on each end, in a network namespace of our
# own (root only), by this script again (--multihome above).
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
  ncheck=$((ncheck + 1))
  timeout 120 unshare -n bash "$0" "$T" --multihome >"$W/mh.out" 2>&1
  rc=$?
  if [ "$rc" != 0 ]; then
    fail "multihoming run in a network namespace: exit $rc"
    sed 's/^/    /' "$W/mh.out" | tail -30
  fi
else
  echo "note: not root or no network namespaces: the two-address run is skipped"
fi

# dtls-server/dtls-client with echo; the counters on SIGUSR1, on the
# interval and at exit, restarts included.
ncheck=$((ncheck + 1))
P=$(free_port)
CA=(--insecure)
SC=()
if [ "$have_certs" = 1 ]; then
  CA=(--ca "$W/c1.pem")
  SC=(--cert "$W/c1.pem" --key "$W/k1.pem")
fi
bg "$W/ds.out" dtls-server --listen "127.0.0.1:$P" "${SC[@]}" --echo \
  --exit-after 1 --stats-interval 1
DP=$BG
if wait_for "$W/ds.out" "listening on 127.0.0.1:$P"; then
  kill -USR1 "$DP"
  wait_for "$W/ds.out" "stats (SIGUSR1): peers 0"
  wait_for "$W/ds.out" "stats (interval)"
  printf 'hello over dtls\n' |
    timeout 60 "$T" dtls-client --connect "127.0.0.1:$P" "${CA[@]}" \
      --linger 60000 >"$W/dc.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "dtls-client: exit $rc"
  grep -qF "hello over dtls" "$W/dc.out" || fail "dtls-client: no echo"
fi
wait "$DP"
rc=$?
[ "$rc" = 0 ] || fail "dtls-server --exit-after 1: exit $rc"
grep -qF "handshakes 1 done / 0 failed" "$W/ds.out" ||
  fail "dtls-server: exit counters lack the handshake"
grep -qE "stats \(exit\):.* restarts 0," "$W/ds.out" ||
  fail "dtls-server: exit counters lack restarts"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/ds.out" "$W/dc.out" | tail -20

# --- TLS options: --alpn, --keylog, --pin, --psk ----------------------------
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
for c in sctp-client dtls-client; do
  expect 2 '--alpn: "a,,b": each protocol name is 1..255 bytes' \
    "$c" --connect 127.0.0.1:5000 --insecure --alpn a,,b
  expect 2 '--pin: "zz" is not a SHA-256 fingerprint' \
    "$c" --connect 127.0.0.1:5000 --pin zz
  expect 2 '--psk: "nokey" is not IDENTITY:HEXKEY' \
    "$c" --connect 127.0.0.1:5000 --psk nokey
  expect 2 '--psk: "id:00" is not IDENTITY:HEXKEY' \
    "$c" --connect 127.0.0.1:5000 --psk id:00
  expect 2 '--psk: a client offers one key' \
    "$c" --connect 127.0.0.1:5000 --psk "a:$KEY,b:$KEY"
  expect 2 '--keylog: a file name is needed' \
    "$c" --connect 127.0.0.1:5000 --insecure --keylog=
  expect 1 "--keylog $W/no/such/dir/k.log" \
    "$c" --connect 127.0.0.1:5000 --insecure --keylog "$W/no/such/dir/k.log"
done
expect 2 '--require-cert needs --ca FILE or --pin SHA256' \
  dtls-server --require-cert
expect 2 '--session: a file name is needed' \
  dtls-client --connect 127.0.0.1:5000 --insecure --session=
expect 2 'unknown option --session' dtls-server --session x

# sctp-server/sctp-client with a pre-shared key and ALPN, no certificate
# checked: the client names the protocol and the identity, the echo comes
# back, and the key log has the TLS 1.3 secrets.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/ps.out" sctp-server --listen "127.0.0.1:$P" --backend usrsctp \
  --echo --once --alpn diameter --psk "node-a:$KEY"
SP=$BG
if wait_for "$W/ps.out" "listening on 127.0.0.1:$P"; then
  printf 'hello over psk\n' |
    timeout 60 "$T" sctp-client --connect "127.0.0.1:$P" --backend usrsctp \
      --psk "node-a:$KEY" --alpn x-other,diameter --keylog "$W/sk.log" \
      --stream 2 --linger 60000 >"$W/pc.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "sctp-client --psk: exit $rc"
  grep -qF "ALPN diameter, PSK identity node-a" "$W/pc.out" ||
    fail "sctp-client --psk --alpn: no 'ALPN diameter, PSK identity node-a'"
  grep -qF "[stream 2] hello over psk" "$W/pc.out" ||
    fail "sctp-client --psk: no echo on stream 2"
  grep -qE '^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]+$' "$W/sk.log" ||
    fail "sctp-client --keylog: no CLIENT_TRAFFIC_SECRET_0 line"
fi
wait "$SP"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/ps.out" "$W/pc.out" | tail -20

# dtls-client pinning the server's certificate: the fingerprint printed
# by a first (--insecure) run lets a second run in without --ca; a wrong
# pin is refused with the fingerprint seen.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/pd.out" dtls-server --listen "127.0.0.1:$P" --echo --exit-after 3
DP=$BG
if wait_for "$W/pd.out" "listening on 127.0.0.1:$P"; then
  printf 'first\n' | timeout 60 "$T" dtls-client --connect "127.0.0.1:$P" \
    --insecure --linger 60000 >"$W/p1.out" 2>&1
  FP=$(sed -n 's/.*peer certificate sha256 \([0-9a-f]*\).*/\1/p' "$W/p1.out")
  [ -n "$FP" ] || fail "dtls-client: no peer fingerprint printed"
  printf 'pinned\n' | timeout 60 "$T" dtls-client --connect "127.0.0.1:$P" \
    --pin "$FP" --linger 60000 >"$W/p2.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "dtls-client --pin: exit $rc"
  grep -qF "(verified)" "$W/p2.out" || fail "dtls-client --pin: not verified"
  grep -qF "pinned" "$W/p2.out" || fail "dtls-client --pin: no echo"
  printf 'refused\n' | timeout 60 "$T" dtls-client \
    --connect "127.0.0.1:$P" --pin "$KEY" --linger 60000 >"$W/p3.out" 2>&1
  rc=$?
  [ "$rc" = 1 ] || fail "dtls-client, wrong pin: exit $rc, want 1"
  grep -qF "matches no pin" "$W/p3.out" ||
    fail "dtls-client, wrong pin: no 'matches no pin' detail"
fi
wait "$DP"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/pd.out" "$W/p2.out" "$W/p3.out" | tail -20

# dtls-client --session: the first run does a full handshake and keeps
# the session in the file (mode 0600), the second resumes it; a file that
# is not resumption data is said so and costs a full handshake, no error.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/rs.out" dtls-server --listen "127.0.0.1:$P" --echo --exit-after 3
DP=$BG
if wait_for "$W/rs.out" "listening on 127.0.0.1:$P"; then
  for run in 1 2 3; do
    if [ "$run" = 3 ]; then
      printf 'not a session' >"$W/dtls.session"
    fi
    printf 'run %s\n' "$run" | timeout 60 "$T" dtls-client \
      --connect "127.0.0.1:$P" --insecure --session "$W/dtls.session" \
      --linger 60000 >"$W/rs$run.out" 2>&1
    rc=$?
    [ "$rc" = 0 ] || fail "dtls-client --session, run $run: exit $rc"
    grep -qF "run $run" "$W/rs$run.out" ||
      fail "dtls-client --session, run $run: no echo"
  done
  grep -qF "ALPN -, full handshake" "$W/rs1.out" ||
    fail "dtls-client --session, first run: not a full handshake"
  grep -qF "ALPN -, resumed" "$W/rs2.out" ||
    fail "dtls-client --session, second run: not resumed"
  grep -qF "not resumption data" "$W/rs3.out" ||
    fail "dtls-client --session, damaged file: not reported"
  grep -qF "ALPN -, full handshake" "$W/rs3.out" ||
    fail "dtls-client --session, damaged file: not a full handshake"
  [ "$(stat -c %a "$W/dtls.session")" = 600 ] ||
    fail "dtls-client --session: file mode is not 600"
fi
wait "$DP"
grep -qF "ALPN -, resumed" "$W/rs.out" ||
  fail "dtls-server: the second client was not resumed"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/rs.out" "$W/rs"[123].out | tail -20

# --- dtls-server --workers N and --fleet-secret FILE ---------------------------
expect 2 '--workers: 0 is out of range (1..256)' dtls-server --workers 0
expect 2 '--workers: 257 is out of range (1..256)' dtls-server --workers 257
expect 2 '--workers: "two" is not a number (1..256)' dtls-server --workers two
FK=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
printf '# fleet secret\n%s\n' "$FK" >"$W/fleet.key"
printf 'not hex\n' >"$W/bad.key"
printf '0011\n' >"$W/short.key"
printf '%s\n%s\n%s\n' "$FK" "$FK" "$FK" >"$W/three.key"
: >"$W/empty.key"
chmod 600 "$W/fleet.key" "$W/bad.key" "$W/short.key" "$W/three.key" \
  "$W/empty.key"
printf '%s\n' "$FK" >"$W/open.key" && chmod 644 "$W/open.key"
L=127.0.0.1:$(free_port)
expect 1 "--fleet-secret $W/bad.key:1: not hexadecimal (character 1)" \
  dtls-server --listen "$L" --fleet-secret "$W/bad.key"
expect 1 "--fleet-secret $W/short.key:1: secret of 2 bytes; it must have 32 to 64 bytes" \
  dtls-server --listen "$L" --fleet-secret "$W/short.key" --workers 2
expect 1 "--fleet-secret $W/three.key:3: a third secret" \
  dtls-server --listen "$L" --fleet-secret "$W/three.key"
expect 1 "--fleet-secret $W/empty.key: no secret in the file" \
  dtls-server --listen "$L" --fleet-secret "$W/empty.key"
expect 1 "--fleet-secret $W/missing.key: No such file or directory" \
  dtls-server --listen "$L" --fleet-secret "$W/missing.key"
expect 1 "--fleet-secret $W/open.key: other users may read or write it (mode 644)" \
  dtls-server --listen "$L" --fleet-secret "$W/open.key"

# Two workers on one address, one fleet secret: several clients at once
# all get their echo; the counters are summed and printed per worker.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/dw.out" dtls-server --listen "127.0.0.1:$P" --workers 2 \
  --fleet-secret "$W/fleet.key" --echo --exit-after 6 --quiet
DP=$BG
if wait_for "$W/dw.out" "listening on 127.0.0.1:$P (2 workers, fleet "; then
  CP=()
  for i in 1 2 3 4 5 6; do
    printf 'client %s\n' "$i" | timeout 60 "$T" dtls-client \
      --connect "127.0.0.1:$P" --insecure --linger 60000 --quiet \
      >"$W/dw$i.out" 2>&1 &
    CP+=("$!")
  done
  for i in 1 2 3 4 5 6; do
    wait "${CP[$((i - 1))]}"
    rc=$?
    [ "$rc" = 0 ] || fail "dtls-client $i of 6 (2 workers): exit $rc"
    grep -qF "client $i" "$W/dw$i.out" ||
      fail "dtls-client $i of 6 (2 workers): no echo"
  done
fi
wait "$DP"
rc=$?
[ "$rc" = 0 ] || fail "dtls-server --workers 2 --exit-after 6: exit $rc"
grep -qE "stats \(exit\): .*handshakes 6 done / 0 failed" "$W/dw.out" ||
  fail "dtls-server --workers 2: summed counters lack 6 handshakes"
for i in 1 2; do
  grep -qF "stats (exit, worker $i): " "$W/dw.out" ||
    fail "dtls-server --workers 2: no counters of worker $i"
done
[ "$fails" = 0 ] || sed 's/^/    /' "$W/dw.out" | tail -20

# --workers 1 is one socket without SO_REUSEPORT, as before: another
# server cannot bind the address, and the counters have no worker lines.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/d1.out" dtls-server --listen "127.0.0.1:$P" --workers 1 --echo \
  --exit-after 1 --quiet
DP=$BG
if wait_for "$W/d1.out" "listening on 127.0.0.1:$P"; then
  grep -qF "workers" "$W/d1.out" && fail "dtls-server --workers 1: workers"
  expect 1 "listen on 127.0.0.1:$P (worker 1): transport failure (Address already in use)" \
    dtls-server --listen "127.0.0.1:$P" --workers 2
  printf 'one worker\n' | timeout 60 "$T" dtls-client \
    --connect "127.0.0.1:$P" --insecure --linger 60000 >"$W/d1c.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "dtls-client (1 worker): exit $rc"
  grep -qF "one worker" "$W/d1c.out" || fail "dtls-client (1 worker): no echo"
fi
wait "$DP"
rc=$?
[ "$rc" = 0 ] || fail "dtls-server --workers 1 --exit-after 1: exit $rc"
grep -qF "stats (exit): " "$W/d1.out" || fail "dtls-server --workers 1: no counters"
grep -qF "worker 1" "$W/d1.out" && fail "dtls-server --workers 1: worker lines"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/d1.out" | tail -20

# Two workers and a fleet secret: a DTLS session resumes (whichever
# worker serves it: they share the ticket key). SIGHUP reads the file
# again: round 1 of a secret replacement (an accept-only next secret)
# keeps tickets valid; a bad file keeps the keys in use; round 2 (the new
# secret current, the old one accept-only) makes the old ticket useless,
# so the next client gets a full handshake, no error.
# wait_count FILE TEXT N: until TEXT is in N lines of FILE (bounded).
wait_count() {
  local i
  for ((i = 0; i < 600; i++)); do
    [ "$(grep -cF -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "'$2' did not appear $3 times in $(basename "$1")"
  return 1
}
ncheck=$((ncheck + 1))
FK2=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
P=$(free_port)
printf '%s\n' "$FK" >"$W/fleet2.key" && chmod 600 "$W/fleet2.key"
bg "$W/rh.out" dtls-server --listen "127.0.0.1:$P" --workers 2 \
  --fleet-secret "$W/fleet2.key" --echo --exit-after 3
DP=$BG
if wait_for "$W/rh.out" "listening on 127.0.0.1:$P (2 workers, fleet "; then
  for run in 1 2 3; do
    if [ "$run" = 2 ]; then
      printf '%s\n%s\n' "$FK" "$FK2" >"$W/fleet2.key"
      kill -HUP "$DP"
      wait_count "$W/rh.out" "SIGHUP: fleet secret read again (fleet " 1
    fi
    if [ "$run" = 3 ]; then
      printf 'zz\n' >"$W/fleet2.key"
      kill -HUP "$DP"
      wait_for "$W/rh.out" "SIGHUP: --fleet-secret $W/fleet2.key:1: not hexadecimal (character 1); the keys in use stay"
      printf '%s\n%s\n' "$FK2" "$FK" >"$W/fleet2.key"
      kill -HUP "$DP"
      wait_count "$W/rh.out" "SIGHUP: fleet secret read again (fleet " 2
    fi
    printf 'hup %s\n' "$run" | timeout 60 "$T" dtls-client \
      --connect "127.0.0.1:$P" --insecure --session "$W/rh.session" \
      --linger 60000 >"$W/rh$run.out" 2>&1
    rc=$?
    [ "$rc" = 0 ] || fail "dtls-client --session (2 workers), run $run: exit $rc"
    grep -qF "hup $run" "$W/rh$run.out" ||
      fail "dtls-client --session (2 workers), run $run: no echo"
  done
  grep -qF "ALPN -, full handshake" "$W/rh1.out" ||
    fail "2 workers, first run: not a full handshake"
  grep -qF "ALPN -, resumed" "$W/rh2.out" ||
    fail "2 workers, second run (after round 1): not resumed"
  grep -qF "ALPN -, full handshake" "$W/rh3.out" ||
    fail "2 workers, after the new secret: not a full handshake"
fi
wait "$DP"
rc=$?
[ "$rc" = 0 ] || fail "dtls-server --workers 2, SIGHUP: exit $rc"
grep -qE "stats \(exit\): .*handshakes 3 done / 0 failed" "$W/rh.out" ||
  fail "dtls-server --workers 2, SIGHUP: not 3 handshakes done"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/rh.out" "$W/rh"[123].out | tail -20

# --- sctp-server --workers N and --fleet-secret FILE, sctp-client --session --
expect 2 '--workers: 0 is out of range (1..256)' \
  sctp-server --listen 5000 --workers 0
expect 2 '--workers: 257 is out of range (1..256)' \
  sctp-server --listen 5000 --workers 257
expect 2 '--workers: "two" is not a number (1..256)' \
  sctp-server --listen 5000 --workers two
expect 2 '--workers is for sctp-server' \
  sctp-client --connect 127.0.0.1:5000 --insecure --workers 2
expect 2 '--fleet-secret is for sctp-server' \
  sctp-client --connect 127.0.0.1:5000 --insecure --fleet-secret "$W/fleet.key"
expect 2 '--session is for sctp-client' sctp-server --listen 5000 --session x
expect 2 '--session: a file name is needed' \
  sctp-client --connect 127.0.0.1:5000 --insecure --session=
# usrsctp is one SCTP stack per process: no workers there, and the
# message says what to do instead.
NO_WORKERS="--workers 2: usrsctp is one SCTP stack per process, and its listeners cannot share a port; use --backend kernel (the workers share the port with SO_REUSEPORT), or run several sctp-server processes on different UDP encapsulation ports (--udp-port) behind a balancer"
expect 2 "$NO_WORKERS" sctp-server --listen 5000 --backend usrsctp --workers 2
if [ ! -d /proc/sys/net/sctp ]; then
  # The default backend here is usrsctp: the same refusal, and why.
  expect 2 "$NO_WORKERS" sctp-server --listen 5000 --workers 2
  expect 2 "(this kernel has no SCTP, so the backend is usrsctp)" \
    sctp-server --listen 5000 --workers 2
fi
# The fleet file's errors, as dtls-server says them (exit 1, before the
# server starts).
L=127.0.0.1:$(free_port)
expect 1 "--fleet-secret $W/bad.key:1: not hexadecimal (character 1)" \
  sctp-server --listen "$L" --backend usrsctp --fleet-secret "$W/bad.key"
expect 1 "--fleet-secret $W/short.key:1: secret of 2 bytes; it must have 32 to 64 bytes" \
  sctp-server --listen "$L" --backend usrsctp --fleet-secret "$W/short.key"
expect 1 "--fleet-secret $W/three.key:3: a third secret" \
  sctp-server --listen "$L" --backend usrsctp --fleet-secret "$W/three.key"
expect 1 "--fleet-secret $W/empty.key: no secret in the file" \
  sctp-server --listen "$L" --backend usrsctp --fleet-secret "$W/empty.key"
expect 1 "--fleet-secret $W/missing.key: No such file or directory" \
  sctp-server --listen "$L" --backend usrsctp --fleet-secret "$W/missing.key"
expect 1 "--fleet-secret $W/open.key: other users may read or write it (mode 644)" \
  sctp-server --listen "$L" --backend usrsctp --fleet-secret "$W/open.key"

# One fleet secret, two server processes (one worker each): a client
# keeps its session in a file after a full handshake with the first and
# resumes every stream with the second. SIGHUP to the second: a bad file
# keeps the keys in use; a new secret makes the old ticket useless, so
# the next client gets full handshakes, no error. A file that is not
# resumption data is said so and costs full handshakes, no error.
ncheck=$((ncheck + 1))
printf '%s\n' "$FK" >"$W/fleet3.key" && chmod 600 "$W/fleet3.key"
P=$(free_port)
bg "$W/sf1.out" sctp-server --listen "127.0.0.1:$P" --backend usrsctp \
  --workers 1 --fleet-secret "$W/fleet3.key" --echo --once --streams 4
SP=$BG
if wait_for "$W/sf1.out" "listening on 127.0.0.1:$P (usrsctp, profile default, fleet "; then
  printf 'first\n' | timeout 60 "$T" sctp-client \
    --connect "127.0.0.1:$P" --backend usrsctp --insecure --streams 4 \
    --session "$W/sctp.session" --linger 60000 >"$W/sfc1.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "sctp-client --session, first run: exit $rc"
  grep -qF "[stream 0] first" "$W/sfc1.out" ||
    fail "sctp-client --session, first run: no echo"
  grep -qF -- "--session $W/sctp.session: no session kept yet (a full handshake)" \
    "$W/sfc1.out" || fail "sctp-client --session, first run: not a full handshake"
fi
wait "$SP"
[ "$(stat -c %a "$W/sctp.session" 2>/dev/null)" = 600 ] ||
  fail "sctp-client --session: file mode is not 600"
grep -qF "workers" "$W/sf1.out" && fail "sctp-server --workers 1: workers"
P=$(free_port)
bg "$W/sf2.out" sctp-server --listen "127.0.0.1:$P" --backend usrsctp \
  --fleet-secret "$W/fleet3.key" --echo --streams 4
SP=$BG
if wait_for "$W/sf2.out" "listening on 127.0.0.1:$P (usrsctp, profile default, fleet "; then
  FID=$(sed -n 's/.*, fleet \([0-9a-f]*\))$/\1/p' "$W/sf2.out")
  grep -qF "fleet $FID)" "$W/sf1.out" ||
    fail "sctp-server: the two servers name different fleets"
  for run in 2 3 4; do
    if [ "$run" = 3 ]; then
      printf 'zz\n' >"$W/fleet3.key"
      kill -HUP "$SP"
      wait_for "$W/sf2.out" "mstls sctp-server: SIGHUP: --fleet-secret $W/fleet3.key:1: not hexadecimal (character 1); the keys in use stay"
      printf '%s\n' "$FK2" >"$W/fleet3.key"
      kill -HUP "$SP"
      wait_for "$W/sf2.out" "mstls sctp-server: SIGHUP: fleet secret read again (fleet "
      grep -qF "SIGHUP: fleet secret read again (fleet $FID)" "$W/sf2.out" &&
        fail "sctp-server SIGHUP: the new secret has the old fleet id"
    fi
    [ "$run" = 4 ] && printf 'not a session' >"$W/sctp.session"
    printf 'run %s\n' "$run" | timeout 60 "$T" sctp-client \
      --connect "127.0.0.1:$P" --backend usrsctp --insecure --streams 4 \
      --stream 2 --session "$W/sctp.session" --linger 60000 \
      >"$W/sfc$run.out" 2>&1
    rc=$?
    [ "$rc" = 0 ] || fail "sctp-client --session, run $run: exit $rc"
    grep -qF "[stream 2] run $run" "$W/sfc$run.out" ||
      fail "sctp-client --session, run $run: no echo"
  done
  grep -qF -- "--session $W/sctp.session: 4 of 4 streams resumed" \
    "$W/sfc2.out" ||
    fail "sctp-client --session, another server of the fleet: not resumed"
  grep -qF "association 1 up over usrsctp (UDP encapsulation): streams in 4, out 4 -> 4 TLS streams established (4 resumed)" \
    "$W/sf2.out" || fail "sctp-server: the resumed association not reported"
  grep -qF -- "--session $W/sctp.session: 0 of 4 streams resumed" \
    "$W/sfc3.out" || fail "sctp-client --session, after the new secret: resumed"
  grep -qF "not resumption data this server takes; full handshakes instead" \
    "$W/sfc4.out" || fail "sctp-client --session, damaged file: not reported"
  grep -qF -- "--session $W/sctp.session: 0 of 4 streams resumed" \
    "$W/sfc4.out" || fail "sctp-client --session, damaged file: resumed"
  kill -TERM "$SP"
fi
wait "$SP"
rc=$?
[ "$rc" = 0 ] || fail "sctp-server --fleet-secret, SIGTERM: exit $rc"
grep -qF "counters (exit): accepted 3, " "$W/sf2.out" ||
  fail "sctp-server --fleet-secret: not 3 associations accepted"
grep -qF "completed 3, failed 0" "$W/sf2.out" ||
  fail "sctp-server --fleet-secret: not 3 associations completed"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/sf1.out" "$W/sf2.out" "$W/sfc"[1234].out |
  tail -40

# --- raw public keys (--rawpk) and the log (--log-level) --------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -out "$W/rs.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -out "$W/rc.key" 2>/dev/null
# The pins as the peer's operator computes them: SHA-256 of the DER
# SubjectPublicKeyInfo, here with openssl.
spki_pin() {
  openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | sha256sum |
    cut -d' ' -f1
}
RS_PIN=$(spki_pin "$W/rs.key")
RC_PIN=$(spki_pin "$W/rc.key")
for c in sctp-client dtls-client; do
  expect 2 '--rawpk: a PEM private key file is needed' \
    "$c" --connect 127.0.0.1:5000 --insecure --rawpk=
  expect 2 '--log-level: "loud" is not one of' \
    "$c" --connect 127.0.0.1:5000 --insecure --log-level loud
done
expect 1 "--rawpk $W/nokey.pem: credentials could not be loaded" \
  dtls-client --connect 127.0.0.1:5000 --insecure --rawpk "$W/nokey.pem"
echo 'not a key' >"$W/notakey.pem"
expect 1 "--rawpk $W/notakey.pem: credentials could not be loaded" \
  dtls-server --listen 127.0.0.1:5000 --rawpk "$W/notakey.pem" --exit-after 1
expect 1 "--rawpk $W/notakey.pem: credentials could not be loaded" \
  sctp-server --listen 127.0.0.1:5000 --rawpk "$W/notakey.pem" --once

# dtls-server and dtls-client with raw keys both ways, each pinning the
# other's: the tool prints the same pin as openssl; an unpinned raw key
# is refused; the log names the handshake and the close.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/rd.out" dtls-server --listen "127.0.0.1:$P" --echo --exit-after 2 \
  --rawpk "$W/rs.key" --pin "$RC_PIN" --log-level info
DP=$BG
if wait_for "$W/rd.out" "listening on 127.0.0.1:$P"; then
  grep -qF "raw public key pin $RS_PIN" "$W/rd.out" ||
    fail "dtls-server --rawpk: the pin printed is not openssl's $RS_PIN"
  printf 'raw keys\n' | timeout 60 "$T" dtls-client \
    --connect "127.0.0.1:$P" --rawpk "$W/rc.key" --pin "$RS_PIN" \
    --log-level info --linger 60000 >"$W/rc1.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "dtls-client --rawpk: exit $rc"
  grep -qF "peer raw public key sha256 $RS_PIN (verified)" "$W/rc1.out" ||
    fail "dtls-client --rawpk: the server's raw key is not verified"
  grep -qF "raw keys" "$W/rc1.out" || fail "dtls-client --rawpk: no echo"
  grep -qE "\[info\] client peer 127.0.0.1:$P: handshake done: DTLS1.2 .*raw public key" \
    "$W/rc1.out" || fail "dtls-client --log-level info: no handshake line"
  printf 'unpinned\n' | timeout 60 "$T" dtls-client \
    --connect "127.0.0.1:$P" --rawpk "$W/rc.key" --insecure \
    --linger 60000 >"$W/rc2.out" 2>&1
  rc=$?
  [ "$rc" = 1 ] || fail "dtls-client, raw key without a pin: exit $rc, want 1"
  grep -qF "cannot be trusted without a pin" "$W/rc2.out" ||
    fail "dtls-client, raw key without a pin: no reason given"
fi
wait "$DP"
grep -qF "[info] server peer 127.0.0.1:" "$W/rd.out" ||
  fail "dtls-server --log-level info: no peer lines"
grep -qF "closed by the peer (close_notify)" "$W/rd.out" ||
  fail "dtls-server --log-level info: no close line"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/rd.out" "$W/rc1.out" "$W/rc2.out" |
  tail -20

# sctp-server and sctp-client with raw keys: every stream comes up, the
# client sees the server's raw key verified by its pin, and the server's
# log has the association and the handshakes.
ncheck=$((ncheck + 1))
P=$(free_port)
bg "$W/rss.out" sctp-server --listen "127.0.0.1:$P" --backend usrsctp \
  --echo --once --rawpk "$W/rs.key" --pin "$RC_PIN" --log-level info
SP=$BG
if wait_for "$W/rss.out" "listening on 127.0.0.1:$P"; then
  printf 'raw over sctp\n' |
    timeout 60 "$T" sctp-client --connect "127.0.0.1:$P" --backend usrsctp \
      --rawpk "$W/rc.key" --pin "$RS_PIN" --stream 1 --linger 60000 \
      >"$W/rsc.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "sctp-client --rawpk: exit $rc"
  grep -qF "peer raw public key sha256 $RS_PIN (verified)" "$W/rsc.out" ||
    fail "sctp-client --rawpk: the server's raw key is not verified"
  grep -qF "[stream 1] raw over sctp" "$W/rsc.out" ||
    fail "sctp-client --rawpk: no echo on stream 1"
fi
wait "$SP"
grep -qE "\[info\] sctp association .*: up" "$W/rss.out" ||
  fail "sctp-server --log-level info: no association line"
grep -qE "\[info\] server session 0x[0-9a-f]+ stream 0: handshake done: TLS1.3 .*full, peer's raw public key" \
  "$W/rss.out" || fail "sctp-server --log-level info: no handshake line"
[ "$fails" = 0 ] || sed 's/^/    /' "$W/rss.out" "$W/rsc.out" | tail -20

echo "$ncheck checks, $fails failed"
[ "$fails" = 0 ]
