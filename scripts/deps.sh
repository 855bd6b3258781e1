#!/usr/bin/env bash
# Install the Debian packages mstls needs (as root), only if some are
# missing. Usage: scripts/deps.sh [build|test]
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config libgnutls28-dev libusrsctp-dev
            libsctp-dev libuv1-dev)
TEST_PKGS=(libcmocka-dev gnutls-bin openssl clang-format freediameter
           qemu-system-x86 busybox-static tshark
           iproute2 ipvsadm)

pkgs=("${BUILD_PKGS[@]}")
if [ "${1:-build}" = test ]; then
  pkgs+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "mstls: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
