#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, from a fresh Debian 12 machine: build cordon, then run a real agent
# (examples/agent/demo_agent.py, python3) under `cordon run` on the default policy
# (examples/policies/default.json). cordon starts a private cordond that signs the policy for
# this run, applies the kernel sandbox and the shim's hooks to the agent, tunnels its
# permitted egress, judges its model calls (the card number in a prompt reaches the model as
# [CREDIT_CARD]), records every decision of both layers in a
# tamper-evident audit log, and stops afterwards. The same agent then runs without cordon for
# comparison.
#
# Nothing leaves the machine: the model APIs are the stub upstream (tests/support/
# stub_upstream, a scripted stand-in for OpenAI and Anthropic) and the web is a loopback
# origin on two ports, both started here on 127.0.0.1. The agent runs with a temporary HOME
# holding planted credentials, so nothing of yours is read. Every line of the agent's table,
# the audit records of both layers and `cordon audit verify` are checked: the script exits 1
# when anything differs from what the policy promises.
#
#   tools/quickstart.sh [--no-build BUILD_DIR] [--policy FILE]
#     --no-build BUILD_DIR  use the cordon already built in BUILD_DIR (integration.quickstart)
#                           instead of installing the dependencies and building into build/
#     --policy FILE         run the demo on FILE instead of the default; the checks still
#                           expect what the default promises, so they show where FILE differs
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=
policy_src=$src/examples/policies/default.json
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=$(cd "${2:?--no-build needs a build directory}" && pwd); shift 2 ;;
        --policy) policy_src=$(realpath "${2:?--policy needs a file}"); shift 2 ;;
        *) echo "usage: tools/quickstart.sh [--no-build BUILD_DIR] [--policy FILE]" >&2; exit 2 ;;
    esac
done
if [ -z "$build" ]; then
    tools/install-deps.sh
    build=$src/$(tools/build.sh release)
fi
cordon=$build/tools/cordon
stub=$build/tests/support/stub_upstream
for f in "$cordon" "$stub"; do
    [ -x "$f" ] || { echo "quickstart: $f is missing; build first (tools/build.sh)" >&2; exit 2; }
done

# /var/tmp, not /tmp: the policy and the audit log must lie outside the agent's grants, and
# ${tmp} is one
work=$(mktemp -d /var/tmp/cordon-quickstart-XXXXXX)
home=$work/home
ws=$work/workspace
mkdir -p "$home/.ssh" "$home/.aws" "$ws" "$work/site"
echo "planted-private-key" >"$home/.ssh/id_rsa"
echo "planted-aws-secret" >"$home/.aws/credentials"
echo "hello from the loopback origin" >"$work/site/index.html"
cp examples/agent/demo_agent.py "$ws/"
audit=$home/.local/state/cordon/audit
# Provider keys: stand-ins, held by cordon run (and so by its private cordond) only. The stub
# answers 401 to any other key, so an answered call proves that cordond sent the key.
openai_key=sk-quickstart-openai-not-a-real-key
anthropic_key=sk-quickstart-anthropic-not-a-real-key

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
# start_origin NAME: a plain HTTP origin on a loopback port the kernel chooses, in $port.
start_origin() {
    python3 tests/support/http_origin.py "$work/site" "$work/$1.port" &
    pids+=($!)
    wait_file "$work/$1.port" || {
        echo "quickstart: the loopback origin did not start" >&2
        exit 1
    }
    port=$(cat "$work/$1.port")
}
start_origin origin-allowed
allowed_port=$port
start_origin origin-denied
denied_port=$port
"$stub" --listen 127.0.0.1:0 --ready-file "$work/stub.ready" --log "$work/stub-requests.jsonl" \
    --openai-key "$openai_key" --anthropic-key "$anthropic_key" --quiet \
    --scenario 'text text="Hello from the loopback model."' 2>"$work/stub.err" &
pids+=($!)
wait_file "$work/stub.ready" || { echo "quickstart: the stub upstream did not start:" >&2
                                  cat "$work/stub.err" >&2; exit 1; }
