#!/bin/sh
# TLS on 100 SCTP streams over a lossy, slow path, inside the QEMU guest
# (tests/vm/run-in-vm.sh): two network namespaces joined by one veth pair,
# netem on both ends (default: 5% loss and 50 ms delay each way).
#
#   lsc (client)  la 10.0.3.1/24 ---- lb 10.0.3.2/24  lss (server)
#
# The client (mh_peer) handshakes every stream, sends a byte pattern on all
# of them for --duration seconds, and checks every echoed byte in order per
# stream; it prints the handshake-all time and the throughput. Passes only
# if every byte came back intact and nothing failed.
#
# Usage: lossy.sh [--backend kernel|usrsctp] [--streams N] [--duration S]
#                 [--loss PCT] [--delay MS] MH_PEER
# Exits 0 when both peers passed, 1 otherwise, 77 when the guest lacks
# what the test needs (no ip/tc, no veth, no netem).
#
# Load-proof: the verdict is every byte echoed intact and both exit codes;
# --duration only sets how long the client sends, and the handshake (60 s),
# the echo's drain (50 s after sending ends) and the processes (300 s) are
# bounded against a hang. Not yet: the wait for the server to listen gives
# up silently after 10 s.
set -u

backend=kernel
streams=100
duration=20
loss=5
delay=50
while [ $# -gt 1 ]; do
  case $1 in
  --backend) backend=$2; shift 2 ;;
  --streams) streams=$2; shift 2 ;;
  --duration) duration=$2; shift 2 ;;
  --loss) loss=$2; shift 2 ;;
  --delay) delay=$2; shift 2 ;;
  *) break ;;
  esac
done
[ $# -eq 1 ] || {
  echo "usage: $0 [--backend kernel|usrsctp] [--streams N] [--duration S] [--loss PCT] [--delay MS] MH_PEER" >&2
  exit 2
}
peer=$1

command -v ip >/dev/null 2>&1 || { echo "no ip command"; exit 77; }
command -v tc >/dev/null 2>&1 || { echo "no tc command"; exit 77; }

work=$(mktemp -d /tmp/lossy.XXXXXX)
cleanup() {
  ip netns del lsc 2>/dev/null
  ip netns del lss 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

set -e
ip netns add lsc
ip netns add lss
if ! ip link add la netns lsc type veth peer name lb netns lss 2>"$work/err"; then
  echo "no veth: $(cat "$work/err")"
  exit 77
fi
ip -n lsc link set lo up
ip -n lss link set lo up
ip -n lsc addr add 10.0.3.1/24 dev la
ip -n lss addr add 10.0.3.2/24 dev lb
ip -n lsc link set la up
ip -n lss link set lb up
set +e
# A queue long enough for the delay: netem's default of 1000 packets
# would add tail drops to the configured loss.
if ! ip netns exec lsc tc qdisc add dev la root netem delay "${delay}ms" \
       loss "${loss}%" limit 100000 2>"$work/err" ||
   ! ip netns exec lss tc qdisc add dev lb root netem delay "${delay}ms" \
       loss "${loss}%" limit 100000 2>>"$work/err"; then
  echo "no netem: $(cat "$work/err")"
  exit 77
fi

extra_s=
extra_c=
if [ "$backend" = usrsctp ]; then
  extra_s="--udp-port 9899"
  extra_c="--udp-port 9899 --remote-udp-port 9899"
fi

echo "lossy: backend $backend, $streams streams, ${duration}s, loss ${loss}% and delay ${delay} ms each way"
# shellcheck disable=SC2086
ip netns exec lss timeout 300 "$peer" server --listen 10.0.3.2 \
  --port 5000 --backend "$backend" --streams "$streams" --timeout 280 \
  --ca-out "$work/ca.pem" $extra_s >"$work/server.log" 2>&1 &
spid=$!
i=0
while [ $i -lt 100 ] && ! grep -q listening "$work/server.log" 2>/dev/null; do
  sleep 0.1
  i=$((i + 1))
done

# shellcheck disable=SC2086
ip netns exec lsc timeout 300 "$peer" client --connect 10.0.3.2 \
  --port 5000 --backend "$backend" --streams "$streams" \
  --duration "$duration" --ca "$work/ca.pem" $extra_c >"$work/client.log" 2>&1
crc=$?
wait "$spid"
src=$?
grep -v '^  stream' "$work/client.log" | sed 's/^/client: /'
sed 's/^/server: /' "$work/server.log"
ip netns exec lsc tc -s qdisc show dev la | sed 's/^/netem client: /'
ip netns exec lss tc -s qdisc show dev lb | sed 's/^/netem server: /'
echo "lossy: client status $crc, server status $src"
[ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && exit 0
exit 1
