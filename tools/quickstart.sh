#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, from a fresh Debian 12 machine: build cordon, then take the embedded default
# policy through its life: check it, sign it with a fresh key, verify the envelope, and
# explain what it enforces on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh release >/dev/null
cordon=build/tools/cordon
policy=examples/policies/default.json
work=$(mktemp -d /tmp/cordon-quickstart-XXXXXX)

echo "\$ cordon policy check $policy"
$cordon policy check "$policy"
echo
echo "\$ cordon keygen $work/signing"
$cordon keygen "$work/signing"
echo
echo "\$ cordon sign --key $work/signing.key --expires 24h $policy > $work/default.envelope.json"
$cordon sign --key "$work/signing.key" --expires 24h "$policy" >"$work/default.envelope.json"
echo
echo "\$ cordon verify --trust $work/signing.pub $work/default.envelope.json > /dev/null"
$cordon verify --trust "$work/signing.pub" "$work/default.envelope.json" >/dev/null
echo
echo "\$ cordon explain --trust $work/signing.pub $work/default.envelope.json"
$cordon explain --trust "$work/signing.pub" "$work/default.envelope.json"
echo
echo "keys and envelope are in $work"
