#!/usr/bin/env bash
# The main job: build the mstls tool and run its demo (a client and a
# server that handshake 16 streams and exchange data on each).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DMSTLS_BUILD_TESTS=OFF \
      -DMSTLS_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo -j2 --target mstls_tool >/dev/null
exec build-demo/examples/mstls demo "$@"
