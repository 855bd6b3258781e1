#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as a consumer
# would: the installed mstls tool runs without LD_LIBRARY_PATH (RUNPATH
# $ORIGIN/../LIBDIR), and a small program compiles and links with
# `pkg-config --cflags --libs mstls`, whose cflags carry nothing of
# usrsctp (-DINET -DINET6 stay private).
#
# Load-proof: no clock, no network, no background process; each step is a
# command that runs to its end (install, --help, pkg-config, the compiler,
# the consumer) and is judged by its exit code and output.
#
# usage: test_install.sh BUILD_DIR LIBDIR C_COMPILER
set -u
B=${1:?build dir}
LIBDIR=${2:?libdir}
CC=${3:-cc}
P=$(mktemp -d "${TMPDIR:-/tmp}/mstls-prefix.XXXXXX")
trap 'rm -rf "$P"' EXIT
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

if ! cmake --install "$B" --prefix "$P" >"$P.log" 2>&1; then
  cat "$P.log"
  rm -f "$P.log"
  echo "FAIL: cmake --install"
  exit 1
fi
rm -f "$P.log"

# The tool from the prefix, with no help from the environment.
if ! out=$(env -u LD_LIBRARY_PATH "$P/bin/mstls" --help 2>&1); then
  fail "installed mstls --help: $out"
fi
echo "$out" | grep -q "usage: mstls COMMAND" || fail "installed mstls --help output"
if command -v readelf >/dev/null; then
  readelf -d "$P/bin/mstls" | grep -q "RUNPATH.*\$ORIGIN/../$LIBDIR" ||
    fail "no RUNPATH \$ORIGIN/../$LIBDIR in bin/mstls"
fi

# A consumer through pkg-config.
export PKG_CONFIG_PATH="$P/$LIBDIR/pkgconfig"
cflags=$(pkg-config --cflags mstls) || fail "pkg-config --cflags mstls"
libs=$(pkg-config --libs mstls) || fail "pkg-config --libs mstls"
echo "cflags: $cflags"
echo "libs: $libs"
case " $cflags " in
*-DINET*) fail "pkg-config --cflags mstls leaks usrsctp's flags: $cflags" ;;
*) ;;
esac
case "$cflags" in
*"$P"*) ;;
*) fail "cflags do not point into the prefix: $cflags" ;;
esac
cat >"$P/consumer.c" <<'C'
#include <stdio.h>
#include <mstls/mstls.h>
#include <mstls/version.h>
int main(void) {
  int num = 0;
  const char *v = mstls_version(&num);
  printf("mstls %s\n", v);
  return num == MSTLS_VERSION_NUM ? 0 : 1;
}
C
# shellcheck disable=SC2086
if ! "$CC" -o "$P/consumer" "$P/consumer.c" $cflags $libs \
  -Wl,-rpath,"$P/$LIBDIR" 2>"$P/cc.log"; then
  cat "$P/cc.log"
  fail "consumer does not build with pkg-config's flags"
else
  # The library may carry sanitizers of its build; let their runtime
  # start after the consumer's own libraries.
  if ! env -u LD_LIBRARY_PATH ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 \
    "$P/consumer" >"$P/run.log" 2>&1; then
    cat "$P/run.log"
    fail "consumer does not run"
  fi
fi
[ "$fails" = 0 ] && echo "install into a prefix: ok"
[ "$fails" = 0 ]
