#!/bin/sh
# SCTP multihoming failover under TLS, inside the QEMU guest
# (tests/vm/run-in-vm.sh): two network namespaces, two veth pairs
#
#   mhc (client)  va1 10.0.1.1/24 ---- vb1 10.0.1.2/24  mhs (server)
#                 va2 10.0.2.1/24 ---- vb2 10.0.2.2/24
#
# The server listens on both of its addresses, the client binds both of
# its own and connects to both (primary 10.0.1.2), and every stream carries
# data without pause, echoed and checked byte by byte (mh_peer). While it
# runs the primary path goes down in both directions, then comes back:
#   --mode netem     tc netem loss 100% on va1 and vb1 (default)
#   --mode linkdown  ip link set va1 down (the veth peer loses carrier too)
# The association must fail over to 10.0.2.x with no stream failing and no
# byte lost, report 10.0.1.2 unreachable, and report it available again
# after the restore. The path is restored once it has been reported
# unreachable, shows inactive, and every stream has carried data since
# the report (mh_peer --cut-deadline: 90 s after the cut, the run fails
# saying which of these did not happen).
#
# Usage: multihoming.sh [--mode netem|linkdown] [--backend kernel|usrsctp]
#                       [--streams N] [--duration S] [--unbound-client] MH_PEER
# --unbound-client: the client binds no address (the stack offers all the
# namespace's addresses) instead of both of its own.
# Exits 0 when both peers passed, 1 otherwise, 77 when the guest lacks
# what the test needs (no ip/tc, no veth).
#
# Load-proof: the verdict is every byte echoed intact, the path events and
# both exit codes. The cut starts --cut-at s after every stream is up and
# ends on events (the path reported unreachable and every stream moved
# since), not at a fixed time; the client sends for at least --duration s
# and on while the path is cut and until its return is reported. The
# server's start (60 s), the handshake (60 s), the cut (90 s), the path's
# return (60 s after the restore), the echo's drain (50 s) and the
# processes (client 330 s, server 410 s) are bounded against a hang; a
# server that does not listen fails the run with its log.
set -u

mode=netem
backend=kernel
local="--local 10.0.1.1,10.0.2.1"
streams=8
duration=16
while [ $# -gt 1 ]; do
  case $1 in
  --mode) mode=$2; shift 2 ;;
  --backend) backend=$2; shift 2 ;;
  --streams) streams=$2; shift 2 ;;
  --duration) duration=$2; shift 2 ;;
  --unbound-client) local=; shift ;;
  *) break ;;
  esac
done
[ $# -eq 1 ] || {
  echo "usage: $0 [--mode netem|linkdown] [--backend kernel|usrsctp] [--streams N] [--duration S] [--unbound-client] MH_PEER" >&2
  exit 2
}
peer=$1
case $mode in netem | linkdown) ;; *) echo "unknown mode $mode" >&2; exit 2 ;; esac

command -v tc >/dev/null 2>&1 || { echo "no tc command"; exit 77; }

# shellcheck source=tests/vm/netns.sh
. "$(dirname "$0")/netns.sh"
work=$(mktemp -d /tmp/mh.XXXXXX)
ns_init "$work" mhc mhs
ns_link va1 10.0.1.1 vb1 10.0.1.2
ns_link va2 10.0.2.1 vb2 10.0.2.2

if [ "$mode" = netem ]; then
  cut="tc qdisc add dev va1 root netem loss 100% && ip netns exec mhs tc qdisc add dev vb1 root netem loss 100%"
  restore="tc qdisc del dev va1 root && ip netns exec mhs tc qdisc del dev vb1 root"
else
  cut="ip link set va1 down"
  restore="ip link set va1 up"
fi

# usrsctp: each process encapsulates in UDP on port 9899 of its namespace.
extra_s=
extra_c=
if [ "$backend" = usrsctp ]; then
  extra_s="--udp-port 9899"
  extra_c="--udp-port 9899 --remote-udp-port 9899"
fi

echo "multihoming: backend $backend, mode $mode, $streams streams, ${duration}s"
# shellcheck disable=SC2086
ip netns exec mhs timeout 420 "$peer" server --listen 10.0.1.2,10.0.2.2 \
  --port 5000 --backend "$backend" --streams "$streams" --timeout 410 \
  --ca-out "$work/ca.pem" $extra_s >"$work/server.log" 2>&1 &
spid=$!
if ! ns_wait_listening "$work/server.log" "$spid"; then
  kill "$spid" 2>/dev/null
  wait "$spid"
  exit 1
fi

# The cut starts 4 s after every stream is up; the restore waits for the
# failover's events (bounded by mh_peer's --cut-deadline).
# shellcheck disable=SC2086
ip netns exec mhc timeout 330 "$peer" client --connect 10.0.1.2,10.0.2.2 \
  $local --port 5000 --backend "$backend" \
  --streams "$streams" --duration "$duration" \
  --cut-at 4 --cut "$cut" --cut-deadline 90 \
  --restore "$restore" --expect-down 10.0.1.2 --ca "$work/ca.pem" $extra_c >"$work/client.log" 2>&1
crc=$?
wait "$spid"
src=$?
sed 's/^/client: /' "$work/client.log"
sed 's/^/server: /' "$work/server.log"
echo "multihoming: client status $crc, server status $src"
[ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && exit 0
exit 1
