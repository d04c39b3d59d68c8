#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.budget_notice: a budget refusal told to the agent, and `cordon status` with the
# ledger's real figures. A bash agent under `cordon run` calls $OPENAI_BASE_URL with curl
# until cordond refuses it with 429 for api.budget.session_tokens, then calls a few more
# times: the line "model calls of agent tok are refused: ..." is on stderr exactly once, and
# names the budget, what remains and when it resets. `cordon status` (table and --json) then
# shows the agent's day_tokens spent/reserved/remaining equal to GET /v1/budget, and which
# api.schedule rule is active now.
#   budget_notice.sh CORDOND CORDON STUB SOURCE_DIR
CORDOND=$(realpath "$1") CORDON=$(realpath "$2") STUB=$(realpath "$3") SRC=$(realpath "$4")
. "$SRC/tests/integration/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T" "$FX"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

W=$T/w
mkdir -p "$W/pol" "$W/state" "$T/ws"
cd "$T" || exit 1
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
OKEY=sk-prov-$$-$RANDOM
printf '%s\n' "$OKEY" > "$W/okey"; chmod 600 "$W/okey"
"$STUB" --listen 127.0.0.1:0 --ready-file "$W/stub.ready" --openai-key "$OKEY" --quiet \
    2>"$W/stub.err" & PIDS+=($!)
wait_file "$W/stub.ready" || { bad "the stub starts" "$(cat "$W/stub.err")"; finish; exit 1; }
SP=$(sed -n 's/^port=//p' "$W/stub.ready")

# Each call reserves its worst case (about 440 tokens) and is charged 15: the session's 1000
# tokens admit a few dozen calls, then refuse.
cat > "$W/pol/tok.json" <<JSON
{"cordon_policy": 1, "agent": "tok", "mode": "enforce",
 "sandbox": {"enforcement": "best_effort",
             "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
             "network": {"mode": "proxy", "allow": []}},
 "api": {"models": ["gpt-4o-mini"],
         "budget": {"session_tokens": 1000, "day_tokens": 1000000},
         "schedule": [{"inside": "Mon-Sun 00:00-24:00", "tz": "Europe/Brussels", "models": ["gpt-4o-mini"]},
                      {"outside": "Mon-Sun 00:00-24:00", "tz": "UTC", "block": true}]}}
JSON
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
"$CORDOND" --config "$W/cordond.conf" >>"$W/cordond.log" 2>&1 & PIDS+=($!)
wait_file "$W/ready" || { bad "cordond starts" "$(tail -20 "$W/cordond.log")"; finish; exit 1; }
URL=http://$(sed -n 's/^http=//p' "$W/ready")
ok "cordond and the stub upstream run"
export CORDON_ADMIN_TOKEN_FILE=$W/admin
ADM=(--server "unix:$W/admin.sock")
KEY=$("$CORDON" agent add "${ADM[@]}" --agent tok 2>/dev/null </dev/null)
[[ $KEY =~ ^ck_ ]] || { bad "agent add" "$KEY" "$(tail "$W/cordond.log")"; finish; exit 1; }
printf '%s\n' "$KEY" > "$W/tok.key"; chmod 600 "$W/tok.key"

# The agent: calls until the first 429, then five more (each refused), then waits for the
# notice to be said.
cat > "$T/ws/agent.sh" <<'AGENT'
body='{"model":"gpt-4o-mini","max_tokens":400,"messages":[{"role":"user","content":"hi [[stub:text text=howdy input_tokens=10 output_tokens=5]]"}]}'
call() {
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $OPENAI_API_KEY" --data-binary "$body" \
        "$OPENAI_BASE_URL/chat/completions"
}
served=0
for i in $(seq 200); do
    c=$(call)
    [ "$c" = 200 ] && { served=$((served + 1)); continue; }
    echo "first refusal: $c after $served served"
    break
