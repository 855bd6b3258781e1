#!/usr/bin/env bash
# TLS over SCTP (RFC 3436) between mstls and freeDiameter 1.2.1, in both
# roles, over kernel SCTP. Runs inside the QEMU guest (tests/vm/run-in-vm.sh):
# it needs kernel SCTP and root (it adds an address to lo).
#
# Usage: fd_interop.sh [--group basic|full] [--case NAME]... FD_PEER
#
#   FD_PEER   the fd_peer program of a build tree (tests/vm/fd_peer.c)
#   --group   full (default): every case: both roles, TLS 1.3 and 1.2,
#             PARALLEL and RESUME (RESUME against a server without TLS 1.3
#             tickets, TLS 1.2 session-ID resumption in both roles); the
#             close must return success or MSTLS_E_CLOSED.
#             basic: a quicker subset without the session-ID and ticketless
#             cases; the outcome of mstls's own close is printed, not judged.
#   --case    run only the named cases (repeatable)
#
# Every case prints "PASS name", "FAIL name: reason" or, for a failure that
# is freeDiameter's own known bug and shows its known symptom, "XFAIL name:
# reason"; the last line is "N passed, M failed, K known freeDiameter
# failures". A case that passed prints its one-line count of streams; one
# that did not prints both sides' logs (FD_INTEROP_VERBOSE=1: every case).
# Exit status 0 if none failed, 1 if any did, 77 if freeDiameter or kernel
# SCTP is missing. Set FD_INTEROP_KEEP=DIR to keep the certificates,
# configurations and logs there.
#
# freeDiameter drops 127.0.0.0/8 from its listening addresses and refuses to
# start with nothing left, so the guest's lo gets 192.0.2.1/32 (TEST-NET-1;
# the guest has no network device, nothing leaves it).
#
# Load-proof: each step polls for an event (a line in a log, a process
# exit) every 0.1 s: freeDiameter's start, fd_peer listening, and, before
# freeDiameter is stopped, its log of the connection's end (the peer's
# change to STATE_CLOSED or STATE_ZOMBIE, and the ENOTCONN line when the
# close verdict depends on it); mstls's bounds (HS_TIMEOUT, WAIT,
# CASE_LIMIT) and the waits' bounds (START_WAIT, END_WAIT) only mean hung,
# and freeDiameter's own ticket timing is recorded, not judged
# (check=allornone). Not yet: freeDiameter's own handshake limit (fixed in
# its code, not in its configuration) has run out in a loaded guest.
set -u

group=full
only=()
while [ $# -gt 1 ]; do
  case $1 in
  --group)
    group=$2
    shift 2
    ;;
  --case)
    only+=("$2")
    shift 2
    ;;
  *) break ;;
  esac
done
if [ $# -ne 1 ]; then
  echo "usage: $0 [--group basic|full] [--case NAME]... FD_PEER" >&2
  exit 2
fi
case $group in
basic | full) ;;
*)
  echo "$0: unknown group $group" >&2
  exit 2
  ;;
esac
peer=$(readlink -f "$1")
[ -x "$peer" ] || {
  echo "$0: $1 is not executable" >&2
  exit 2
}

fdd=$(command -v freeDiameterd) || {
  echo "fd_interop: freeDiameterd not found (apt-get install freediameter)"
  exit 77
}
acl_ext=/usr/lib/freeDiameter/acl_wl.fdx
[ -r "$acl_ext" ] || {
  echo "fd_interop: $acl_ext not found (freediameter-extensions)"
  exit 77
}
[ -d /proc/sys/net/sctp ] || {
  echo "fd_interop: no kernel SCTP here; run me through tests/vm/run-in-vm.sh"
  exit 77
}