stub_port=$(sed -n 's/^port=//p' "$work/stub.ready")
stub_url=http://127.0.0.1:$stub_port
# The scripted model: the next Messages call is answered with a little text and then a call of
# deploy_production, the tool the default policy denies (api.tools.deny "deploy_*").
script_stub() {
    curl -sS --fail --noproxy '*' -o /dev/null -X POST "$stub_url/__stub/reset"
    curl -sS --fail --noproxy '*' -o /dev/null -X POST "$stub_url/__stub/queue" -d \
        '{"scenario": "text_then_tool", "path": "/v1/messages", "text": "I will deploy the fix.",
          "name": "deploy_production", "args": {"env": "production"}}'
}
script_stub

# The policy: the default as it ships, with the loopback origin's first port added to
# sandbox.network.allow (the ports are chosen by the kernel, so they are written in here).
policy=$work/policy.json
python3 - "$policy_src" "$policy" "127.0.0.1:$allowed_port" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
net = p.setdefault("sandbox", {}).setdefault("network", {})
net.setdefault("allow", []).append(sys.argv[3])
with open(sys.argv[2], "w") as f:
    json.dump(p, f, indent=2)
    f.write("\n")
PY
shown_policy=${policy_src#"$src/"}
echo "the model APIs: the stub upstream on $stub_url (scripted; it holds no model)"
echo "the web: a loopback origin on 127.0.0.1:$allowed_port and 127.0.0.1:$denied_port"
echo "the policy: $shown_policy, with \"127.0.0.1:$allowed_port\" added to"
echo "  sandbox.network.allow (127.0.0.1:$denied_port is not), written to $policy"
echo
echo "\$ cordon policy check $policy"
"$cordon" policy check "$policy"
echo
allowed_url=http://127.0.0.1:$allowed_port/
denied_url=http://127.0.0.1:$denied_port/
echo "\$ export OPENAI_API_KEY=sk-quickstart-... ANTHROPIC_API_KEY=sk-quickstart-..."
echo "  (cordon run's own environment: its private cordond holds them, the agent never sees them)"
echo "\$ cordon run --policy $policy --upstream openai=$stub_url/v1 \\"
echo "      --upstream anthropic=$stub_url -- python3 demo_agent.py --results results.jsonl \\"
echo "      $allowed_url $denied_url"
rc=0
# TMPDIR and XDG_STATE_HOME unset: ${tmp} is then /tmp, which holds neither the policy nor the
# audit log, and the log is where the checks below read it.
(cd "$ws" && env -u TMPDIR -u XDG_STATE_HOME HOME="$home" OPENAI_API_KEY="$openai_key" \
    ANTHROPIC_API_KEY="$anthropic_key" "$cordon" run --policy "$policy" \
    --upstream "openai=$stub_url/v1" --upstream "anthropic=$stub_url" -- \
    python3 demo_agent.py --results results.jsonl \
    "$allowed_url" "$denied_url") || rc=$?
echo
failures=0
if [ "$rc" -ne 0 ]; then
    echo "quickstart: DIFFERS: cordon run exited $rc, expected 0"
    failures=$((failures + 1))
fi

# Every line of the table: the verdict the policy promises, and for the model calls who
# answered (cordond's refusal code, the removed tool call, the stub's text).
python3 - "$ws/results.jsonl" <<'PY' || failures=$((failures + 1))
import json, sys
expected = [
    ("workspace_write", "allowed", ""),
    ("read_os_release", "allowed", ""),
    ("read_ssh_key", "refused", ""),
    ("read_aws_credentials", "refused", ""),
    ("plant_in_home", "refused", ""),
    ("run_dropped_script", "refused", ""),
    ("udp_socket", "refused", ""),
    ("fetch_allowed", "allowed", "HTTP 200"),
    ("fetch_denied", "refused", ""),
    ("model_allowed", "allowed", "Hello from the loopback model."),
    ("model_denied", "refused", "HTTP 403 cordon.model_denied"),
    ("tool_denied", "refused", "the call was removed from the stream"),
]
try:
    got = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
except OSError as e:
    sys.exit(f"quickstart: DIFFERS: the agent wrote no results ({e})")
bad = 0
for ident, verdict, detail in expected:
    r = got.get(ident)
    if r is None:
        print(f"quickstart: DIFFERS: {ident}: the agent did not try it")
    elif r["verdict"] != verdict or detail not in r["detail"]:
        print(f"quickstart: DIFFERS: {r['what']}: {r['verdict']} ({r['detail']}), "
              f"expected {verdict}" + (f" with {detail!r}" if detail else ""))
    else:
        continue
    bad += 1
if bad:
    sys.exit(1)
print(f"quickstart: all {len(expected)} lines of the table are as the policy says")
PY
echo

# Both layers in the audit log: the kernel and the shim (fs.open, exec), cordond's tunnel
# (tunnel.open, tunnel.deny) and cordond's model proxy (model.call).
echo "\$ cordon audit query \$HOME/.local/state/cordon/audit --kind fs.open"
echo "  (then --kind tunnel.open and --kind tunnel.deny)"
for kind in fs.open tunnel.open tunnel.deny; do
    "$cordon" audit query "$audit" --kind "$kind" || failures=$((failures + 1))
done
echo
echo "\$ cordon audit query \$HOME/.local/state/cordon/audit --kind model.call --json"
echo "  (summarised: the model, the endpoint, what each stage of cordond did)"
"$cordon" audit query "$audit" --json >"$work/audit.jsonl" || failures=$((failures + 1))
python3 - "$work/audit.jsonl" "$home" "$allowed_port" "$denied_port" "$work/stub-requests.jsonl" \
    <<'PY' || failures=$((failures + 1))
import json, sys
log, home, allowed, denied, stub_log = sys.argv[1:]
recs = [json.loads(l) for l in open(log)]
calls = [r for r in recs if r["kind"] == "model.call"]
for r in calls:
    what = [r.get("endpoint", "?") + (" (stream)" if r.get("stream") else "")]
    if r.get("refusal"):
        what.append("refused %(status)s %(code)s" % r["refusal"])
    else:
        what.append("answered, %(input)s+%(output)s tokens" % r["tokens"])
    tools = [s for s in r.get("stages", []) if s["stage"] == "tools"]
    req = tools[0]["request"] if tools else None
    if isinstance(req, dict) and req["decision"] == "rewrite":
        what.append("denied tool definitions stripped")
    for t in r.get("tools", {}).get("removed", []):
        what.append("tool call %s removed (%s)" % (t["name"], t["code"]))
    for x in (r.get("data") or {}).get("request", []):
        what.append("%s %s at %s" % (x["class"], x["action"] if x["applied"] else
                                     "would be " + x["action"], ", ".join(x["positions"])))
    print("  #%-4s %-17s %s: %s" % (r["seq"], r.get("model", "?"), what[0], "; ".join(what[1:])))


def has(desc, pred):
    if any(pred(r) for r in recs):
        return 0
    print("quickstart: DIFFERS: the audit log has no record of " + desc)
    return 1


def detail(r):
    return r.get("detail") or {}


bad = 0
bad += has("the denied read of ~/.ssh/id_rsa", lambda r: r["kind"] == "fs.open"
           and r["decision"] == "deny" and detail(r).get("path") == home + "/.ssh/id_rsa")
bad += has("the denied read of ~/.aws/credentials", lambda r: r["kind"] == "fs.open"
           and r["decision"] == "deny" and detail(r).get("path") == home + "/.aws/credentials")
bad += has("the denied exec of dropped.sh", lambda r: r["kind"] == "exec"
           and r["decision"] == "deny" and detail(r).get("path", "").endswith("/dropped.sh"))
bad += has("the tunnel to 127.0.0.1:" + allowed, lambda r: r["kind"] == "tunnel.open"
           and r.get("port") == int(allowed) and r["decision"] == "allow")
bad += has("the refused tunnel to 127.0.0.1:" + denied, lambda r: r["kind"] == "tunnel.deny"
           and r.get("port") == int(denied))
bad += has("the allowed gpt-4o-mini call", lambda r: r["kind"] == "model.call"
           and r.get("model") == "gpt-4o-mini" and not r.get("refusal"))
bad += has("the refused gpt-4o call", lambda r: r["kind"] == "model.call"
           and (r.get("refusal") or {}).get("code") == "cordon.model_denied")
bad += has("the removed deploy_production call", lambda r: r["kind"] == "model.call"
           and any(t["name"] == "deploy_production" for t in r["tools"]["removed"]))
# The card number in the allowed call's prompt (api.data "pii.credit_card": "redact"): the
# record names the class and the position, never the number.
card = "4539 1488 0343 6467"
bad += has("the card number redacted in the gpt-4o-mini call", lambda r: r["kind"] ==
           "model.call" and r.get("model") == "gpt-4o-mini" and any(
               x["class"] == "pii.credit_card" and x["action"] == "redact" and x["applied"]
               and "messages[0].content" in x["positions"]
               for x in (r.get("data") or {}).get("request", [])))
if any(card in l for l in open(log)):
    print("quickstart: DIFFERS: the audit log holds the card number")
    bad += 1
# What reached the model API: the two allowed calls, with cordond's provider key (the stub
# answers 401 to any other), the card number redacted, and no deploy_production definition.
seen = [json.loads(l) for l in open(stub_log)]
got = [(s["path"], s["status"]) for s in seen]
if got != [("/v1/chat/completions", 200), ("/v1/messages", 200)]:
    print("quickstart: DIFFERS: the stub upstream saw %s, expected the allowed chat call and "
          "the Messages call, both answered" % got)
    bad += 1
elif card in seen[0].get("body", "") or "[CREDIT_CARD]" not in seen[0].get("body", ""):
    print("quickstart: DIFFERS: the card number reached the model API as it was, not as "
          "[CREDIT_CARD]")
    bad += 1
elif "deploy_production" in seen[1].get("body", ""):
    print("quickstart: DIFFERS: the deploy_production definition reached the model API")
    bad += 1
if bad:
    sys.exit(1)
print("quickstart: the audit log holds both layers: the sandbox's and the tunnel's refusals, "
      "and the %d model calls; the stub upstream saw only the 2 allowed calls, with cordond's "
      "key and the card number redacted" % len(calls))
PY
echo
echo "\$ cordon audit verify \$HOME/.local/state/cordon/audit"
verify=$("$cordon" audit verify "$audit" 2>&1) || true
echo "$verify"
case "$verify" in
    *"VALID (closed)"*) ;;
    *) echo "quickstart: DIFFERS: cordon audit verify does not say VALID (closed)"
       failures=$((failures + 1)) ;;
esac
echo

# The same agent without cordon: straight to the model API with the provider keys in its own
# environment, and nothing between it and the files or the network.
script_stub
echo "the same agent without cordon (OPENAI_BASE_URL and ANTHROPIC_BASE_URL at the stub, the"
echo "provider keys in its own environment):"
(cd "$ws" && rm -f agent-output.txt dropped.sh results.jsonl &&
    env HOME="$home" OPENAI_API_KEY="$openai_key" ANTHROPIC_API_KEY="$anthropic_key" \
        OPENAI_BASE_URL="$stub_url/v1" ANTHROPIC_BASE_URL="$stub_url" \
        python3 demo_agent.py "$allowed_url" "$denied_url") || true
rm -f "$home/.bashrc-planted"
echo
echo "the agent's workspace and HOME (with the audit log) are in $work"
if [ "$failures" -ne 0 ]; then
    echo "quickstart: FAILED: $failures check(s) differ from what the policy promises (above)"
    exit 1
fi
echo "quickstart: every check passed"
