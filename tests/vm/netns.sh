# Two "hosts" for the tests in the QEMU guest (tests/vm/run-in-vm.sh): a
# client's and a server's network namespace joined by veth pairs. Sourced
# (POSIX sh) by lossy.sh and multihoming.sh:
#
#   ns_init WORK CLIENT_NS SERVER_NS
#       Creates both namespaces with lo up; on exit they are deleted and
#       the folder WORK (made by the caller) removed. Exits 77 without the
#       ip command, 1 on a failure.
#   ns_link CIF CADDR SIF SADDR
#       A veth pair: CIF with CADDR/24 in the client's namespace, SIF with
#       SADDR/24 in the server's, both up. Exits 77 when the first pair
#       cannot be made (no veth in the kernel), 1 on any other failure.
#   ns_wait_listening LOG PID
#       Waits until the server (process PID, writing LOG) says
#       "listening". Returns 1, saying why, if it exits first or has not
#       said it within 60 s (a bound that only a hang reaches).
#
# Each says what failed on stdout, which the runner shows.

ns_client=
ns_server=
ns_work=
ns_links=0

# shellcheck disable=SC2317 # run from the EXIT trap
ns_cleanup() {
  [ -n "$ns_client" ] && ip netns del "$ns_client" 2>/dev/null
  [ -n "$ns_server" ] && ip netns del "$ns_server" 2>/dev/null
  [ -n "$ns_work" ] && rm -rf "$ns_work"
  return 0
}

ns_init() {
  ns_work=$1
  trap ns_cleanup EXIT
  command -v ip >/dev/null 2>&1 || { echo "no ip command"; exit 77; }
  ip netns add "$2" || { echo "FAIL ip netns add $2"; exit 1; }
  ns_client=$2
  ip netns add "$3" || { echo "FAIL ip netns add $3"; exit 1; }
  ns_server=$3
  if ! { ip -n "$ns_client" link set lo up &&
    ip -n "$ns_server" link set lo up; }; then
    echo "FAIL lo up in $ns_client or $ns_server"
    exit 1
  fi
}

ns_link() {
  if ! ip link add "$1" netns "$ns_client" type veth peer name "$3" \
    netns "$ns_server" 2>"$ns_work/err"; then
    if [ "$ns_links" -eq 0 ]; then
      echo "no veth: $(cat "$ns_work/err")"
      exit 77
    fi
    echo "FAIL veth $1-$3: $(cat "$ns_work/err")"
    exit 1
  fi
  ns_links=$((ns_links + 1))
  if ! { ip -n "$ns_client" addr add "$2/24" dev "$1" &&
    ip -n "$ns_server" addr add "$4/24" dev "$3" &&
    ip -n "$ns_client" link set "$1" up &&
    ip -n "$ns_server" link set "$3" up; }; then
    echo "FAIL addresses or link up on $1-$3"
    exit 1
  fi
}

ns_wait_listening() {
  ns_i=0
  while ! grep -q listening "$1" 2>/dev/null; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "FAIL the server exited without listening:"
      sed 's/^/server: /' "$1"
      return 1
    fi
    if [ "$ns_i" -ge 600 ]; then
      echo "FAIL the server did not listen within 60 s:"
      sed 's/^/server: /' "$1"
      return 1
    fi
    sleep 0.1
    ns_i=$((ns_i + 1))
  done
}
