#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.budget_flood: a client that opens 10,000 streams at once (budget_flood.py)
# against an agent with api.rate.concurrent_per_agent 8 and a session budget. cordond stays
# up; no sample of GET /v1/budget sees more than 8 calls open; every other call gets 429 with
# Retry-After; cordond's peak RSS stays bounded; and the ledger ends equal to the admitted
# calls' usage (15 tokens each) with no reservation open.
#   budget_flood.sh CORDOND CORDON STUB SOURCE_DIR
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
N=${CORDON_FLOOD_N:-10000} LIMIT=8
# The bound on cordond's peak RSS growth: 126 MB measured in release; ASan's redzones and
# quarantine hold about four times as much.
if grep -qa __asan_init "$CORDOND"; then RSS_MAX_MB=${CORDON_FLOOD_RSS_MB:-1200}; else RSS_MAX_MB=${CORDON_FLOOD_RSS_MB:-400}; fi
# 10,000 client sockets here and as many in cordond: both need the descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((N + 200)) ] || {
    if [ "${CI:-}" = true ]; then bad "ulimit -n $(ulimit -n) is below $((N + 200))"; finish; exit 1; fi
    echo "skipped: n/a: ulimit -n $(ulimit -n) is below $((N + 200)) (raise the hard limit)"; exit 77; }

W=$T/w; mkdir -p "$W/pol" "$W/state"
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
OKEY=sk-prov-$$-$RANDOM
printf '%s\n' "$OKEY" > "$W/okey"; chmod 600 "$W/okey"
"$STUB" --listen 127.0.0.1:0 --ready-file "$W/stub.ready" --openai-key "$OKEY" --threads 16 \
    --quiet 2>"$W/stub.err" & PIDS+=($!)
wait_file "$W/stub.ready" || { bad "the stub starts" "$(cat "$W/stub.err")"; finish; exit 1; }
SP=$(sed -n 's/^port=//p' "$W/stub.ready")
cat > "$W/pol/flood.json" <<JSON
{"cordon_policy": 1, "agent": "flood", "mode": "enforce",
 "api": {"models": ["gpt-4o-mini"],
         "budget": {"session_tokens": 100000000},
         "rate": {"concurrent_per_agent": $LIMIT}}}
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
max_connections 12000
upstream openai http://127.0.0.1:$SP/v1 key_file=$W/okey
CONF
"$CORDOND" --config "$W/cordond.conf" >>"$W/cordond.log" 2>&1 & CPID=$!; PIDS+=($CPID)
wait_file "$W/ready" || { bad "cordond starts" "$(tail -20 "$W/cordond.log")"; finish; exit 1; }
H=$(sed -n 's/^http=//p' "$W/ready")
export CORDON_ADMIN_TOKEN_FILE=$W/admin
KEY=$("$CORDON" agent add --server "unix:$W/admin.sock" --agent flood 2>/dev/null </dev/null)
[[ $KEY =~ ^ck_ ]] || { bad "agent add" "$KEY" "$(tail "$W/cordond.log")"; finish; exit 1; }
rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$CPID/status"; }
RSS0=$(rss VmRSS)
ok "cordond ready (RSS $((RSS0 / 1024)) MB)"

R=$("$PY" "$SRC/tests/integration/budget_flood.py" "${H%:*}" "${H##*:}" "$KEY" "$N")
echo "     client: $R"
kill -0 "$CPID" 2>/dev/null && curl -s -m 5 "http://$H/healthz" | grep -q ok &&
    ok "cordond is up and answers after $N streams" || bad "cordond up" "$(tail -20 "$W/cordond.log")"
HWM=$(rss VmHWM)
get() { "$PY" -c "import json,sys; print(eval(sys.argv[2], {}, json.loads(sys.argv[1])))" "$R" "$1"; }
ADMITTED=$(get 'status.get("200", 0)')
REFUSED=$(get 'status.get("429", 0)')
[ "$(get 'max_open')" -le $LIMIT ] && [ "$(get 'max_open')" -ge 1 ] &&
    ok "at most $LIMIT calls open at once in $(get 'samples') samples (most seen: $(get 'max_open'))" ||
    bad "concurrency" "$R"
[ "$ADMITTED" -ge $LIMIT ] && ok "$ADMITTED admitted (the limit was reached)" || bad "admitted" "$R"
[ $((ADMITTED + REFUSED)) = "$N" ] && [ "$(get 'conn_errors')" = 0 ] &&
    ok "every other call answered 429 ($REFUSED), none failed" || bad "429 for the rest" "$R"
[ "$(get 'no_retry_after')" = 0 ] && ok "every 429 carries Retry-After" || bad "Retry-After" "$R"
[ $((HWM - RSS0)) -lt $((RSS_MAX_MB * 1024)) ] &&
    ok "cordond's peak RSS grew by $(((HWM - RSS0) / 1024)) MB (bound $RSS_MAX_MB MB; peak $((HWM / 1024)) MB)" ||
    bad "RSS bounded" "from $RSS0 kB to a peak of $HWM kB"
sleep 0.5
curl -s -H "Authorization: Bearer $KEY" "http://$H/v1/budget" > "$W/budget.json"
"$PY" - "$W/budget.json" "$ADMITTED" <<'PYEOF' && ok "the ledger: $((ADMITTED * 15)) tokens spent for $ADMITTED admitted calls, nothing reserved, nothing open" || bad "ledger" "$(cat "$W/budget.json")"
import json, sys
b = json.load(open(sys.argv[1])); n = int(sys.argv[2])
s = {e["name"]: e for e in b["budgets"]}["api.budget.session_tokens"]
c = {e["name"]: e for e in b["rates"]}["api.rate.concurrent_per_agent"]
assert s["spent"] == 15 * n and s["reserved"] == 0, (s, n)
assert c["used"] == 0, c
PYEOF
curl -s "http://$H/metrics" | grep -q '^cordon_budget_reservations_open 0$' &&
    ok "metrics: no reservation open" || bad "reservations open" "$(curl -s "http://$H/metrics" | grep reservations)"
finish
