#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install, through apt-get, everything cordon needs to build, test and benchmark on Debian 12.
# Idempotent: when every package is already present it returns at once without touching apt.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git ca-certificates
    libcurl4-openssl-dev libcjson-dev libsodium-dev libcriterion-dev
    libssl-dev                 # cordond's TLS: the deployment CA and the leaves it mints
    libmicrohttpd-dev libseccomp-dev libvectorscan-dev
    libpcre2-dev               # the PCRE2-JIT baseline of bench/bench_scan.c
    clang libclang-rt-14-dev   # libFuzzer targets in tests/fuzz
    clang-format               # tools/format.sh --check: the tree stays formatted
    llvm-14                    # llvm-readobj: the Mach-O check of the macOS interpose table
    python3 curl nodejs        # integration tests drive real programs (node: fetch, child_process)
    iproute2                   # ip(8): addresses in the private network namespace of net_names.sh
    python3-requests python3-httpx  # real HTTP clients against tests/support/stub_upstream
    wrk                        # the baseline of bench/bench_stub.sh
    bubblewrap firejail hyperfine   # baselines for bench/
    tzdata                     # the zones of api.schedule and api.budget.tz (base/tz.c, unit.tz)
    dpkg-dev lintian binutils  # tools/package.sh: dpkg-shlibdeps, the lintian check, strip
    ninja-build                # tools/package.sh and integration.clone_anywhere build with Ninja
    man-db                     # integration.manpages renders the pages with man -l
    debootstrap                # integration.package and readme_fleet: a fresh Debian root
    netbase                    # /etc/hosts and /etc/services: localhost resolves on a bare root
)

# npm installs the official OpenAI and Anthropic clients for integration.stub_upstream (the
# test does that itself, into a cache). Node.js builds other than Debian's ship npm inside.
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run this script as root, or install them with apt-get first" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
