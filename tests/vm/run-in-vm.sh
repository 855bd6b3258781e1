#!/usr/bin/env bash
# Run one command inside a throw-away QEMU guest that boots Debian's generic
# kernel, so that tests of the kernel-SCTP (lksctp) backend run against a real
# kernel SCTP stack even when the host kernel has none.
#
# The guest sees the host's root filesystem read-only over 9p, with a RAM
# overlay on top so the command may write anywhere (writes vanish at poweroff).
# Binaries built on the host therefore run unchanged, with the host's libraries.
#
# Usage: tests/vm/run-in-vm.sh [--timeout SECS] -- COMMAND [ARGS...]
#
# Exit status: COMMAND's own status inside the guest; 125 if the guest never
# reported one (boot failure, panic, timeout); 77 if no guest can be started
# on this machine at all (qemu or the kernel package cannot be obtained), so
# that ctest reports a skip instead of a failure; 2 for a usage error.
#
# Environment:
#   MSTLS_VM_CACHE        cache folder for the extracted kernel
#                         (default /var/cache/mstls-vm)
#   MSTLS_VM_KERNEL_META  metapackage naming the kernel (default
#                         linux-image-amd64; it must ship 9p, overlay, sctp)
#   MSTLS_VM_MEM          guest memory in MiB (default 1024)
#   MSTLS_VM_KEEP_LOG     if set, the console log is kept at this path
set -euo pipefail

readonly RC_SKIP=77
readonly RC_NO_MARKER=125
readonly MARKER=MSTLS_VM_RC

prog=${0##*/}
timeout_s=240
cache=${MSTLS_VM_CACHE:-/var/cache/mstls-vm}
kernel_meta=${MSTLS_VM_KERNEL_META:-linux-image-amd64}
mem_mib=${MSTLS_VM_MEM:-1024}

# Modules to load in the guest, in this order; their dependencies are resolved
# from the kernel's modules.dep and loaded first. crc32c_generic is not a
# dependency in modules.dep (libcrc32c asks the crypto API for "crc32c" by
# name, which would need a modprobe helper the initramfs does not have), so it
# is listed before sctp explicitly.
readonly GUEST_MODULES="crc32c_generic sctp virtio_pci 9pnet_virtio 9p overlay veth sch_netem ip_vs ip_vs_rr"

die() {
  echo "$prog: $*" >&2
  exit "$RC_NO_MARKER"
}

skip() {
  echo "$prog: cannot start a guest: $*"
  exit "$RC_SKIP"
}

usage() {
  echo "usage: $prog [--timeout SECS] -- COMMAND [ARGS...]" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
  --timeout)
    [ $# -ge 2 ] || usage
    timeout_s=$2
    shift 2
    ;;
  --timeout=*)
    timeout_s=${1#--timeout=}
    shift
    ;;
  --)
    shift
    break
    ;;
  -h | --help) usage ;;
  *) usage ;;
  esac