done
for i in 1 2 3 4 5; do echo "again: $(call)"; done
sleep 2.5
AGENT
timeout 60 "$CORDON" run --server "$URL" --key "$W/tok.key" --trust "$W/sign.pub" \
    --workspace "$T/ws" -- bash "$T/ws/agent.sh" >"$W/run.out" 2>"$W/run.err"
rc=$?
[ "$rc" = 0 ] && ok "the agent runs under cordon run" || bad "cordon run" "exit $rc" "$(cat "$W/run.err")"
grep -Eq '^first refusal: 429 after [1-9][0-9]* served$' "$W/run.out" &&
    ok "calls are served, then refused with 429: $(head -n1 "$W/run.out")" ||
    bad "served then 429" "$(cat "$W/run.out")"
[ "$(grep -c '^again: 429$' "$W/run.out")" = 5 ] && ok "the calls after it are refused too" ||
    bad "again 429" "$(cat "$W/run.out")"
n=$(grep -c 'model calls of agent tok are refused' "$W/run.err")
[ "$n" = 1 ] && ok "the refusal is said exactly once on stderr" ||
    bad "said once" "$n times" "$(cat "$W/run.err")"
L=$(grep 'model calls of agent tok are refused' "$W/run.err")
echo "     $L"
grep -q 'api.budget.session_tokens' <<<"$L" && ok "the line names the budget" || bad "names the budget" "$L"
grep -Eq '[0-9]+ remain' <<<"$L" && ok "the line says what remains" || bad "what remains" "$L"
grep -Eq 'resets at|frees up|session' <<<"$L" && ok "the line says when it resets" || bad "when it resets" "$L"

# cordon status: the day's tokens equal to what GET /v1/budget shows the agent.
curl -s -H "Authorization: Bearer $KEY" "$URL/v1/budget" > "$W/budget.json"
run "cordon status --json" 0 "$CORDON" status "${ADM[@]}" --json
printf '%s' "$OUT" > "$W/status.json"
"$PY" - "$W/status.json" "$W/budget.json" <<'PYEOF' && ok "status --json: day_tokens spent/reserved/remaining as GET /v1/budget, spent > 0; the schedule's first rule active, the second not" || bad "status json" "$OUT" "$(cat "$W/budget.json")"
import json, sys
st = json.load(open(sys.argv[1])); bu = json.load(open(sys.argv[2]))
a = {x["agent"]: x for x in st["agents"]}["tok"]
day = {b["name"]: b for b in a["budget"]["budgets"]}["api.budget.day_tokens"]
ref = {b["name"]: b for b in bu["budgets"]}["api.budget.day_tokens"]
assert day["spent"] > 0 and day["reserved"] == 0, day
assert day["spent"] == ref["spent"] and day["remaining"] == ref["remaining"], (day, ref)
assert day["spent"] + day["remaining"] == day["limit"] == 1000000, day
assert "api.budget.session_tokens" in {b["name"] for b in a["budget"]["budgets"]}
s = a["schedule"]
assert [w["active"] for w in s] == [True, False], s
PYEOF
SPENT=$("$PY" -c 'import json,sys; print(int({b["name"]: b for b in json.load(open(sys.argv[1]))["budgets"]}["api.budget.day_tokens"]["spent"]))' "$W/budget.json")
run "cordon status" 0 "$CORDON" status "${ADM[@]}"
grep -A2 '^tok ' <<<"$OUT" | grep -q "day_tokens $SPENT/0/$((1000000 - SPENT))" &&
    ok "status table: day_tokens $SPENT/0/$((1000000 - SPENT))" || bad "status table budget" "$OUT"
grep -A2 '^tok ' <<<"$OUT" | grep -q 'ACTIVE inside "Mon-Sun 00:00-24:00"' &&
    grep -A2 '^tok ' <<<"$OUT" | grep -q '1 inactive' &&
    ok "status table: the active window, and the inactive one counted" || bad "status table windows" "$OUT"
finish
