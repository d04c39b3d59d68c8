#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.schedule: api.schedule through a real cordond and the stub upstream on loopback,
# at cordond's own clock: a rule that always applies in Europe/Brussels blocks every call and
# says so in the client's error shape; one in America/New_York narrows the models and removes
# a tool from the request and from the answer, streamed and not; a push naming a zone the tz
# database does not have is refused and the set in force stays; the model.call records name
# the rules that applied.
#   schedule.sh CORDOND CORDON STUB SOURCE_DIR
CORDOND=$1 CORDON=$2 STUB=$3 SRC=$4
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T" "$FX"; }
trap cleanup EXIT

if [ ! -f /usr/share/zoneinfo/Europe/Brussels ]; then
    [ "${CI:-}" = true ] && { bad "tzdata installed" "no /usr/share/zoneinfo/Europe/Brussels"; finish; exit 1; }
    echo "skipped: n/a: no tz database at /usr/share/zoneinfo (install tzdata)"; exit 77
fi

W=$T/w; mkdir -p "$W/pol" "$W/state"
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
OKEY=sk-sched-$$-$RANDOM
printf '%s\n' "$OKEY" > "$W/okey"; chmod 600 "$W/okey"

"$STUB" --listen 127.0.0.1:0 --ready-file "$W/stub.ready" --log "$W/stub.jsonl" \
    --openai-key "$OKEY" --log-body-max 65536 --quiet 2>"$W/stub.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/stub.ready" ] && break; sleep 0.05; done
SP=$(sed -n 's/^port=//p' "$W/stub.ready")
[ -n "$SP" ] && ok "stub upstream on 127.0.0.1:$SP" || { bad "stub starts" "$(cat "$W/stub.err")"; finish; exit 1; }

cat > "$W/pol/night.json" <<JSON
{"cordon_policy": 1, "agent": "night", "mode": "enforce",
 "api": {"models": ["gpt-4o-mini"],
         "schedule": [{"inside": "Mon-Sun 00:00-24:00", "tz": "Europe/Brussels", "block": true}]}}
JSON
cat > "$W/pol/day.json" <<JSON
{"cordon_policy": 1, "agent": "day", "mode": "enforce",
 "api": {"models": ["gpt-4o-mini", "gpt-4.1"], "tools": {"allow": ["*"]},
         "schedule": [{"inside": "Mon-Sun 00:00-24:00", "tz": "America/New_York",
                       "models": ["gpt-4o-mini"], "tools": {"deny": ["payments_*"]}}]}}
JSON
cat > "$W/cordond.conf" <<CONF
listen 127.0.0.1:0
tunnel_listen 127.0.0.1:0
policies_dir $W/pol
signing_key $W/sign.key
state_dir $W/state
admin_token_file $W/admin
admin_listen unix:$W/admin.sock
ready_file $W/ready
upstream openai http://127.0.0.1:$SP/v1 key_file=$W/okey
CONF
"$CORDOND" --config "$W/cordond.conf" >>"$W/cordond.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -s "$W/ready" ] && break; sleep 0.05; done
H=$(sed -n 's/^http=//p' "$W/ready")
[ -n "$H" ] && ok "cordond ready with zones from the tz database" || { bad "cordond ready" "$(cat "$W/cordond.log")"; finish; exit 1; }
URL=http://$H
export CORDON_ADMIN_TOKEN_FILE=$W/admin
ADM=unix:$W/admin.sock
NKEY=$("$CORDON" agent add --server "$ADM" --agent night 2>/dev/null) </dev/null
DKEY=$("$CORDON" agent add --server "$ADM" --agent day 2>/dev/null) </dev/null
[[ $NKEY =~ ^ck_ && $DKEY =~ ^ck_ ]] && ok "agent keys" || { bad "agent add" "$NKEY $DKEY"; finish; exit 1; }

post() { # KEY BODY: status in $CODE, body in $W/body
    CODE=$(curl -s -o "$W/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $1" --data-binary "$2" "$URL/v1/chat/completions")
}
chat() { echo "{\"model\":\"${2:-gpt-4o-mini}\",\"stream\":${3:-false},\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]${4:-}}"; }
check() { # NAME WANT_CODE PATTERN
    if [ "$CODE" = "$2" ] && grep -q -- "$3" "$W/body"; then ok "$1"; else
        bad "$1" "status $CODE, want $2, pattern $3" "$(head -c 600 "$W/body")"; fi
}