done
[ $# -ge 1 ] || usage
case $timeout_s in
'' | *[!0-9]*) usage ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/mstls-vm.XXXXXX")
# shellcheck disable=SC2317 # run from the EXIT trap
cleanup() {
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

apt_log=$work/apt.log
apt_updated=
apt_update() {
  if [ -z "$apt_updated" ]; then
    apt_updated=1
    apt-get update -qq >>"$apt_log" 2>&1 || true
  fi
}

# --- 1. host tools -----------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkgs+=(qemu-system-x86)
# Only the static build runs inside the initramfs, which has no libc; the
# busybox-static package replaces the dynamic one, so ask dpkg which is in.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
  need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || skip "missing ${need_pkgs[*]} and not root to install them"
  command -v apt-get >/dev/null 2>&1 || skip "missing ${need_pkgs[*]} and no apt-get"
  apt_update
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${need_pkgs[@]}" >>"$apt_log" 2>&1; then
    skip "apt-get install ${need_pkgs[*]} failed: $(tail -n 1 "$apt_log")"
  fi
fi
busybox=/bin/busybox
[ -x "$busybox" ] || skip "busybox-static is installed but $busybox is missing"

# --- 2. kernel (cached) ------------------------------------------------------
# Resolve the versioned image package behind the metapackage, so the cache
# follows Debian's updates without ever installing a kernel on the host. The
# candidate metapackage normally pins its image exactly ("Depends:
# linux-image-X (= V)"), which gives name and version in one apt-cache call.
resolve_kernel_pkg() {
  apt-cache show --no-all-versions "$kernel_meta" 2>/dev/null |
    sed -n 's/^Depends: \(linux-image-[^ ,]*\)\( (= \([^)]*\))\)\{0,1\}.*/\1 \3/p' |
    head -n 1 || true
}

kpkg='' kpkg_version=''
read -r kpkg kpkg_version <<<"$(resolve_kernel_pkg)" || true
if [ -z "$kpkg" ]; then
  apt_update
  read -r kpkg kpkg_version <<<"$(resolve_kernel_pkg)" || true
fi
if [ -z "$kpkg" ]; then
  # Offline: fall back on whatever kernel was cached last.
  if [ -L "$cache/current" ] && [ -d "$cache/current/" ]; then
    kdir=$(readlink -f "$cache/current")
  else
    skip "cannot resolve $kernel_meta with apt-cache and nothing is cached"
  fi
else
  kdir=$cache/$kpkg${kpkg_version:+_${kpkg_version//[^A-Za-z0-9.+~-]/_}}
fi

# Debian's bzImage spends seconds decompressing itself under TCG. The ELF
# inside it carries a PVH entry note, which qemu boots directly: unpack it once
# and boot twice as fast. Any doubt (no tool, no note) keeps the bzImage.
vmlinux_from_bzimage() {
  local src=$1 dst=$2 magic tool off
  command -v readelf >/dev/null 2>&1 || return 1
  while read -r magic tool; do
    command -v "$tool" >/dev/null 2>&1 || continue
    for off in $(LC_ALL=C grep -obUaP "$magic" "$src" | head -n 3 | cut -d: -f1); do
      # Trailing bytes after the stream make the tool fail after a complete
      # output, so its status proves nothing; the ELF note check below does.
      tail -c "+$((off + 1))" "$src" | "$tool" -dc >"$dst" 2>/dev/null || true
      # XEN_ELFNOTE_PHYS32_ENTRY (18) is the PVH entry point.
      if LC_ALL=C readelf -n "$dst" 2>/dev/null | grep -q 'Xen.*(0x00000012)'; then
        return 0
      fi
    done
  done <<'EOF_MAGIC'
\xfd7zXZ\x00 xz
\x28\xb5\x2f\xfd zstd
\x1f\x8b\x08 gzip
EOF_MAGIC
  rm -f -- "$dst"
  return 1
}

# Several ctest jobs may start at once: one extracts, the others wait. A user
# who cannot write the cache may still use what root put there.
locked=''
if mkdir -p -- "$cache" 2>/dev/null && [ -w "$cache" ]; then
  exec 9>"$cache/.lock"
  flock 9
  locked=1
fi
if [ ! -e "$kdir/.complete" ]; then
  [ -n "$kpkg" ] || skip "cached kernel $kdir is incomplete"
  [ -n "$locked" ] || skip "$kpkg is not in $cache, which is not writable"
  echo "$prog: fetching $kpkg into $cache (once)"
  dl=$work/dl
  mkdir -p -- "$dl"
  # The _apt sandbox user cannot write into a mktemp folder owned by root.
  get_deb() {
    (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root \
      "$kpkg${kpkg_version:+=$kpkg_version}") >>"$apt_log" 2>&1
  }
  if ! get_deb; then
    apt_update
    get_deb || skip "apt-get download $kpkg failed: $(tail -n 1 "$apt_log")"
  fi
  rm -rf -- "$kdir.tmp"
  mkdir -p -- "$kdir.tmp"
  dpkg-deb -x "$dl"/*.deb "$kdir.tmp"
  kver=$(ls "$kdir.tmp/lib/modules" 2>/dev/null || ls "$kdir.tmp/usr/lib/modules")
  if [ -z "$kver" ] || [ "$(echo "$kver" | wc -l)" -ne 1 ]; then
    die "unexpected module tree in $kpkg"
  fi
  # Debian ships no modules.dep in the package: postinst runs depmod. busybox's
  # depmod finds modules under -b DIR/lib/modules/KVER.
  if [ -d "$kdir.tmp/lib/modules/$kver" ]; then
    "$busybox" depmod -b "$kdir.tmp" "$kver"
  else
    "$busybox" depmod -b "$kdir.tmp/usr" "$kver"
  fi
  echo "$kver" >"$kdir.tmp/.kver"
  touch "$kdir.tmp/.complete"
  rm -rf -- "$kdir"
  mv -- "$kdir.tmp" "$kdir"
  ln -sfn -- "${kdir##*/}" "$cache/current"
fi
if [ -n "$locked" ] && [ ! -e "$kdir/.vmlinux-tried" ] && [ -w "$kdir" ]; then
  kv=$(cat "$kdir/.kver")
  vmlinux_from_bzimage "$kdir/boot/vmlinuz-$kv" "$kdir/vmlinux.tmp" &&
    mv -- "$kdir/vmlinux.tmp" "$kdir/vmlinux"
  touch "$kdir/.vmlinux-tried"
fi
if [ -n "$locked" ]; then
  flock -u 9
  exec 9>&-
fi

kver=$(cat "$kdir/.kver")
moddir=$kdir/lib/modules/$kver
[ -d "$moddir" ] || moddir=$kdir/usr/lib/modules/$kver
vmlinuz=$kdir/boot/vmlinuz-$kver
[ -r "$kdir/vmlinux" ] && vmlinuz=$kdir/vmlinux
[ -r "$vmlinuz" ] || die "no kernel image $vmlinuz"

# --- 3. initramfs ------------------------------------------------------------
# Module load order: depth-first over modules.dep, dependencies before users.
# Names may use '-' or '_' interchangeably; files may be compressed.
declare -A mod_path=() mod_deps=() mod_seen=()
while IFS= read -r line; do
  m=${line%%:*}
  name=${m##*/}
  name=${name%%.ko*}
  name=${name//-/_}
  mod_path[$name]=$m
  mod_deps[$name]=${line#*:}
done <"$moddir/modules.dep"

load_order=()
add_module() {
  local name=${1//-/_} d dn
  [ -z "${mod_seen[$name]:-}" ] || return 0
  mod_seen[$name]=1
  if [ -z "${mod_path[$name]:-}" ]; then
    # Built into this kernel: nothing to load.
    grep -q "/${name}.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
    die "kernel $kver has no module $name"
  fi
  for d in ${mod_deps[$name]}; do
    dn=${d##*/}
    add_module "${dn%%.ko*}"
  done
  load_order+=("$name")
}
for m in $GUEST_MODULES; do
  add_module "$m"
done

root=$work/initramfs
mkdir -p -- "$root"/{bin,dev,proc,sys,newroot,lower,upper,modules,etc}
cp -- "$busybox" "$root/bin/busybox"
: >"$root/etc/modules"
for name in "${load_order[@]}"; do
  src=$moddir/${mod_path[$name]}
  case $src in
  *.ko) cp -- "$src" "$root/modules/$name.ko" ;;
  *.ko.xz) xz -dc -- "$src" >"$root/modules/$name.ko" ;;
  *.ko.zst) zstd -qdc -- "$src" >"$root/modules/$name.ko" ;;
  *.ko.gz) gzip -dc -- "$src" >"$root/modules/$name.ko" ;;
  *) die "unknown module format $src" ;;
  esac
  echo "$name" >>"$root/etc/modules"
done

# The command, its arguments, the working directory and the environment travel
# as a POSIX sh script with every value single-quoted, so no byte of them is
# ever re-parsed by a shell.
shq() {
  local s=${1//\'/\'\\\'\'}
  printf "'%s'" "$s"
}
{
  echo '# generated by run-in-vm.sh'
  while IFS= read -r var; do
    case $var in
    PWD | OLDPWD | SHLVL | _ | BASH_* | TERM) continue ;;
    esac
    # Names that a POSIX shell cannot export are left out.
    case $var in
    *[!A-Za-z0-9_]* | [0-9]*) continue ;;
    esac
    printf 'export %s=%s\n' "$var" "$(shq "${!var}")"
  done < <(compgen -e)
  printf 'export TERM=dumb\n'
  printf 'cd %s || exit 126\n' "$(shq "$PWD")"
  printf 'exec'
  for a in "$@"; do
    printf ' %s' "$(shq "$a")"
  done
  printf '\n'
} >"$root/etc/cmd.sh"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# PID 1 of the guest: load modules, build the root, run the command, report.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
  # No MSTLS_VM_RC marker: the host turns its absence into a failure.
  echo
  echo "mstls-vm: guest setup failed: $*"
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
  insmod "/modules/$m.ko" || fail "insmod $m"
done </etc/modules
[ -d /proc/sys/net/sctp ] || fail "sctp not active after loading"
ip link set lo up || fail "lo up"

# Read-only host root below, RAM above, so the command sees a normal
# writable filesystem without any risk to the host.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose \
  hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 tmpfs /upper || fail "tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work \
  overlay /newroot || fail "mount overlay"
# The 9p export shows the host's own /proc, /sys, /dev and /run: replace them.
mount -t proc proc /newroot/proc || fail "proc in root"
mount -t sysfs sysfs /newroot/sys || fail "sysfs in root"
mount -t devtmpfs devtmpfs /newroot/dev || fail "devtmpfs in root"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "tmpfs /run"
mkdir -p /newroot/run/mstls-vm
cp /etc/cmd.sh /newroot/run/mstls-vm/cmd.sh

# The BIOS leaves the cursor mid-line; start the command on a fresh one.
echo
echo "mstls-vm: running"
chroot /newroot /bin/sh /run/mstls-vm/cmd.sh </dev/null
rc=$?
echo "MSTLS_VM_RC=$rc"
poweroff -f
EOF
chmod 0755 "$root/init"

initrd=$work/initrd.cpio
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$initrd"

# --- 4. boot -----------------------------------------------------------------
log=$work/console.log
start=$(date +%s)
# TCG only: KVM on these machines is a nested module that hangs the guest.
# qemu's own status says nothing about the guest's; the marker does.
set +e
timeout --kill-after=5 "$timeout_s" \
  qemu-system-x86_64 -accel tcg -smp 1 -m "$mem_mib" \
  -nographic -nodefaults -serial stdio -monitor none -no-reboot \
  -kernel "$vmlinuz" -initrd "$initrd" \
  -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  </dev/null 2>&1 | tee "$log" | sed -u 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g'
qemu_status=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

if [ -n "${MSTLS_VM_KEEP_LOG:-}" ]; then
  cp -- "$log" "$MSTLS_VM_KEEP_LOG"
fi

rc=$(grep -a -o "$MARKER=[0-9]*" "$log" | tail -n 1 | cut -d= -f2) || true
if [ -z "$rc" ]; then
  if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    echo "$prog: no $MARKER from the guest: timed out after ${timeout_s}s" >&2
  elif grep -aq 'guest setup failed' "$log"; then
    reason=$(grep -a -o 'guest setup failed.*' "$log" | tr -d '\r' | head -n 1) || true
    echo "$prog: no $MARKER from the guest: $reason" >&2
  else
    echo "$prog: no $MARKER from the guest (qemu status $qemu_status, ${elapsed}s): boot failure or panic" >&2
  fi
  exit "$RC_NO_MARKER"
fi
echo "$prog: guest exited with $rc after ${elapsed}s"
exit "$rc"
