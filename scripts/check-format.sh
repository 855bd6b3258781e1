#!/usr/bin/env bash
# Fail if any C file differs from .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' '*.h.in' | grep -v '\.in$' || true)
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