# ------------------------------------------------------------------ block
post "$NKEY" "$(chat 'hi [[stub:text text=never]]')"
check "block: 403 cordon.schedule_block" 403 'cordon.schedule_block'
check "the refusal names the rule and its zone" 403 'api.schedule\[0\] (inside \\"Mon-Sun 00:00-24:00\\" in Europe/Brussels'
check "the refusal says the rule does not end this week" 403 'applies at every time of the coming week'
grep -q never "$W/stub.jsonl" 2>/dev/null && bad "a blocked call never reaches the upstream" || ok "a blocked call never reaches the upstream"

# ------------------------------------------------------------------ models and tools
post "$DKEY" "$(chat 'hi [[stub:text text=fine]]')"
check "day: an allowed model passes" 200 '"content":"fine"'
post "$DKEY" "$(chat hi gpt-4.1)"
check "a model the rule does not list: 403 cordon.schedule_model" 403 'cordon.schedule_model'
TOOLS=',"tools":[{"type":"function","function":{"name":"payments_send","parameters":{}}},{"type":"function","function":{"name":"crm_get","parameters":{}}}]'
post "$DKEY" "$(chat 'pay [[stub:text text=ok]]' gpt-4o-mini false "$TOOLS")"
check "a request with a denied tool still goes" 200 '"content":"ok"'
tail -1 "$W/stub.jsonl" | grep -q payments_send && bad "the denied definition is stripped before the upstream" "$(tail -1 "$W/stub.jsonl" | head -c 400)" ||
    ok "the denied definition is stripped before the upstream"
tail -1 "$W/stub.jsonl" | grep -q crm_get && ok "the other definition is forwarded" || bad "crm_get forwarded" "$(tail -1 "$W/stub.jsonl" | head -c 400)"
post "$DKEY" "$(chat 'x [[stub:tool name=payments_send args={}]]')"
[ "$CODE" = 200 ] && ! grep -q payments_send "$W/body" && ok "a denied tool call is removed from the answer" ||
    bad "tool call removed" "status $CODE" "$(head -c 400 "$W/body")"
post "$DKEY" "$(chat 'x [[stub:tool name=payments_send args={}]]' gpt-4o-mini true)"
[ "$CODE" = 200 ] && ! grep -q payments_send "$W/body" && grep -q 'data: \[DONE\]' "$W/body" &&
    ok "a denied tool call is removed from the stream" || bad "stream tool removed" "status $CODE" "$(head -c 600 "$W/body")"
post "$DKEY" "$(chat 'x [[stub:tool name=crm_get args={}]]')"
check "an allowed tool call stays" 200 'crm_get'

# ------------------------------------------------------------------ an unknown zone
sed 's#Europe/Brussels#Europe/Brusels#' "$W/pol/night.json" > "$T/night.json"
run "a push naming an unknown zone is refused" 1 "$CORDON" policy push --server "$ADM" "$T/night.json"
has "the refusal names the zone" 'unknown time zone "Europe/Brusels"'
post "$NKEY" "$(chat hi)"
check "the set in force stays: still blocked" 403 'cordon.schedule_block'

# ------------------------------------------------------------------ the record
sleep 1
run "audit query reads the model.call records" 0 "$CORDON" audit query "$W/state/audit" --kind model.call --json
echo "$OUT" | grep '"agent":"day"' | grep -q 'rules that apply to this call: api.schedule\[0\]' &&
    ok "the record names the rules that applied" || bad "record names rules" "$(echo "$OUT" | grep '"agent":"day"' | head -c 800)"
echo "$OUT" | grep '"agent":"night"' | grep -q 'cordon.schedule_block' && ok "the block is recorded" ||
    bad "block recorded" "$(echo "$OUT" | grep '"agent":"night"' | head -c 600)"
kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}"; RC=$?
[ "$RC" = 0 ] && ok "cordond stops cleanly with SIGTERM" || bad "cordond stop" "exit $RC" "$(tail -20 "$W/cordond.log")"
grep -q 'Sanitizer' "$W/cordond.log" && bad "no sanitizer report" "$(grep -A20 -m1 Sanitizer "$W/cordond.log")" ||
    ok "no sanitizer report from cordond"
finish
