#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libcordon.so and `cordon run` against the real cordond on loopback (single-policy mode):
# the policy fetch, the CONNECT tunnel, the event channel into the audit log, the poller
# after a reload, and the refusals (wrong key, server gone).
#   shim_cordond.sh CORDOND CORDON SOURCE_DIR
CORDOND=$(realpath "$1")
CORDON=$(realpath "$2")
SRC=$3
. "$SRC/tests/integration/lib.sh"
SHIM=$(cd "$(dirname "$CORDON")/../shim" && pwd)/libcordon.so
PY=$(command -v /usr/bin/python3 || command -v python3)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T" "$FX"; }
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

mkdir -p "$HOME/.ssh" "$T/ws" "$T/state" "$T/site"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
echo "hello-origin" > "$T/site/index.html"
cd "$T"
"$CORDON" keygen "$T/sign" >/dev/null
KEY=ck_$("$PY" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$KEY" > "$T/agent.key" && chmod 600 "$T/agent.key"

"$PY" "$SRC/tests/support/http_origin.py" "$T/site" "$T/origin.port" & PIDS+=($!)
wait_file "$T/origin.port" || bad "the origin did not start"
HP=$(cat "$T/origin.port")
write_policy() { # poll_seconds comes first so that a reload changes the document
    printf '{"cordon_policy":1,"agent":"it-real","poll_seconds":%s,"sandbox":{"enforcement":"best_effort","filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},"exec":{"deny":["rm"]},"network":{"mode":"proxy","allow":["127.0.0.1:%s"]}}}\n' "$1" "$HP" > "$T/policy.json"
}
write_policy 5
"$CORDOND" --policy "$T/policy.json" --agent-key-file "$T/agent.key" --signing-key "$T/sign.key" \
    --state-dir "$T/state" --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 \
    --ready-file "$T/ready" > "$T/cordond.log" 2>&1 & DPID=$!; PIDS+=($DPID)
if ! wait_file "$T/ready"; then bad "cordond started" "$(cat "$T/cordond.log")"; finish; exit 1; fi
ok "cordond started"
H=$(sed -n 's/^http=//p' "$T/ready")
O=("$CORDON" run --server "http://$H" --key "$T/agent.key" --trust "$T/sign.pub" --workspace "$T/ws")

run "cordon run: policy fetched from cordond, curl through its tunnel" 0 "${O[@]}" -- curl -sS --noproxy '*' "http://127.0.0.1:$HP/"
has "curl: the origin answered through cordond" 'hello-origin'
run "python urllib through the tunnel" 0 "${O[@]}" -- "$PY" -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$HP/').read().decode())"
has "python: the origin answered" 'hello-origin'
run "a destination outside the allowlist: cordond's refusal" 7 "${O[@]}" -- curl -sS --noproxy '*' "http://127.0.0.1:1/"
has "refusal: cordond's 403 and its words" 'refused the tunnel (403)'
has "refusal: names the allowlist" 'sandbox.network.allow'
run "credentials: denied under the real server's policy" 1 "${O[@]}" -- cat "$HOME/.ssh/id_rsa"
has "credentials: the rule and the version" '(policy it-real v'
case "$OUT" in *PRIVATE-KEY-MATERIAL*) bad "credentials leaked" ;; *) ok "credentials: no leak" ;; esac
run "profile mode (LD_PRELOAD) against cordond" 1 env CORDON_SERVER="http://$H" CORDON_KEY="$T/agent.key" CORDON_TRUST="$T/sign.pub" CORDON_WORKSPACE="$T/ws" LD_PRELOAD="$SHIM" sh -c "rm -f $T/ws/x; exit 1"
has "profile mode: exec denial" 'sandbox.exec.deny "rm"'
# The agent key given by value is replaced by the session token, and its bytes leave the
# root's own /proc/PID/environ too, which any process of the user may read.
run "profile mode: the agent key leaves the root's kernel environment" 0 env CORDON_SERVER="http://$H" \
    CORDON_KEY="$KEY" CORDON_TRUST="$T/sign.pub" CORDON_WORKSPACE="$T/ws" LD_PRELOAD="$SHIM" \
    sh -c 'tr "\0" "\n" < /proc/$$/environ | grep "^CORDON_KEY="; echo "now=${CORDON_KEY%%_*}"; true'
has "profile mode: the root now holds the session token" 'now=cs'
case "$OUT" in *"$KEY"*) bad "profile mode: the agent key is gone from /proc/PID/environ" "$OUT" ;;
    *) ok "profile mode: the agent key is gone from /proc/PID/environ" ;; esac
run "control: without the shim the key is in /proc/PID/environ" 0 env CORDON_KEY="$KEY" \
    sh -c 'tr "\0" "\n" < /proc/$$/environ | grep "^CORDON_KEY="; true'
has "control: the key is there" "CORDON_KEY=$KEY"