readonly ADDR=192.0.2.1
readonly FD_ID=fd.mstls.test
readonly PEER_ID=peer.mstls.test
readonly REALM=mstls.test
# Bounds: freeDiameter gives up a handshake after GnuTLS's default; mstls
# after HS_TIMEOUT; every Diameter exchange after WAIT; every process is
# killed after CASE_LIMIT. freeDiameterd and fd_peer get START_WAIT to say
# they are up, and freeDiameterd END_WAIT after fd_peer's exit to log the
# end of the connection.
readonly HS_TIMEOUT=15
readonly WAIT=20
readonly CASE_LIMIT=60
readonly START_WAIT=60
readonly END_WAIT=60
# What freeDiameter's TLS 1.3 client race (xfail=fdrace) makes GnuTLS say,
# each seen in these runs.
readonly FD_RACE='Decryption has failed|An unexpected TLS packet was received|Error decoding the received TLS packet'

if ! ip -4 addr show dev lo | grep -q "inet $ADDR/"; then
  ip addr add "$ADDR/32" dev lo || {
    echo "fd_interop: cannot add $ADDR to lo (not root?)"
    exit 77
  }
fi

work=${FD_INTEROP_KEEP:-}
if [ -n "$work" ]; then
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/fd_interop.XXXXXX")
  trap 'rm -rf -- "$work"' EXIT
fi
work=$(readlink -f "$work")

# --- certificates: one CA, one certificate per peer (both usages) --------
mkcert() {
  local name=$1
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
    --outfile "$work/$name.key" >/dev/null 2>&1 &&
    printf 'cn = "%s"\ndns_name = "%s"\ntls_www_server\ntls_www_client\nsigning_key\nexpiration_days = 30\n' \
      "$name" "$name" >"$work/$name.tmpl" &&
    certtool --generate-certificate --load-privkey "$work/$name.key" \
      --load-ca-certificate "$work/ca.pem" --load-ca-privkey "$work/ca.key" \
      --template "$work/$name.tmpl" --outfile "$work/$name.pem" >/dev/null 2>&1
}
{
  certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
    --outfile "$work/ca.key" >/dev/null 2>&1 &&
    printf 'cn = "mstls interop CA"\nca\ncert_signing_key\nexpiration_days = 30\n' \
      >"$work/ca.tmpl" &&
    certtool --generate-self-signed --load-privkey "$work/ca.key" \
      --template "$work/ca.tmpl" --outfile "$work/ca.pem" >/dev/null 2>&1 &&
    mkcert "$FD_ID" && mkcert "$PEER_ID" &&
    # Known RFC 7919 group instead of generating DH parameters at start.
    certtool --get-dh-params --bits 2048 >"$work/dh.pem" 2>/dev/null
} || {
  echo "fd_interop: cannot make certificates (certtool from gnutls-bin)"
  exit 1
}
echo "$PEER_ID" >"$work/acl_wl.conf"

# --- one freeDiameter configuration per case ------------------------------
# fdconf FILE SECPORT FD_STREAMS TLS_PRIO [CONNECT_PORT]
# With CONNECT_PORT freeDiameter also connects to the mstls server there.
fdconf() {
  local f=$1 secport=$2 streams=$3 prio=$4 connect=${5:-}
  {
    echo "Identity = \"$FD_ID\";"
    echo "Realm = \"$REALM\";"
    echo "Port = 0;"                 # no clear-text port
    echo "SecPort = $secport;"       # RFC 6733: TLS first, then CER/CEA
    echo "No_TCP;"
    echo "ListenOn = \"$ADDR\";"
    echo "SCTP_streams = $streams;"
    echo "TLS_Cred = \"$work/$FD_ID.pem\", \"$work/$FD_ID.key\";"
    echo "TLS_CA = \"$work/ca.pem\";"
    echo "TLS_DH_File = \"$work/dh.pem\";"
    [ -n "$prio" ] && echo "TLS_Prio = \"$prio\";"
    echo "LoadExtension = \"$acl_ext\" : \"$work/acl_wl.conf\";"
    if [ -n "$connect" ]; then
      echo "ConnectPeer = \"$PEER_ID\" { ConnectTo = \"$ADDR\"; Port = $connect; No_TCP; };"
    fi
  } >"$f"
}

