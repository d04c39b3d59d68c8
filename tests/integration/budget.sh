#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.budget: cordond's budget and rate stages with the real ledger, in front of
# tests/support/stub_upstream on loopback. 64 concurrent streams against a day budget that
# holds exactly K worst cases: exactly K admitted, the rest 429 with Retry-After and a
# message naming the budget, and the ledger equal to the sum of the admitted usage (the
# usage chunk cordon asked for kept from the clients); a restart and a kill -9 with a
# reservation open (charged at its worst case, once); a rate limit; hostile max_tokens and
# n; negative, NaN and infinite prices refused by `cordon policy check`.
#   budget.sh CORDOND CORDON STUB SOURCE_DIR
CORDOND=$(realpath "$1") CORDON=$(realpath "$2") STUB=$(realpath "$3") SRC=$(realpath "$4")
. "$SRC/tests/integration/lib.sh"
PIDS=()
CPID=
cleanup() {
    [ -n "$CPID" ] && kill -9 "$CPID" 2>/dev/null
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T" "$FX"
}
trap cleanup EXIT
PY=python3
K=5 N=64 M=100000

W=$T/w; mkdir -p "$W/pol" "$W/state"
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
OKEY=sk-prov-$$-$RANDOM
printf '%s\n' "$OKEY" > "$W/okey"; chmod 600 "$W/okey"

"$STUB" --listen 127.0.0.1:0 --ready-file "$W/stub.ready" --openai-key "$OKEY" --threads 4 \
    --quiet 2>"$W/stub.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/stub.ready" ] && break; sleep 0.05; done
SP=$(sed -n 's/^port=//p' "$W/stub.ready")
[ -n "$SP" ] && ok "stub upstream on 127.0.0.1:$SP" || { bad "stub starts" "$(cat "$W/stub.err")"; finish; exit 1; }

