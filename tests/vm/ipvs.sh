#!/bin/sh
# mstls behind Linux IPVS, inside the QEMU guest (tests/vm/run-in-vm.sh).
# The guest's root namespace is the director: it holds the virtual address
# and balances a UDP service (DTLS) and an SCTP service (TLS over SCTP)
# round-robin, in NAT mode, over two real servers in their own network
# namespaces. The client sits in a third namespace.
#
#   ipc (client) 10.1.0.2 --- 10.1.0.1  director  10.2.0.1 --- 10.2.0.2 ipr1
#                             VIP 10.9.0.1         10.3.0.1 --- 10.3.0.2 ipr2
#
# Each real server runs two worker processes that share its ports with
# SO_REUSEPORT (SCTP and UDP). All derive their ticket key and cookie
# secret from one fleet secret file (mstls_fleet_load). The client
# (ipvs_peer) makes --rounds new associations and DTLS connections through
# the virtual address, each offering the resumption data of the one before:
# round-robin sends consecutive ones to different real servers, and every
# one after the first must resume there with no full handshake. Then it
# holds one association and one DTLS connection; this script removes the
# real server that holds the association (ipvsadm -d), kills it (SIGKILL)
# and waits until its namespace has no process left, then tells the client
# whether its DTLS connection was on that server too. The client must see
# the association end, reconnect, and resume on the remaining server; its
# DTLS connection must still be served if its server was kept, and be
# reconnected and resumed if not; then --rounds more rounds, all resumed.
# The run ends with a table per real server.
#
# Usage: ipvs.sh [--rounds N] IPVS_PEER
# Exits 0 when every check passed, 1 otherwise, 77 when the guest lacks
# what the test needs (no ip, no ipvsadm, no veth, no IPVS).
#
# Load-proof: the script waits for events (lines in logs polled every
# 0.1 s for up to 120 s, the killed server's processes gone, the client's
# exit); the verdict is the servers' counts of resumed handshakes and the
# client's status. ipvs_peer bounds an ordinary round's handshake (60 s)
# and echo (30 s) only against a hang; the killed server's association is
# noticed by its end, not by a timeout. The one short bound (3 s) is the
# held DTLS connection's wait for an echo from a server this script has
# killed and confirmed gone, where silence is the expected outcome.
set -u

rounds=4
while [ $# -gt 1 ]; do
  case $1 in
  --rounds) rounds=$2; shift 2 ;;
  *) break ;;
  esac
done
[ $# -eq 1 ] || {
  echo "usage: $0 [--rounds N] IPVS_PEER" >&2
  exit 2
}
peer=$1
vip=10.9.0.1
sport=5000
uport=4433

command -v ip >/dev/null 2>&1 || { echo "no ip command"; exit 77; }
command -v ipvsadm >/dev/null 2>&1 || { echo "no ipvsadm"; exit 77; }

work=$(mktemp -d /tmp/ipvs.XXXXXX)
pids=
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  ipvsadm -C 2>/dev/null
  for n in ipc ipr1 ipr2; do ip netns del $n 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# Wait (bounded) until FILE holds PATTERN.
wait_for() {
  i=0
  while [ $i -lt 1200 ] && ! grep -q "$2" "$1" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
  done
  grep -q "$2" "$1" 2>/dev/null
}

# netns NAME ADDR HOSTADDR IFNAME: a namespace joined to the director.
netns() {
  ip netns add "$1" &&
    ip link add "$4" type veth peer name "$4p" netns "$1" &&
    ip addr add "$3/24" dev "$4" && ip link set "$4" up &&
    ip -n "$1" link set lo up &&
    ip -n "$1" addr add "$2/24" dev "$4p" && ip -n "$1" link set "$4p" up &&
    ip -n "$1" route add default via "$3"
}

if ! netns ipc 10.1.0.2 10.1.0.1 vc 2>"$work/err" ||
   ! netns ipr1 10.2.0.2 10.2.0.1 v1 2>>"$work/err" ||
   ! netns ipr2 10.3.0.2 10.3.0.1 v2 2>>"$work/err"; then
  echo "no veth or namespaces: $(cat "$work/err")"
  exit 77
fi
ip addr add "$vip/32" dev lo
echo 1 >/proc/sys/net/ipv4/ip_forward
if ! ipvsadm -A -u "$vip:$uport" -s rr 2>"$work/err"; then
  echo "no IPVS: $(cat "$work/err")"
  exit 77
fi
set -e
ipvsadm -A --sctp-service "$vip:$sport" -s rr
for rs in 10.2.0.2 10.3.0.2; do
  ipvsadm -a -u "$vip:$uport" -r "$rs:$uport" -m
  ipvsadm -a --sctp-service "$vip:$sport" -r "$rs:$sport" -m
done
set +e
ipvsadm -L -n | sed 's/^/ipvs: /'

"$peer" pki "$work" || { echo "FAIL cannot make the PKI"; exit 1; }
for n in 1 2; do
  ip netns exec ipr$n "$peer" server --name rs$n --addr 10.$((n + 1)).0.2 \
    --sctp-port $sport --udp-port $uport --dir "$work" --timeout 900 \
    --workers 2 >"$work/rs$n.log" 2>&1 &
  eval "rs${n}_pid=$!"
  pids="$pids $!"
