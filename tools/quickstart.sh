#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, from a fresh Debian 12 machine: build cordon, take the embedded default policy
# through its life (check, sign with a fresh key, verify, explain), then run a real agent
# (examples/agent/demo_agent.py, python3) inside the kernel sandbox the signed policy
# describes, beside the same agent without it. The agent runs with a temporary HOME holding
# planted credentials, so nothing of yours is read.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh release >/dev/null
cordon=$PWD/build/tools/cordon
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
home=$work/home
ws=$work/workspace
mkdir -p "$home/.ssh" "$home/.aws" "$ws"
echo "planted-private-key" >"$home/.ssh/id_rsa"
echo "planted-aws-secret" >"$home/.aws/credentials"
cp examples/agent/demo_agent.py "$ws/"
echo "\$ cordon exec --policy default.envelope.json --trust signing.pub --workspace $ws -- python3 demo_agent.py"
(cd "$ws" && HOME=$home "$cordon" exec --policy "$work/default.envelope.json" \
    --trust "$work/signing.pub" --workspace "$ws" -- /usr/bin/python3 demo_agent.py)
echo
echo "the same agent without cordon:"
(cd "$ws" && HOME=$home /usr/bin/python3 demo_agent.py)
rm -f "$home/.bashrc-planted"
echo
echo "keys, envelope and the agent's workspace are in $work"
