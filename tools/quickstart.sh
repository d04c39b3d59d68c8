#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, from a fresh Debian 12 machine: build cordon, then run a real agent
# (examples/agent/demo_agent.py, python3) under `cordon run` on the embedded default policy.
# cordon starts a private cordond that signs the policy for this run, applies the kernel
# sandbox and the shim's hooks to the agent, tunnels its permitted egress, records every
# decision in a tamper-evident audit log, and stops afterwards. The same agent then runs
# without cordon for comparison. The agent runs with a temporary HOME holding planted
# credentials, so nothing of yours is read.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh release >/dev/null
cordon=$PWD/build/tools/cordon
policy=$PWD/examples/policies/default.json
# /var/tmp, not /tmp: the audit log must lie outside the agent's grants, and ${tmp} is one
work=$(mktemp -d /var/tmp/cordon-quickstart-XXXXXX)
home=$work/home
ws=$work/workspace
mkdir -p "$home/.ssh" "$home/.aws" "$ws"
echo "planted-private-key" >"$home/.ssh/id_rsa"
echo "planted-aws-secret" >"$home/.aws/credentials"
cp examples/agent/demo_agent.py "$ws/"
audit=$home/.local/state/cordon/audit

echo "\$ cordon policy check examples/policies/default.json"
"$cordon" policy check "$policy"
echo
echo "\$ cordon run --policy examples/policies/default.json -- python3 demo_agent.py"
(cd "$ws" && HOME=$home "$cordon" run --policy "$policy" -- python3 demo_agent.py)
echo
echo "\$ cordon audit query \$HOME/.local/state/cordon/audit --kind fs.open   (then tunnel.open, tunnel.deny)"
"$cordon" audit query "$audit" --kind fs.open
"$cordon" audit query "$audit" --kind tunnel.open
"$cordon" audit query "$audit" --kind tunnel.deny
echo
echo "\$ cordon audit verify \$HOME/.local/state/cordon/audit"
"$cordon" audit verify "$audit"
echo
echo "the same agent without cordon:"
(cd "$ws" && rm -f agent-output.txt dropped.sh && HOME=$home python3 demo_agent.py)
rm -f "$home/.bashrc-planted"
echo
echo "the agent's workspace and HOME (with the audit log) are in $work"
