#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.anomaly: cordond's anomaly response with the real shim under `cordon run`. A bash
# agent that keeps reading planted credentials in its HOME is denied by the shim; the denials
# reach cordond as events and quarantine the agent: its open tunnel (a curl to a loopback
# origin that never stops sending) is cut, a stream in flight ends, model calls and new
# tunnels are refused, the supervisor says so once, the quarantine survives a restart of
# cordond, and `cordon agent release` lifts it. The same agent in observe mode is recorded
# and never quarantined.
#   anomaly.sh CORDOND CORDON STUB SOURCE_DIR
CORDOND=$(realpath "$1")
CORDON=$(realpath "$2")
STUB=$(realpath "$3")
SRC=$4
. "$SRC/tests/integration/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
PIDS=()
DPID=
cleanup() {
    for p in "${PIDS[@]}" $DPID; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T" "$FX"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

W=$T/w
mkdir -p "$W/pol" "$W/state" "$T/ws" "$HOME/.ssh" "$HOME/.aws"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
printf '[default]\naws_secret_access_key = SECRET-MATERIAL\n' > "$HOME/.aws/credentials"
cd "$T" || exit 1
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
OKEY=sk-prov-$$-$RANDOM
printf '%s\n' "$OKEY" > "$W/okey"; chmod 600 "$W/okey"

# A loopback origin that answers with a body that never ends: a tick every 100 ms.
cat > "$W/drip.py" <<'PYEOF'
import http.server, os, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"tick\n"); self.wfile.flush(); time.sleep(0.1)
        except OSError:
            pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PYEOF
"$PY" "$W/drip.py" "$W/drip.port" & PIDS+=($!)
wait_file "$W/drip.port" || { bad "the origin starts"; finish; exit 1; }
DP=$(cat "$W/drip.port")

"$STUB" --listen 127.0.0.1:0 --ready-file "$W/stub.ready" --openai-key "$OKEY" --quiet \
    2>"$W/stub.err" & PIDS+=($!)
wait_file "$W/stub.ready" || { bad "the stub starts" "$(cat "$W/stub.err")"; finish; exit 1; }
SP=$(sed -n 's/^port=//p' "$W/stub.ready")

policy() { # AGENT MODE [ANOMALY]
    printf '{"cordon_policy":1,"agent":"%s","mode":"%s","sandbox":{"enforcement":"best_effort","filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},"network":{"mode":"proxy","allow":["127.0.0.1:%s"]}},"api":{"models":["gpt-4o-mini"],"anomaly":%s}}\n' \
        "$1" "$2" "$DP" "${3:-{\"denials_per_10_minutes\":4,\"on_trigger\":\"quarantine\"\}}" > "$W/pol/$1.json"
}
policy bob enforce
policy obs observe
policy thr enforce '{"requests_per_minute":2,"on_trigger":"throttle","throttle_seconds":5}'
SHIM=$(cd "$(dirname "$CORDON")/../shim" && pwd)/libcordon.so
cat > "$W/cordond.conf" <<CONF
listen 127.0.0.1:0
tunnel_listen 127.0.0.1:0
policies_dir $W/pol
signing_key $W/sign.key
state_dir $W/state
admin_token_file $W/admin
admin_listen unix:$W/admin.sock
events_socket $W/events.sock
ready_file $W/ready
upstream openai http://127.0.0.1:$SP/v1 key_file=$W/okey
CONF
start_cordond() {
    rm -f "$W/ready"
    "$CORDOND" --config "$W/cordond.conf" >>"$W/cordond.log" 2>&1 & DPID=$!
    wait_file "$W/ready" || { bad "cordond starts" "$(tail -20 "$W/cordond.log")"; finish; exit 1; }
    H=$(sed -n 's/^http=//p' "$W/ready")
    URL=http://$H
}
start_cordond
ok "cordond, the stub upstream and the origin run"
export CORDON_ADMIN_TOKEN_FILE=$W/admin
ADM=(--server "unix:$W/admin.sock")
for a in bob obs thr; do
    k=$("$CORDON" agent add "${ADM[@]}" --agent "$a" 2>/dev/null </dev/null)
    [[ $k =~ ^ck_ ]] || { bad "agent add $a" "$k" "$(tail "$W/cordond.log")"; finish; exit 1; }
    printf '%s\n' "$k" > "$W/$a.key"; chmod 600 "$W/$a.key"
done
BOB=$(cat "$W/bob.key")

