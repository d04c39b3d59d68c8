#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Apply the tree's .clang-format to every C source and header git knows of, or, with --check,
# list the files that differ from it and exit 1.
#   tools/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
    echo "format: clang-format is not installed; run tools/install-deps.sh as root" >&2
    exit 2
fi
mapfile -t files < <(git ls-files -- '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
    bad=()
    for f in "${files[@]}"; do
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    if [ ${#bad[@]} -gt 0 ]; then
        printf 'format: %s differs from .clang-format\n' "${bad[@]}" >&2
        echo "format: run tools/format.sh to apply it, then commit the result" >&2
        exit 1
    fi
    echo "format: ${#files[@]} files match .clang-format"
    exit 0
fi
clang-format -i "${files[@]}"