done
for n in 1 2; do
  wait_for "$work/rs$n.log" "w1 listening" && wait_for "$work/rs$n.log" "w0 listening" || {
    echo "FAIL rs$n did not start"
    cat "$work/rs$n.log"
    exit 1
  }
done

mkfifo "$work/hold"
ip netns exec ipc timeout 900 "$peer" client --vip $vip --sctp-port $sport \
  --udp-port $uport --dir "$work" --rounds "$rounds" --hold "$work/hold" \
  >"$work/client.log" 2>&1 &
cpid=$!
pids="$pids $cpid"

removed=
word=go
fail=0
if wait_for "$work/client.log" holding; then
  # The real server that holds the client's association, and the one that
  # holds its DTLS connection (found by the client's UDP port).
  table=$(ipvsadm -L -n -c)
  dport=$(sed -n 's/^holding (dtls port \([0-9]*\))$/\1/p' "$work/client.log")
  dest=$(echo "$table" | awk '$1 == "SCTP" && $3 == "ESTABLISHED" {
    sub(/:[0-9]+$/, "", $6); print $6; exit }')
  ddest=$(echo "$table" | awk -v p=":$dport" '$1 == "UDP" &&
    substr($4, length($4) - length(p) + 1) == p {
    sub(/:[0-9]+$/, "", $6); print $6; exit }')
  case $dest in
  10.2.0.2) removed=1 ;;
  10.3.0.2) removed=2 ;;
  *) echo "FAIL no established SCTP connection in the IPVS table"
     echo "$table" ;;
  esac
  if [ -n "$removed" ]; then
    echo "removing real server rs$removed ($dest) and killing it"
    ipvsadm -d -u "$vip:$uport" -r "$dest:$uport"
    ipvsadm -d --sctp-service "$vip:$sport" -r "$dest:$sport"
    eval "kill -9 \$rs${removed}_pid"
    eval "wait \$rs${removed}_pid"
    # Its other worker dies with it (PR_SET_PDEATHSIG): wait until the
    # namespace has no process left, so every socket of it is closed
    # before the client tries the held connections again.
    i=0
    while [ $i -lt 1200 ] && [ -n "$(ip netns pids ipr$removed)" ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if [ -n "$(ip netns pids ipr$removed)" ]; then
      echo "FAIL rs$removed still has processes after SIGKILL"
      fail=1
    fi
    case $ddest in
    "$dest") word="go dtls-gone" ;;
    10.2.0.2 | 10.3.0.2) word="go dtls-kept" ;;
    *) echo "FAIL no IPVS entry for the held DTLS connection (port $dport)"
       echo "$table"
       fail=1 ;;
    esac
    echo "held DTLS connection on ${ddest:-?}: $word"
  fi
  echo "$word" >"$work/hold"
else
  echo "FAIL the client never held its connections"
  kill "$cpid" 2>/dev/null
fi
wait "$cpid"
crc=$?
for n in 1 2; do
  [ "$n" = "$removed" ] && continue
  eval "kill -TERM \$rs${n}_pid"
  eval "wait \$rs${n}_pid"
  eval "rs${n}_rc=\$?"
done

sed 's/^/client: /' "$work/client.log"
for n in 1 2; do sed "s/^/rs$n: /" "$work/rs$n.log"; done
ipvsadm -L -n --stats | sed 's/^/ipvs: /'

# The table: what each real server did, from its own lines.
echo
printf '%-6s %-8s %8s %12s %14s %14s %10s %12s\n' server state workers \
  "sctp assocs" "streams full" "streams res." "dtls full" "dtls resumed"
for n in 1 2; do
  log=$work/rs$n.log
  assocs=$(grep -c "sctp association:" "$log")
  sfull=$(awk '/sctp association:/ { s += $(NF - 1) } END { print s + 0 }' "$log")
  sres=$(awk '/sctp association:/ { s += $(NF - 3) } END { print s + 0 }' "$log")
  dfull=$(grep -c "dtls handshake full" "$log")
  dres=$(grep -c "dtls handshake resumed" "$log")
  # Workers that served at least one association or handshake.
  used=$(awk '/sctp association:|dtls handshake/ { w[$1] = 1 }
              END { print length(w) }' "$log")
  state=served
  [ "$n" = "$removed" ] && state=removed
  printf '%-6s %-8s %8s %12s %14s %14s %10s %12s\n' rs$n $state "$used" \
    "$assocs" "$sfull" "$sres" "$dfull" "$dres"
  # Round-robin: both real servers resumed sessions the other one made.
  if [ "$sres" -lt 4 ] || [ "$dres" -lt 1 ]; then
    echo "FAIL rs$n resumed too little"
    fail=1
  fi
done
echo
grep -q "reconnecting" "$work/client.log" || {
  echo "FAIL the client never had to reconnect"
  fail=1
}
for n in 1 2; do
  [ "$n" = "$removed" ] && continue
  eval "rc=\$rs${n}_rc"
  [ "$rc" -eq 0 ] || { echo "FAIL rs$n exited $rc"; fail=1; }
done
echo "ipvs: client status $crc"
[ "$crc" -eq 0 ] && [ -n "$removed" ] && [ "$fail" -eq 0 ] && exit 0
exit 1
