#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure and build one flavour of cordon into a build directory.
#   tools/build.sh [release|asan|fuzz]   (default release) -> build/, build-asan/, build-fuzz/
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
case "$flavour" in
    release) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo); targets=() ;;
    asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DCORDON_SANITIZE=ON); targets=() ;;
    fuzz) dir=build-fuzz
          args=(-DCMAKE_BUILD_TYPE=Debug -DCORDON_FUZZ=ON -DCMAKE_C_COMPILER=clang)
          targets=(--target fuzz_policy fuzz_envelope fuzz_audit fuzz_config fuzz_connect
                   fuzz_agents fuzz_shim fuzz_peer fuzz_stub fuzz_sse fuzz_stream
                   fuzz_request) ;;
    *) echo "usage: tools/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" "${targets[@]}" >/dev/null
echo "$dir"
