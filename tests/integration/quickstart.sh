#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.quickstart: the demo of tools/quickstart.sh against the tree already built
# (--no-build BUILD_DIR): the stub upstream and the loopback origin, the agent under cordon
# run on the default policy, every line of its table, both layers of the audit log and
# `cordon audit verify`. Then the same demo on the default in observe mode, which must fail
# the checks and name the lines that differ: the checks can fail. HOME is a temporary one with
# planted credentials (the quickstart plants its own in its own temporary HOME as well).
#   quickstart.sh BUILD_DIR SOURCE_DIR
BUILD=$1
SRC=$2
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"
mkdir -p "$HOME/.ssh" "$HOME/.aws"
echo "PLANTED-TEST-HOME-KEY" >"$HOME/.ssh/id_rsa"
echo "PLANTED-TEST-HOME-AWS" >"$HOME/.aws/credentials"
WORKS=()
trap 'rm -rf "$T" "$FX" "${WORKS[@]}"' EXIT
# The quickstart keeps its directory for the reader and names it on its last lines.
keep_work() {
    local w
    w=$(echo "$OUT" | sed -n 's/^the agent.s workspace and HOME (with the audit log) are in //p')
    [ -n "$w" ] && WORKS+=("$w")
}

run "the quickstart's demo passes every check" 0 bash "$SRC/tools/quickstart.sh" --no-build "$BUILD"
keep_work
has "every line of the agent's table as the policy says" "all 12 lines of the table are as the policy says"
has "the credentials refused under cordon" "read ~/.ssh/id_rsa"
has "the denied model refused by cordond" "HTTP 403 cordon.model_denied"
has "the denied tool call removed from the stream" "the call was removed from the stream"
has "the audit summary names the removed call" "tool call deploy_production removed (cordon.tool_denied)"
has "the audit log holds both layers" "the audit log holds both layers"
has "the tunnel's refusal is in the log" "tunnel.deny"
has "audit verify says VALID" "VALID (closed)"
has "the agent without cordon reaches the denied tool" "the stream carried the call"
has "the last line" "quickstart: every check passed"
case "$OUT" in *PLANTED-TEST-HOME*) bad "the test's own HOME is never read" ;;
    *) ok "the test's own HOME is never read" ;; esac

# Observe mode decides and records but stops nothing in the model proxy: the checks must
# notice, name the lines and fail.
python3 - "$SRC/examples/policies/default.json" "$FX/observe.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["mode"] = "observe"
json.dump(p, open(sys.argv[2], "w"))
PY
run "the quickstart fails when the policy does not hold" 1 bash "$SRC/tools/quickstart.sh" \
    --no-build "$BUILD" --policy "$FX/observe.json"
keep_work
has "it names the denied model's line" "DIFFERS: ask gpt-4o (not in api.models): allowed"
has "it names the denied tool's line" "DIFFERS: claude streams a deploy_production call"
has "it names what reached the model API" "DIFFERS: the stub upstream saw"
has "it names the card number it did not redact" \
    "DIFFERS: the audit log has no record of the card number redacted"
has "it says it failed" "quickstart: FAILED:"

# Nothing in the demo names a host beyond loopback.
hosts=$(grep -nE 'https?://[A-Za-z]' "$SRC/tools/quickstart.sh" "$SRC"/examples/agent/*.py || true)
if [ -z "$hosts" ]; then ok "the demo names no host but loopback addresses"; else
    bad "the demo names no host but loopback addresses" "$hosts"; fi
finish