# The body every call of the burst sends, and its worst case: bytes / 3 + 1 input tokens plus
# max_tokens, at $1 per million tokens either way.
BODY='{"model":"gpt-4o-mini","stream":true,"max_tokens":'$M',"messages":[{"role":"user","content":"go [[stub:text text=ok first_byte_ms=2500 input_tokens=10 output_tokens=5]]"}]}'
WT=$(( ${#BODY} / 3 + 1 + M ))
LIMIT=$("$PY" -c "print('%.6f' % (($K + 0.5) * $WT / 1e6))")

cat > "$W/pol/web.json" <<JSON
{"cordon_policy": 1, "agent": "web", "mode": "enforce",
 "api": {"models": ["gpt-4o-mini"],
         "budget": {"day_usd": $LIMIT,
                    "prices": {"gpt-4o-mini": {"input_per_mtok": 1, "output_per_mtok": 1}}}}}
JSON
cat > "$W/pol/rl.json" <<JSON
{"cordon_policy": 1, "agent": "rl", "mode": "enforce",
 "api": {"models": ["gpt-4o-mini"], "rate": {"requests_per_minute": 2}}}
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
upstream_first_byte_timeout_ms 20000
CONF
start_cordond() {
    rm -f "$W/ready"
    "$CORDOND" --config "$W/cordond.conf" >>"$W/cordond.log" 2>&1 &
    CPID=$!
    for _ in $(seq 300); do [ -s "$W/ready" ] && break; sleep 0.05; done
    H=$(sed -n 's/^http=//p' "$W/ready")
    [ -n "$H" ]
}
start_cordond && ok "cordond ready" || { bad "cordond ready" "$(cat "$W/cordond.log")"; finish; exit 1; }
export CORDON_ADMIN_TOKEN_FILE=$W/admin
KEY=$("$CORDON" agent add --server "unix:$W/admin.sock" --agent web 2>/dev/null) </dev/null
RKEY=$("$CORDON" agent add --server "unix:$W/admin.sock" --agent rl 2>/dev/null) </dev/null
[[ $KEY =~ ^ck_ && $RKEY =~ ^ck_ ]] && ok "agent keys" || { bad "agent add" "$KEY" "$(cat "$W/cordond.log")"; finish; exit 1; }

# budget FIELD: a field of the day_usd entry of GET /v1/budget
budget() {
    curl -s -H "Authorization: Bearer $KEY" "http://$H/v1/budget" >"$W/budget.json"
    "$PY" -c "import json,sys; b=json.load(open('$W/budget.json'))
e=[x for x in b['budgets'] if x['name']=='api.budget.day_usd'][0]; print('%.9f' % e['$1'])"
}
metric() { curl -s "http://$H/metrics" | sed -n "s/^$1 //p"; }

# ------------------------------------------------------------------ 64 streams, K admitted
"$PY" "$SRC/tests/integration/budget_load.py" "$H" "$KEY" $N "$BODY" >"$W/load.json" 2>&1
OUT=$(cat "$W/load.json")
field() { "$PY" -c "import json; o=json.load(open('$W/load.json')); print($1)" 2>/dev/null; }
[ "$(field 'o["status"].get("200",0)')" = $K ] && ok "exactly $K of $N concurrent streams admitted" ||
    bad "exactly $K admitted" "$OUT"
[ "$(field 'o["status"].get("429",0)')" = $((N - K)) ] && ok "the other $((N - K)) refused with 429" ||
    bad "the rest 429" "$OUT"
[ "$(field 'o["done"]')" = $K ] && ok "each admitted stream runs to [DONE]" || bad "admitted streams complete" "$OUT"
[ "$(field 'o["usage_seen"]')" = 0 ] && ok "the usage chunk cordon asked for is kept from clients that did not" ||
    bad "usage chunk stripped" "$OUT"
[ "$(field 'all(r and int(r) > 0 for r in o["retry_after"])')" = True ] && ok "every 429 carries Retry-After" ||
    bad "Retry-After" "$OUT"
case "$(field 'o["messages"][0]')" in
    *api.budget.day_usd*remain*resets\ at*) ok "the 429 names the budget, what remains and when it resets" ;;
    *) bad "429 message" "$OUT" ;;
esac
WANT=$("$PY" -c "print('%.9f' % ($K * 15 / 1e6))")
[ "$(budget spent)" = "$WANT" ] && ok "the ledger holds the sum of the admitted usage ($K x 15 tokens)" ||
    bad "ledger = sum of usage" "want $WANT" "$(cat "$W/budget.json")"
[ "$(budget reserved)" = "0.000000000" ] && ok "no reservation is left open" || bad "nothing reserved" "$(cat "$W/budget.json")"
[ "$(metric cordon_budget_spend_tokens_total)" = $((K * 15)) ] && ok "/metrics: spend" ||
    bad "metrics spend" "$(curl -s "http://$H/metrics" | grep budget)"
[ "$(metric 'cordon_budget_refusals_total{reason="day_usd"}')" = $((N - K)) ] && ok "/metrics: refusals by reason" ||
    bad "metrics refusals" "$(curl -s "http://$H/metrics" | grep budget)"
grep -q '"resets_at":"' "$W/budget.json" && ok "GET /v1/budget says when the day resets" || bad "resets_at" "$(cat "$W/budget.json")"
SPENT=$(budget spent)

# ------------------------------------------------------------------ hostile requests
for b in '{"model":"gpt-4o-mini","max_tokens":9223372036854775808,"n":10000,"messages":[{"role":"user","content":"x"}]}' \
         '{"model":"gpt-4o-mini","max_tokens":1e308,"n":1e308,"messages":[{"role":"user","content":"x"}]}'; do
    CODE=$(curl -s -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data-binary "$b" "http://$H/v1/chat/completions")
    [ "$CODE" = 429 ] && grep -q 'api.budget.day_usd' "$W/body" && ok "hostile max_tokens and n: a 429, no overflow" ||
        bad "hostile max_tokens" "$CODE $(cat "$W/body")"
done
[ "$(budget spent)" = "$SPENT" ] && ok "the hostile requests spent nothing" || bad "hostile spent" "$(cat "$W/budget.json")"

# ------------------------------------------------------------------ a client that leaves mid-stream
LEAVE='{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"[[stub:text chunks=30 size=4 delay_ms=60 input_tokens=40 output_tokens=20]]"}]}'
curl -s -o /dev/null --max-time 0.4 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data-binary "$LEAVE" "http://$H/v1/chat/completions"
WANTL=$("$PY" -c "print('%.9f' % ($SPENT + 60 / 1e6))")
for _ in $(seq 100); do [ "$(budget spent)" = "$WANTL" ] && break; sleep 0.05; done
[ "$(budget spent)" = "$WANTL" ] && [ "$(budget reserved)" = "0.000000000" ] &&
    ok "a client that leaves mid-stream: the stream is drained and charged its usage" ||
    bad "disconnect mid-stream" "want $WANTL" "$(cat "$W/budget.json")"
SPENT=$(budget spent)

# ------------------------------------------------------------------ a rate
for _ in 1 2 3; do
    CODE=$(curl -s -D "$W/hdr" -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $RKEY" \
        -H 'Content-Type: application/json' \
        --data-binary '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"[[stub:text text=r]]"}]}' \
        "http://$H/v1/chat/completions")
done
[ "$CODE" = 429 ] && grep -qi '^retry-after: [1-9]' "$W/hdr" && grep -q 'requests_per_minute' "$W/body" &&
    ok "api.rate.requests_per_minute: the third call a minute is a 429 with Retry-After" ||
    bad "rate limit" "$CODE $(cat "$W/hdr" "$W/body")"

# ------------------------------------------------------------------ restart
kill -TERM "$CPID"; wait "$CPID"; CPID=
start_cordond && [ "$(budget spent)" = "$SPENT" ] && ok "a restart keeps the spend" ||
    bad "restart keeps spend" "$SPENT" "$(cat "$W/budget.json")" "$(tail -5 "$W/cordond.log")"

# ------------------------------------------------------------------ kill -9 with a reservation open
SLOW='{"model":"gpt-4o-mini","stream":true,"max_tokens":1000,"messages":[{"role":"user","content":"[[stub:text text=slow first_byte_ms=8000]]"}]}'
SWT=$(( ${#SLOW} / 3 + 1 + 1000 ))
curl -s -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data-binary "$SLOW" "http://$H/v1/chat/completions" &
CURL=$!
for _ in $(seq 100); do [ "$(budget reserved)" != "0.000000000" ] && break; sleep 0.05; done
RES=$(budget reserved)
WANTR=$("$PY" -c "print('%.9f' % ($SWT / 1e6))")
[ "$RES" = "$WANTR" ] && ok "the slow call is reserved at its worst case" || bad "slow reserved" "want $WANTR got $RES"
kill -9 "$CPID"; wait "$CPID" 2>/dev/null; CPID=
wait "$CURL" 2>/dev/null
start_cordond || bad "cordond restarts after kill -9" "$(tail -5 "$W/cordond.log")"
AFTER=$("$PY" -c "print('%.9f' % ($SPENT + $SWT / 1e6))")
[ "$(budget spent)" = "$AFTER" ] && ok "kill -9: the open reservation is charged at its worst case" ||
    bad "kill -9 recovery" "want $AFTER" "$(cat "$W/budget.json")"
grep -q '1 reservation(s) open at the last stop' "$W/cordond.log" && ok "cordond says what it recovered" ||
    bad "recovery logged" "$(tail -5 "$W/cordond.log")"
kill -TERM "$CPID"; wait "$CPID"; CPID=
start_cordond && [ "$(budget spent)" = "$AFTER" ] && ok "and a second start does not charge it again" ||
    bad "no double counting" "want $AFTER" "$(cat "$W/budget.json")"
kill -TERM "$CPID"; wait "$CPID"; CPID=

if grep -q 'Sanitizer' "$W/cordond.log"; then bad "cordond ran clean" "$(grep -A20 Sanitizer "$W/cordond.log" | head -40)"
else ok "cordond ran clean (no sanitizer report in its log)"; fi

# ------------------------------------------------------------------ the audit records
"$CORDON" audit query "$W/state/audit" --kind model.call --json >"$W/audit.json" 2>&1
C=$(grep -c '"outcome":"charged"' "$W/audit.json")
E=$(grep -c '"estimated":true' "$W/audit.json")
[ "$C" -ge $((K + 2)) ] && [ "$E" = 0 ] && ok "model.call records: $C charged from usage, none estimated" ||
    bad "audit budget fields" "charged $C estimated $E" "$(head -c 800 "$W/audit.json")"

# ------------------------------------------------------------------ prices policy check refuses
cd "$W" || exit 1
for p in '-1' 'NaN' '1e999'; do
    printf '{"cordon_policy":1,"agent":"x","api":{"budget":{"day_usd":1,"prices":{"m":{"input_per_mtok":%s,"output_per_mtok":1}}}}}' "$p" >"$W/price.json"
    run "a price of $p is refused by policy check" 1 "$CORDON" policy check "$W/price.json"
done
printf '{"cordon_policy":1,"agent":"x","api":{"budget":{"day_usd":1,"prices":{"m":{"input_per_mtok":1,"output_per_mtok":1,"reasoning_per_mtok":-2}}}}}' >"$W/price.json"
run "a negative reasoning price is refused" 1 "$CORDON" policy check "$W/price.json"
has "the error names the key" "reasoning_per_mtok"
finish
