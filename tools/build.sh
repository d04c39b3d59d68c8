#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure and build one flavour of cordon into a build directory.
#   tools/build.sh [release|asan|fuzz]   (default release) -> build/, build-asan/, build-fuzz/
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
# Every libFuzzer target is a tests/fuzz/fuzz_NAME.c with its seeds in tests/fuzz/corpus/NAME/.
fuzz_targets() { local f; for f in tests/fuzz/fuzz_*.c; do f=${f##*/}; echo "${f%.c}"; done; }
case "$flavour" in
    release) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo); targets=() ;;
    asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DCORDON_SANITIZE=ON); targets=() ;;
    fuzz) dir=build-fuzz
          args=(-DCMAKE_BUILD_TYPE=Debug -DCORDON_FUZZ=ON -DCMAKE_C_COMPILER=clang)
          targets=(--target $(fuzz_targets)) ;;
    *) echo "usage: tools/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" "${targets[@]}" >/dev/null
echo "$dir"
