#!/usr/bin/env bash
# A key log written by mstls lets a real analyser decrypt a capture: a DTLS
# exchange on loopback between `mstls dtls-server --echo` and
# `mstls dtls-client --keylog FILE` is captured with dumpcap; tshark, given
# the key log, shows the line the client sent in clear (sent and echoed),
# and without it shows nothing. Needs tshark/dumpcap and the right to
# capture on lo (root); exits 77 (skipped) without them.
#
# Load-proof: every step waits for an event (a line in a log, a process
# exit), polled; the bounds only mean "hung".
#
# usage: test_keylog.sh PATH/TO/mstls
set -u
T=${1:?usage: test_keylog.sh PATH/TO/mstls}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

for prog in tshark dumpcap; do
  if ! command -v "$prog" >/dev/null 2>&1; then
    echo "skipped: no $prog (Debian package tshark)"
    exit 77
  fi
done

P=$(free_port)
MARK="keylog-marker-$$-$RANDOM"
MARK_HEX=$(printf '%s\n' "$MARK" | od -An -tx1 | tr -d ' \n')

bg_cmd "$W/server.out" "$T" dtls-server --listen "127.0.0.1:$P" --echo \
  --exit-after 1
SP=$BG
wait_for "$W/server.out" "listening on 127.0.0.1:$P" || finish
# dumpcap says "Capturing on" before its filter is in place, and counts
# what it has read about once a second: probe a second port (nobody
# listens there) until the count shows a probe. A probe counted after the
# exchange proves that everything before it was read too.
Q=$(free_port)
bg_cmd "$W/dumpcap.out" dumpcap -i lo -f "udp port $P or udp port $Q" \
  -w "$W/cap.pcapng"
DP=$BG
captured() {
  tr '\r' '\n' <"$W/dumpcap.out" | sed -n 's/^Packets: \([0-9]*\).*/\1/p' |
    tail -1
}
# probe_until N: probe until dumpcap has counted at least N packets.
probe_until() {
  local i n
  for ((i = 0; i < 600; i++)); do
    n=$(captured)
    [ "${n:-0}" -ge "$1" ] && return 0
    if ! kill -0 "$DP" 2>/dev/null; then
      echo "skipped: dumpcap cannot capture on lo here:"
      sed 's/^/    /' "$W/dumpcap.out"
      exit 77
    fi
    echo probe >"/dev/udp/127.0.0.1/$Q" 2>/dev/null
    sleep 0.1
  done
  fail "dumpcap counted ${n:-0} packets, want $1"
  return 1
}
probe_until 1
before=$(captured)

ncheck=$((ncheck + 1))
printf '%s\n' "$MARK" |
  timeout 60 "$T" dtls-client --connect "127.0.0.1:$P" --insecure \
    --keylog "$W/keys.log" --linger 30000 >"$W/client.out" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "dtls-client: exit $rc"
grep -qF "$MARK" "$W/client.out" || fail "dtls-client: no echo"
wait "$SP"
# The exchange is at least 10 datagrams (the server counts 5 each way).
probe_until $((before + 11))
kill -INT "$DP"
wait "$DP"

ncheck=$((ncheck + 1))
grep -qE '^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$' "$W/keys.log" ||
  fail "key log: no CLIENT_RANDOM line of the DTLS 1.2 master secret"

ncheck=$((ncheck + 1))
tshark -r "$W/cap.pcapng" -o "tls.keylog_file:$W/keys.log" \
  -d "udp.port==$P,dtls" -Y "udp.port==$P" -T fields -e data.data \
  >"$W/with.txt" 2>"$W/tshark.err"
n=$(grep -c "^$MARK_HEX\$" "$W/with.txt")
[ "$n" = 2 ] ||
  fail "tshark with the key log: the line decrypted $n times, want 2 (sent and echoed)"

ncheck=$((ncheck + 1))
tshark -r "$W/cap.pcapng" -d "udp.port==$P,dtls" -Y "udp.port==$P" \
  -T fields -e data.data >"$W/without.txt" 2>>"$W/tshark.err"
if grep -q "$MARK_HEX" "$W/without.txt"; then
  fail "tshark without the key log shows the line: the capture was not encrypted"
fi
if [ "$fails" -ne 0 ]; then
  sed 's/^/    /' "$W/client.out" "$W/server.out" "$W/tshark.err" | tail -20
fi
finish