chat() { # KEY: the status in $CODE, the body in $W/body, the headers in $W/head
    local body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi [[stub:text text=howdy]]"}]}'
    CODE=$(curl -s -D "$W/head" -o "$W/body" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $1" --data-binary "$body" \
        "$URL/v1/chat/completions")
}
chat "$BOB"
[ "$CODE" = 200 ] && grep -q howdy "$W/body" && ok "bob's model call is served before" ||
    bad "model call before" "$CODE $(head -c 400 "$W/body")"

# A stream in flight: the upstream sends a little, then stays silent for 30 s; the quarantine
# lands meanwhile and ends it at once.
SBODY='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"[[stub:sse_unterminated text=a chunks=2 hold_ms=30000]]"}]}'
curl -s -N -o "$W/stream.out" -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $BOB" --data-binary "$SBODY" "$URL/v1/chat/completions" &
SCURL=$!

# The agent: an open tunnel that never ends on its own, then credential reads, one every 0.2 s.
AGENT="curl -sS -N --noproxy '*' http://127.0.0.1:$DP/ > $T/ws/drip.out 2> $T/ws/drip.err &
sleep 1.5
for i in 1 2 3 4 5 6 7 8; do cat \$HOME/.ssh/id_rsa \$HOME/.aws/credentials 2>/dev/null; sleep 0.2; done
wait"
run_as() { # AGENT: the cordon run command line for AGENT in $RUN
    RUN=(timeout 30 "$CORDON" run --server "$URL" --key "$W/$1.key" --trust "$W/sign.pub"
         --workspace "$T/ws")
}
run_as bob
run "the agent runs, and ends once cordond cuts its tunnel" 0 "${RUN[@]}" -- bash -c "$AGENT"
case "$OUT" in *PRIVATE-KEY-MATERIAL*|*SECRET-MATERIAL*) bad "credentials leaked" "$OUT" ;;
    *) ok "the credentials were denied" ;; esac
has "the supervisor says the agent is quarantined" "cordon run: agent bob is quarantined by cordond since"
has "and how it is lifted" "until an admin runs \`cordon agent release\`"
n=$(grep -c "is quarantined by cordond" <<<"$OUT")
[ "$n" = 1 ] && ok "said once" || bad "said once" "$n times" "$OUT"
t=$(grep -c tick "$T/ws/drip.out")
[ "$t" -ge 5 ] && ok "the tunnel carried the origin's body ($t ticks) until it was cut" ||
    bad "the tunnel ran" "$t ticks" "$(cat "$T/ws/drip.err")"
for _ in $(seq 20); do kill -0 "$SCURL" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SCURL" 2>/dev/null; then
    bad "the silent stream is ended at the quarantine, not when its upstream speaks again"
    kill "$SCURL"
else
    ok "the silent stream is ended at the quarantine"
fi
wait "$SCURL"
grep -q 'cordon.quarantined' "$W/stream.out" && ok "the stream in flight ends with cordon.quarantined" ||
    bad "stream cut" "$(head -c 600 "$W/stream.out")"

