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
# Both peers use the failover profile (mstls_sctp_config_failover: RTO
# 100 ms to 1 s, so that losses are repaired quickly) with its failure
# detection made tolerant, because this test is about data over a lossy
# path, not about failure detection: Association.Max.Retrans and
# Path.Max.Retrans 10 (RFC 9260's default) instead of 3 and 2, a
# heartbeat every 5 s instead of every 100 ms, and RTO.Max 3 s. Every
# timeout with nothing acknowledged counts towards the limit, heartbeats'
# included; with the profile's 100 ms heartbeats and 1 s RTO.Max, the
# single emulated CPU busy for a few seconds (100 handshakes and their
# echo under ASan) was enough to end the association.
#
# Usage: lossy.sh [--backend kernel|usrsctp] [--streams N] [--duration S]
#                 [--loss PCT] [--delay MS] MH_PEER
# Exits 0 when both peers passed, 1 otherwise, 77 when the guest lacks
# what the test needs (no ip/tc, no veth, no netem).
#
# Load-proof: the verdict is every byte echoed intact and both exit codes;
# --duration only sets how long the client sends, and the server's start
# (60 s), the handshake (60 s), the echo's drain (50 s after sending ends)
# and the processes (300 s) are bounded against a hang; a server that does
# not listen fails the run with its log. netem's losses are not seeded, so
# each run loses other packets; with the raised limits only 11 timeouts in
# a row with no acknowledgement between them (each about 10% likely at
# this loss), about 20 s without any progress, could end the association.
# When a peer fails, its log comes first and says why the association
# ended (the peer's ABORT and its cause, or no answer); repeated failure
# lines are counted, not all printed.
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

command -v tc >/dev/null 2>&1 || { echo "no tc command"; exit 77; }

# shellcheck source=tests/vm/netns.sh
. "$(dirname "$0")/netns.sh"
work=$(mktemp -d /tmp/lossy.XXXXXX)
ns_init "$work" lsc lss
ns_link la 10.0.3.1 lb 10.0.3.2
# A queue long enough for the delay: netem's default of 1000 packets
# would add tail drops to the configured loss.
if ! ip netns exec lsc tc qdisc add dev la root netem delay "${delay}ms" \
       loss "${loss}%" limit 100000 2>"$work/err" ||
   ! ip netns exec lss tc qdisc add dev lb root netem delay "${delay}ms" \
       loss "${loss}%" limit 100000 2>>"$work/err"; then
  echo "no netem: $(cat "$work/err")"
  exit 77
fi

# Tolerant retransmission limits: see above.
tolerant="--max-retrans 10 --heartbeat 5000 --rto-max 3000"
extra_s=$tolerant
extra_c=$tolerant
if [ "$backend" = usrsctp ]; then
  extra_s="$extra_s --udp-port 9899"
  extra_c="$extra_c --udp-port 9899 --remote-udp-port 9899"
fi

echo "lossy: backend $backend, $streams streams, ${duration}s, loss ${loss}% and delay ${delay} ms each way"
# shellcheck disable=SC2086
ip netns exec lss timeout 300 "$peer" server --listen 10.0.3.2 \
  --port 5000 --backend "$backend" --streams "$streams" --timeout 280 \
  --ca-out "$work/ca.pem" $extra_s >"$work/server.log" 2>&1 &
spid=$!
if ! ns_wait_listening "$work/server.log" "$spid"; then
  kill "$spid" 2>/dev/null
  wait "$spid"
  exit 1
fi

# shellcheck disable=SC2086
ip netns exec lsc timeout 300 "$peer" client --connect 10.0.3.2 \
  --port 5000 --backend "$backend" --streams "$streams" \
  --duration "$duration" --ca "$work/ca.pem" $extra_c >"$work/client.log" 2>&1
crc=$?
wait "$spid"
src=$?
# The first five FAIL lines of each peer, then how many more: a lost
# association fails every stream twice, and the cause is in the first.
show() {
  grep -v '^  stream' "$2" |
    awk -v who="$1" '/^FAIL / && ++n > 5 { next } { print who ": " $0 }
                     END { if (n > 5) print who ": (" n - 5 " more FAIL lines)" }'
}
show server "$work/server.log"
show client "$work/client.log"
ip netns exec lsc tc -s qdisc show dev la | sed 's/^/netem client: /'
ip netns exec lss tc -s qdisc show dev lb | sed 's/^/netem server: /'
echo "lossy: client status $crc, server status $src"
[ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && exit 0
exit 1