sleep 0.5
AUDIT=$(cat "$T"/state/audit/*.jsonl 2>/dev/null)
OUT=$AUDIT
has "audit: the fetch" '"kind":"policy.fetch"'
has "audit: the shim's hello" '"kind":"events.hello"'
has "audit: the enforcement report" '"kind":"sandbox.report"'
has "audit: the file denial with its path" "\"path\":\"$HOME/.ssh/id_rsa\""
echo "$AUDIT" | grep '"kind":"exec"' | grep -q '"decision":"deny"' && ok "audit: the exec denial" || bad "audit: no exec denial recorded"
has "audit: the tunnel opened to the origin" "\"kind\":\"tunnel.open\""
has "audit: the shim's connect event" '"kind":"net.connect"'
# cordond still runs, so its log is not closed yet: valid, and said to be open (status 3)
run "the audit log verifies with the shim's events in it" 3 "$CORDON" audit verify "$T/state/audit"
has "verify: valid, not closed while cordond runs" ', not closed: the writer stopped without its stop record'

# The poller: a reload publishes a new version while the agent runs.
( sleep 1; write_policy 6; kill -HUP "$DPID" ) &
run "poller: a reload is noticed while the agent runs" 0 "${O[@]}" -- sleep 8
has "poller: one warning line" 'is published; this process runs v'
has "poller: restart to apply" 'restart to apply'

run "wrong agent key: cordond says 401, nothing runs" 125 "$CORDON" run --server "http://$H" --key "ck_$(printf 'A%.0s' $(seq 43))" --trust "$T/sign.pub" -- echo RAN
has "wrong key: explained" 'refused the agent key (401)'
# a key given as a value does not stay on cordon's command line (/proc/PID/cmdline is 0444)
run "--key as a value works" 0 "$CORDON" run --server "http://$H" --key "$KEY" --trust "$T/sign.pub" \
    --workspace "$T/ws" -- sh -c 'tr "\0" " " < /proc/$PPID/cmdline'
has "the supervisor's command line is the cordon run" "--trust"
case "$OUT" in *"$KEY"*) bad "the key is wiped from the command line" "$OUT" ;;
    *) ok "the key is wiped from the command line" ;; esac
# a profile that holds the key itself must be as private as a key file
printf 'CORDON_SERVER=http://%s\nCORDON_KEY=%s\nCORDON_TRUST=%s\n' "$H" "$KEY" "$T/sign.pub" > "$T/p.env"
chmod 644 "$T/p.env"
run "a world-readable profile holding the key is refused" 125 "$CORDON" run --profile "$T/p.env" \
    --workspace "$T/ws" -- true
has "it says chmod 600" "chmod 600 $T/p.env"
CORDON_PROFILE=$T/p.env run "so it is by the shim in a profile-mode root" 126 \
    env LD_PRELOAD="$SHIM" CORDON_WORKSPACE="$T/ws" true
has "the shim says chmod 600" "chmod 600 $T/p.env"
chmod 600 "$T/p.env"
run "the same profile at mode 0600 works" 0 "$CORDON" run --profile "$T/p.env" --workspace "$T/ws" -- true
# An enforcement report that outgrows the event channel's 4 KiB (many hidden variables, every
# resource limit with its notes) still reaches cordond: one over it would be dropped whole,
# the session token and the kernel domain's name with it. The names are cut and said so.
printf '{"cordon_policy":1,"agent":"it-real","poll_seconds":7,"sandbox":{"enforcement":"best_effort","filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},"limits":{"processes":256,"memory":"2G","cpu_seconds":3600,"open_files":4096},"exec":{"deny":["rm"]},"network":{"mode":"proxy","allow":["127.0.0.1:%s"]}}}\n' "$HP" > "$T/policy.json"
reloads() { cat "$T"/state/audit/*.jsonl 2>/dev/null | grep '"kind":"policy.reload"' | grep -c '"ok":true'; }
R0=$(reloads)
kill -HUP "$DPID"
for _ in $(seq 100); do [ "$(reloads)" -gt "$R0" ] && break; sleep 0.1; done
BIG=()
for i in $(seq 1 150); do BIG+=("ENVTEST_PLANTED_CREDENTIAL_NUMBER_${i}_API_KEY=planted-$i"); done
run "profile mode: 150 hidden variables and every limit, the report still reaches cordond" 0 \
    env "${BIG[@]}" CORDON_SERVER="http://$H" CORDON_KEY="$T/agent.key" CORDON_TRUST="$T/sign.pub" \
    CORDON_WORKSPACE="$T/ws" LD_PRELOAD="$SHIM" sh -c 'echo "tree-key=${OPENAI_API_KEY%%_*}"'
has "profile mode: the tree got its session token for that report" 'tree-key=cs'
sleep 0.5
if "$PY" - "$T/state/audit" <<'PY'; then
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/*.jsonl"):
    for line in open(f):
        r = json.loads(line)
        d = r.get("detail", {})
        env = d.get("env", {})
        if r.get("kind") == "sandbox.report" and env.get("hidden") == 150:
            names = env.get("names", [])
            ok = env.get("truncated") is True and 0 < len(names) < 150 and all(
                n.startswith("ENVTEST_PLANTED_CREDENTIAL_NUMBER_") for n in names)
            ok = ok and d["resource_limits"]["memory"]["limit"] > 0 and "planted-" not in line
            sys.exit(0 if ok else 1)
sys.exit(1)
PY
    ok "audit: that report: the variables counted, the names cut and said so, the limits there"
else
    bad "audit: that report: the variables counted, the names cut and said so, the limits there" \
        "$(grep -h sandbox.report "$T"/state/audit/*.jsonl | tail -n 1 | cut -c1-600)"
fi
kill "$DPID"; wait "$DPID" 2>/dev/null
run "cordond gone: nothing runs" 125 "${O[@]}" -- echo RAN
has "cordond gone: explained" 'cannot fetch the policy'
finish