sleep 0.3
AUDIT=$(cat "$W"/state/audit/*.jsonl)
OUT=$AUDIT
has "audit: anomaly.quarantine for bob" '"kind":"anomaly.quarantine","agent":"bob"'
has "audit: the trigger and its threshold" '"trigger":"denials_per_10_minutes","value":5,"threshold":4'
grep '"kind":"tunnel.close"' <<<"$AUDIT" | grep -q '"end":"quarantined"' &&
    ok "audit: the tunnel closed for the quarantine" || bad "tunnel.close quarantined" "$(grep tunnel.close <<<"$AUDIT")"

chat "$BOB"
[ "$CODE" = 403 ] && grep -q 'cordon.quarantined' "$W/body" && ok "a model call is refused: 403 cordon.quarantined" ||
    bad "model call refused" "$CODE $(head -c 400 "$W/body")"
grep -q 'since 20[0-9-]*T[0-9:]*Z' "$W/body" && grep -q 'cordon agent release bob' "$W/body" &&
    ok "the refusal says since when and how to release" || bad "refusal words" "$(cat "$W/body")"
run "a new tunnel is refused" 7 "${RUN[@]}" -- curl -sS --noproxy '*' "http://127.0.0.1:$DP/"
has "the tunnel refusal names the quarantine" "quarantined by cordond's anomaly response"
has "a tree started while quarantined is told at its start" "cordon run: agent bob is quarantined by cordond since"
run "so is a root started by the shim alone (profile mode)" 0 env CORDON_SERVER="$URL" \
    CORDON_KEY="$W/bob.key" CORDON_TRUST="$W/sign.pub" CORDON_WORKSPACE="$T/ws" LD_PRELOAD="$SHIM" \
    sleep 1.5
has "the shim's root says it" "cordon: agent bob is quarantined by cordond since"
curl -s "$URL/metrics" > "$W/metrics"
grep -q '^cordon_quarantined_agents 1$' "$W/metrics" && ok "metrics: one agent quarantined" ||
    bad "metrics gauge" "$(grep -i quarantin "$W/metrics")"
grep -q 'cordon_anomaly_refusals_total{reason="quarantine",what="model"} [1-9]' "$W/metrics" &&
    ok "metrics: refusals counted" || bad "metrics refusals" "$(grep anomaly "$W/metrics")"
run "cordon status shows the quarantine" 0 "$CORDON" status "${ADM[@]}"
grep '^bob ' <<<"$OUT" | grep -q 'quarantined since' && ok "status: bob quarantined since" || bad "status table" "$OUT"
grep '^bob ' <<<"$OUT" | grep -Eq 'fs.open|net.connect' && ok "status: bob's last denial" || bad "status denial" "$OUT"
run "cordon status --json" 0 "$CORDON" status "${ADM[@]}" --json
"$PY" -c 'import json,sys; a={x["agent"]: x for x in json.load(sys.stdin)["agents"]}; assert a["bob"]["quarantined"] is True and a["obs"].get("quarantined") is not True' <<<"$OUT" &&
    ok "status --json: bob quarantined, obs not" || bad "status json" "$OUT"
"$PY" -c 'import json,sys; a={x["agent"]: x for x in json.load(sys.stdin)["agents"]}; w=a["bob"]["windows"]; assert w["new_egress_hosts_per_hour"] == 1 and w["requests_per_minute"] >= 1 and w["denials_per_10_minutes"] >= 5, w' <<<"$OUT" &&
    ok "status --json: the windows (one new egress host, the calls, the denials)" || bad "status windows" "$OUT"

# A restart keeps it.
kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=
start_cordond
run_as bob
chat "$BOB"
[ "$CODE" = 403 ] && grep -q 'cordon.quarantined' "$W/body" && ok "after a restart: still quarantined" ||
    bad "quarantine after restart" "$CODE $(head -c 400 "$W/body")"

run "release without the admin token is refused" 2 env -u CORDON_ADMIN_TOKEN_FILE "$CORDON" agent release "${ADM[@]}" bob
run "cordon agent release bob" 0 "$CORDON" agent release "${ADM[@]}" bob
has "release: said" "released bob"
run "releasing it again: not quarantined" 1 "$CORDON" agent release "${ADM[@]}" bob
has "release again: explained" "is not quarantined"
chat "$BOB"
[ "$CODE" = 200 ] && ok "after the release, model calls are served" || bad "model call after release" "$CODE $(cat "$W/body")"
run "and tunnels again" 0 "${RUN[@]}" -- sh -c "curl -sS -m 1 --noproxy '*' http://127.0.0.1:$DP/ | head -n 1"
has "the origin answers again" "tick"
grep -q '"kind":"anomaly.release","agent":"bob"' "$W"/state/audit/*.jsonl && ok "audit: anomaly.release" ||
    bad "audit release"
curl -s "$URL/metrics" > "$W/metrics"
grep -q '^cordon_quarantined_agents 0$' "$W/metrics" && grep -q '^cordon_quarantine_releases_total 1$' "$W/metrics" &&
    ok "metrics: none quarantined, one release" || bad "metrics after release" "$(grep -i quarantin "$W/metrics")"

# Throttle: over 2 requests a minute, the next calls get 429 with Retry-After for 5 s.
THR=$(cat "$W/thr.key")
for i in 1 2 3; do chat "$THR"; done
[ "$CODE" = 200 ] && ok "throttle: the call that goes over is served" || bad "throttle third" "$CODE"
chat "$THR"
[ "$CODE" = 429 ] && grep -q 'cordon.throttled' "$W/body" && grep -qi '^retry-after: [1-5]' "$W/head" &&
    ok "throttle: then 429 cordon.throttled with Retry-After" || bad "throttle 429" "$CODE $(cat "$W/head" "$W/body")"
sleep 5.2
chat "$THR"
[ "$CODE" = 200 ] && ok "throttle: served again after the cool-down" || bad "throttle cool-down" "$CODE $(cat "$W/body")"
grep -q '"kind":"anomaly.throttle","agent":"thr"' "$W"/state/audit/*.jsonl && ok "audit: anomaly.throttle" ||
    bad "audit throttle"

# Observe mode: the same agent, recorded and never quarantined.
run_as obs
run "observe: the agent runs" 0 "${RUN[@]}" -- bash -c 'for i in 1 2 3 4 5 6 7 8; do cat $HOME/.ssh/id_rsa >/dev/null 2>&1; sleep 0.1; done'
case "$OUT" in *"is quarantined"*) bad "observe: no quarantine notice" "$OUT" ;; *) ok "observe: no quarantine notice" ;; esac
chat "$(cat "$W/obs.key")"
[ "$CODE" = 200 ] && ok "observe: model calls still served" || bad "observe model call" "$CODE $(cat "$W/body")"
sleep 0.3
grep '"kind":"anomaly.alert","agent":"obs"' "$W"/state/audit/*.jsonl | grep -q '"action":"quarantine","mode":"observe"' &&
    ok "observe: the trigger is recorded with the action it would take" ||
    bad "observe record" "$(grep anomaly "$W"/state/audit/*.jsonl)"
grep -q '"kind":"anomaly.quarantine","agent":"obs"' "$W"/state/audit/*.jsonl &&
    bad "observe: never quarantined" || ok "observe: never quarantined"
finish