# Wait up to $2 s for file $1 to contain $3.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    grep -q -- "$3" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Whether freeDiameter's log $1 shows the end of its connection with
# fd_peer: a change of the peer's state to STATE_CLOSED or STATE_ZOMBIE,
# or no state of the peer at all (no CER reached it, so there is no
# connection to end).
fd_conn_ended() {
  grep -a -q -E "'STATE_[A-Z_]*'.*-> '?STATE_[A-Z_]*'?.*'$PEER_ID'" "$1" ||
    return 0
  grep -a -q -E -e "-> '?STATE_(CLOSED|ZOMBIE)'?.*'$PEER_ID'" "$1"
}

# Wait (bounded by END_WAIT, or until freeDiameterd $2 exits) until its
# log $1 shows the end of the connection and, with $3 = enotconn, its
# receive thread's ENOTCONN line (which the close verdict reads).
fd_wait_end() {
  local log=$1 pid=$2 need=$3 i
  for ((i = 0; i < END_WAIT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    if fd_conn_ended "$log" && { [ "$need" != enotconn ] ||
      grep -a -q 'fd_tls_rcvthr_core.*Transport endpoint is not connected' \
        "$log"; }; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

passed=0
failed=0
xfailed=0
port=5900
results=()

# run_case NAME KEY=VALUE...
#   role=client   mstls connects to freeDiameterd (SecPort, acl_wl)
#   role=server   freeDiameterd connects to mstls (ConnectPeer)
#   tls=1.3|1.2   freeDiameter's TLS_Prio: NORMAL, or NORMAL:-VERS-TLS1.3
#   prio=STRING   freeDiameter's TLS_Prio, overriding tls=
#   policy=resume|parallel     mstls client's handshake policy
#   ms=N fs=N     streams asked for by mstls and by freeDiameter
#   cc=require|none            mstls server: client certificate
#   check=up      every TLS stream up, CER/CEA 2001, DPR/DPA, freeDiameter
#                 reached OPEN and logged no handshake failure
#   check=resumed the same, and every stream after 0 resumed (as mstls's
#                 per-stream table reports it)
#   check=allornone  the same as up, and either every stream after 0
#                 resumed or none did: freeDiameter as a TLS 1.3 client copies
#                 stream 0's session once, with gnutls_session_get_data2(),
#                 which waits only the estimated round trip plus 60 ms for
#                 the server's ticket (GnuTLS 3.7.9, lib/session.c). When the
#                 ticket is later than that (a slow guest, ASan), every other
#                 stream makes a full handshake: recorded, not judged. A
#                 partial count would be mstls's fault and fails.
#   check=ticketless  the same as up, and the client's bounded wait for a
#                 TLS 1.3 ticket ran out once (ticket_waits_expired=1)
#   xfail=fdrace  a failure that shows freeDiameter's TLS 1.3 client race
#                 (FD_RACE in its log: two of its threads read stream 0's
#                 session at once -- its stream-0 reader and
#                 gnutls_session_get_data2() waiting for the ticket -- so
#                 records are consumed out of order or in pieces) is
#                 freeDiameter's own bug: XFAIL, not FAIL
run_case() {
  local name=$1 role=client tls=1.3 prio='' policy=resume ms=10 fs=30
  local cc=require check=up xfail='' kv
  shift
  for kv in "$@"; do
    case $kv in
    role=* | tls=* | prio=* | policy=* | ms=* | fs=* | cc=* | check=* | xfail=*)
      local "$kv"
      ;;
    *)
      echo "run_case $name: bad argument $kv" >&2
      exit 2
      ;;
    esac
  done
  if [ ${#only[@]} -gt 0 ]; then
    local o hit=0
    for o in "${only[@]}"; do [ "$o" = "$name" ] && hit=1; done
    [ $hit -eq 1 ] || return 0
  fi
  if [ -z "$prio" ] && [ "$tls" = 1.2 ]; then
    prio='NORMAL:-VERS-TLS1.3'
  fi
  local dir=$work/$name secport=$port mport=$((port + 1))
  local peer_rc='' fd_pid='' peer_pid='' reason='' note='' line total up resumed
  local start=$SECONDS
  port=$((port + 2))
  mkdir -p "$dir"
  echo "=== $name: mstls $role, TLS $tls${prio:+ (TLS_Prio $prio)}, policy $policy, streams mstls $ms / freeDiameter $fs, check $check"

  local common=(--ca "$work/ca.pem" --cert "$work/$PEER_ID.pem"
    --key "$work/$PEER_ID.key" --streams "$ms" --policy "$policy"
    --identity "$PEER_ID" --realm "$REALM"
    --handshake-timeout "$HS_TIMEOUT" --wait "$WAIT")
  if [ "$role" = client ]; then
    fdconf "$dir/fd.conf" "$secport" "$fs" "$prio"
    timeout -k 5 "$CASE_LIMIT" "$fdd" -c "$dir/fd.conf" -d -d \
      >"$dir/fd.log" 2>&1 &
    fd_pid=$!
    if ! wait_for "$dir/fd.log" "$START_WAIT" 'daemon initialized'; then
      reason="freeDiameterd did not start"
    else
      timeout -k 5 "$CASE_LIMIT" "$peer" client --connect "$ADDR:$secport" \
        --name "$FD_ID" "${common[@]}" >"$dir/peer.log" 2>&1
      peer_rc=$?
    fi
  else
    fdconf "$dir/fd.conf" "$secport" "$fs" "$prio" "$mport"
    timeout -k 5 "$CASE_LIMIT" "$peer" server --listen "$ADDR:$mport" \
      --client-cert "$cc" "${common[@]}" >"$dir/peer.log" 2>&1 &
    peer_pid=$!
    if ! wait_for "$dir/peer.log" "$START_WAIT" 'listening on'; then
      reason="fd_peer did not listen"
      stop_pid "$peer_pid"
    else
      timeout -k 5 "$CASE_LIMIT" "$fdd" -c "$dir/fd.conf" -d -d \
        >"$dir/fd.log" 2>&1 &
      fd_pid=$!
      wait "$peer_pid"
      peer_rc=$?
    fi
  fi
  # Let freeDiameter log the end of the connection (and, where fd_peer
  # says the peer was gone at its close, its receive thread's ENOTCONN,
  # which the close verdict reads), then stop it.
  if [ -n "$fd_pid" ]; then
    local need=''
    [ "$peer_rc" = 3 ] &&
      grep -a -q '^fd_peer: shutdown: .*peer is gone' "$dir/peer.log" &&
      need=enotconn
    fd_wait_end "$dir/fd.log" "$fd_pid" "$need" ||
      echo "  (freeDiameter's log: no end of the connection${need:+ or no ENOTCONN} within ${END_WAIT}s)"
    stop_pid "$fd_pid"
  fi

  # Both sides' account, printed in full for a case that did not pass (or
  # with FD_INTEROP_VERBOSE=1), so that a failure stays near the end of
  # the output: mstls's log, then freeDiameter's state changes,
  # handshakes and errors (repeats folded).
  {
    sed 's/^/  mstls | /' "$dir/peer.log"
    grep -a -E 'Incoming connection|STATE_|[Hh]andshake|resum|ERROR|failed|broken' \
      "$dir/fd.log" | sed 's/^[0-9:]* *//' | uniq -c |
      awk '{ n = $1; sub(/^ *[0-9]+ /, "");
             print "  fd    | " (n > 1 ? "(x" n ") " : "") $0 }'
  } >"$dir/account"

  line=$(grep -a '^fd_peer: streams ' "$dir/peer.log" | tail -n 1)
  total=$(sed -n 's/.* total=\([0-9]*\).*/\1/p' <<<"$line")
  up=$(sed -n 's/.* up=\([0-9]*\).*/\1/p' <<<"$line")
  resumed=$(sed -n 's/.* resumed=\([0-9]*\).*/\1/p' <<<"$line")
  # Every reason that applies, so one failure does not hide another.
  add_reason() { reason=${reason:+$reason; }$1; }
  add_note() { note=${note:+$note; }$1; }
  if [ -z "$reason" ]; then
    if [ -z "$line" ]; then
      add_reason "no association: $(grep -a -m1 -E '^fd_peer: (connect|accept|listen|nobody)' "$dir/peer.log" || echo 'fd_peer said nothing')"
    elif [ "$up" != "$total" ]; then
      add_reason "$up of $total TLS streams up ($(grep -a -m1 'failed:' "$dir/peer.log" | sed 's/^[0-9]* *//'))"
    elif [ "$peer_rc" != 0 ] && [ "$peer_rc" != 3 ]; then
      add_reason "fd_peer exit $peer_rc: $(grep -a -m1 -E '^fd_peer: (no |association error|association failed|sending|stream [0-9]+:|CEA|DPA|bad|malformed)' "$dir/peer.log" || echo '?')"
    fi
  fi
  if [ -n "$line" ] && [ "$up" = "$total" ]; then
    if [ "$check" = resumed ] && [ "$resumed" != $((total - 1)) ]; then
      add_reason "$resumed of $((total - 1)) streams resumed (the others did full handshakes)"
    fi
    if [ "$check" = allornone ]; then
      if [ "$resumed" = 0 ]; then
        add_note "0 of $((total - 1)) resumed: freeDiameter copied stream 0's session before mstls's ticket arrived"
      elif [ "$resumed" != $((total - 1)) ]; then
        add_reason "$resumed of $((total - 1)) streams resumed (all or none expected: freeDiameter copies one session for all)"
      fi
    fi
    waits=$(sed -n 's/.* ticket_waits_expired=\([0-9]*\).*/\1/p' <<<"$line")
    if [ "$check" = ticketless ] && [ "$waits" != 1 ]; then
      add_reason "ticket_waits_expired=$waits, expected 1 (the bounded wait for a TLS 1.3 ticket that never comes)"
    fi
    if grep -a -q -E 'Handshake failed|TLS Handshake failed|Decryption has failed|gnutls_handshake' "$dir/fd.log"; then
      add_reason "freeDiameter: $(grep -a -m1 -E 'Handshake failed|TLS Handshake failed|Decryption has failed|gnutls_handshake' "$dir/fd.log" | sed 's/^[0-9:]* *//')"
    elif [ "$peer_rc" = 0 ] || [ "$peer_rc" = 3 ]; then
      grep -a -q -E "STATE_OPEN.*'$PEER_ID'" "$dir/fd.log" ||
        add_reason "freeDiameter never reached STATE_OPEN with $PEER_ID"
    fi
  fi
  if [ "$peer_rc" = 3 ]; then
    local closed
    closed=$(grep -a -m1 '^fd_peer: shutdown:' "$dir/peer.log" | sed 's/^fd_peer: shutdown: //')
    # freeDiameter sometimes tears the association down itself right after
    # its DPA (its receive thread then logs ENOTCONN): the peer is gone
    # before mstls's orderly close completes, and mstls says so. Recorded
    # as a note, judged only when freeDiameter did not do that.
    if [ "$group" != full ]; then
      add_note "close: $closed, not judged in group $group"
    elif [[ $closed == *"peer is gone"* ]] &&
      grep -a -q 'fd_tls_rcvthr_core.*Transport endpoint is not connected' \
        "$dir/fd.log"; then
      add_note "close: $closed (freeDiameter dropped the association after DPA)"
    else
      add_reason "mstls close returned $closed"
    fi
  fi
  local took=$((SECONDS - start)) verdict
  if [ -z "$reason" ]; then
    passed=$((passed + 1))
    verdict="PASS $name${note:+ ($note)}"
    if [ "${FD_INTEROP_VERBOSE:-0}" = 1 ]; then
      cat "$dir/account"
    else
      [ -n "$line" ] && echo "  mstls | $line"
    fi
  elif [ "$xfail" = fdrace ] &&
    grep -a -q -E "$FD_RACE" "$dir/fd.log"; then
    xfailed=$((xfailed + 1))
    verdict="XFAIL $name: $reason (freeDiameter's TLS 1.3 client race)"
    cat "$dir/account"
  else
    failed=$((failed + 1))
    verdict="FAIL $name: $reason"
    cat "$dir/account"
    echo "  --- freeDiameter log after its start, last 60 lines"
    sed -n '/daemon initialized/,$p' "$dir/fd.log" | tail -n 60 |
      sed 's/^/  fd    | /'
  fi
  results+=("$verdict [${took}s]")
  echo "$verdict [${took}s]"
}

t0=$SECONDS
# mstls as the client, freeDiameterd as the server.
run_case client_tls13_parallel role=client tls=1.3 policy=parallel ms=10 fs=30
run_case client_tls12_parallel role=client tls=1.2 policy=parallel ms=10 fs=30
run_case client_tls12_resume role=client tls=1.2 policy=resume ms=10 fs=30
run_case client_tls13_parallel_40_8 role=client tls=1.3 policy=parallel ms=40 fs=8
run_case client_tls12_parallel_40_8 role=client tls=1.2 policy=parallel ms=40 fs=8
# freeDiameterd as the client, mstls as the server. freeDiameter's client
# resumes stream 0's session on the other streams (a TLS 1.2 ticket from
# mstls, or a TLS 1.3 ticket).
# freeDiameter as a TLS 1.3 client copies stream 0's session right after
# its handshake, waiting at most the round trip plus 60 ms for the ticket
# that follows it, so whether its other streams resume depends on how fast
# the guest runs mstls's server (0 of 9 seen once in about six runs, 9 of 9
# otherwise). Judged: every stream up, and all or none resumed (allornone).
run_case server_tls13_nocert role=server tls=1.3 cc=none ms=10 fs=30 check=allornone xfail=fdrace
run_case server_tls13 role=server tls=1.3 cc=require ms=10 fs=30 check=allornone xfail=fdrace
run_case server_tls12 role=server tls=1.2 ms=10 fs=30 check=resumed
run_case server_tls12_40_30 role=server tls=1.2 ms=40 fs=30 check=resumed
if [ "$group" = full ]; then
  # RESUME against a server that sends no TLS 1.3 ticket: the other
  # streams must not wait for one.
  run_case client_tls13_resume role=client tls=1.3 policy=resume ms=10 fs=30 check=ticketless
  # TLS 1.2: freeDiameter's server resumes by session ID (it has no ticket
  # key), so mstls's client must offer stream 0's session ID.
  run_case client_tls12_resume_sid role=client tls=1.2 policy=resume ms=10 fs=30 check=resumed
  # TLS 1.2 without tickets: freeDiameter's client resumes by session ID,
  # so mstls's server needs a session cache.
  run_case server_tls12_sid role=server tls=1.2 prio='NORMAL:-VERS-TLS1.3:%NO_TICKETS' ms=10 fs=30 check=resumed
fi

echo
echo "=== summary (group $group, $((SECONDS - t0)) s)"
for r in "${results[@]}"; do
  echo "$r"
done
echo "$passed passed, $failed failed, $xfailed known freeDiameter failures"
[ "$failed" -eq 0 ]
