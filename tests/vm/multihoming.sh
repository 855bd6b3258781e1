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
# after the restore.
#
# Usage: multihoming.sh [--mode netem|linkdown] [--backend kernel|usrsctp]
#                       [--streams N] [--duration S] [--unbound-client] MH_PEER
# --unbound-client: the client binds no address (the stack offers all the
# namespace's addresses) instead of both of its own.
# Exits 0 when both peers passed, 1 otherwise, 77 when the guest lacks
# what the test needs (no ip/tc, no veth).
#
# Load-proof: the verdict is every byte echoed intact, the path events and
# both exit codes; the handshake (60 s), the path's return (20 s after the
# restore) and the processes (150 s) are bounded against a hang. Not yet:
# the cut lasts a fixed duration/2 s, within which the path must be
# reported down and every stream must move; and the wait for the server to
# listen gives up silently after 10 s.
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

command -v ip >/dev/null 2>&1 || { echo "no ip command"; exit 77; }
command -v tc >/dev/null 2>&1 || { echo "no tc command"; exit 77; }

work=$(mktemp -d /tmp/mh.XXXXXX)
cleanup() {
  ip netns del mhc 2>/dev/null
  ip netns del mhs 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

set -e
ip netns add mhc
ip netns add mhs
if ! ip link add va1 netns mhc type veth peer name vb1 netns mhs 2>"$work/err"; then
  echo "no veth: $(cat "$work/err")"
  exit 77
fi
ip link add va2 netns mhc type veth peer name vb2 netns mhs
ip -n mhc link set lo up
ip -n mhs link set lo up
ip -n mhc addr add 10.0.1.1/24 dev va1
ip -n mhc addr add 10.0.2.1/24 dev va2
ip -n mhs addr add 10.0.1.2/24 dev vb1
ip -n mhs addr add 10.0.2.2/24 dev vb2
for l in va1 va2; do ip -n mhc link set "$l" up; done
for l in vb1 vb2; do ip -n mhs link set "$l" up; done
set +e

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
ip netns exec mhs timeout 150 "$peer" server --listen 10.0.1.2,10.0.2.2 \
  --port 5000 --backend "$backend" --streams "$streams" --timeout 140 \
  --ca-out "$work/ca.pem" $extra_s >"$work/server.log" 2>&1 &
spid=$!
# The listener is up well within this under emulation.
i=0
while [ $i -lt 100 ] && ! grep -q listening "$work/server.log" 2>/dev/null; do
  sleep 0.1
  i=$((i + 1))
done

cut_at=4
restore_at=$((cut_at + duration / 2))
# shellcheck disable=SC2086
ip netns exec mhc timeout 150 "$peer" client --connect 10.0.1.2,10.0.2.2 \
  $local --port 5000 --backend "$backend" \
  --streams "$streams" --duration "$duration" \
  --cut-at "$cut_at" --cut "$cut" --restore-at "$restore_at" \
  --restore "$restore" --expect-down 10.0.1.2 --ca "$work/ca.pem" $extra_c >"$work/client.log" 2>&1
crc=$?
wait "$spid"
src=$?
sed 's/^/client: /' "$work/client.log"
sed 's/^/server: /' "$work/server.log"
echo "multihoming: client status $crc, server status $src"
[ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && exit 0
exit 1
