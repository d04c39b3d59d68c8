#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.proxy: cordond's model proxy on loopback in front of tests/support/stub_upstream,
# driven with curl and python3 (requests, raw sockets) directly with an agent key: the four
# formats streamed and not, policy refusals, a denied tool call taken out of the answer, the
# provider key swapped in for the agent's, upstream failures, hostile bodies, a client that
# leaves mid-stream, and the model.call records in the audit log.
#   proxy.sh CORDOND CORDON STUB SOURCE_DIR
CORDOND=$1 CORDON=$2 STUB=$3 SRC=$4
. "$SRC/tests/integration/lib.sh"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T" "$FX"; }
trap cleanup EXIT
PY=python3
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import requests' 2>/dev/null; then PY=$p; break; fi
done

W=$T/w; mkdir -p "$W/pol" "$W/state"
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
OKEY=sk-prov-$$-$RANDOM; AKEY=ak-prov-$$-$RANDOM
printf '%s\n' "$OKEY" > "$W/okey"; printf '%s\n' "$AKEY" > "$W/akey"; chmod 600 "$W/okey" "$W/akey"

"$STUB" --listen 127.0.0.1:0 --ready-file "$W/stub.ready" --log "$W/stub.jsonl" \
    --openai-key "$OKEY" --anthropic-key "$AKEY" --log-body-max 65536 --quiet 2>"$W/stub.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/stub.ready" ] && break; sleep 0.05; done
SP=$(sed -n 's/^port=//p' "$W/stub.ready")
[ -n "$SP" ] && ok "stub upstream on 127.0.0.1:$SP" || { bad "stub starts" "$(cat "$W/stub.err")"; finish; exit 1; }

# An HTTPS upstream whose certificate comes from a private CA: verified against the
# upstream's ca_file, and refused by an upstream line without it (the system store).
SR=$(cd "$(dirname "$CORDON")/../bench" && pwd)/static_responder
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=it-ca" \
    -keyout "$W/ca.key" -out "$W/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$W/tls.key" -out "$W/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$W/tls.ext"
openssl x509 -req -in "$W/tls.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
    -extfile "$W/tls.ext" -out "$W/tls.pem" 2>/dev/null
TB='{"id":"chatcmpl-tls","object":"chat.completion","created":1,"model":"tls-ok","choices":[{"index":0,"message":{"role":"assistant","content":"over verified TLS"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}'
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "${#TB}" "$TB" > "$W/tls.resp"
"$SR" --response "$W/tls.resp" --ready-file "$W/tls.ready" --tls "$W/tls.pem" "$W/tls.key" \
    2>"$W/tls.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/tls.ready" ] && break; sleep 0.05; done
TLSP=$(sed -n 's/^port=//p' "$W/tls.ready")
[ -n "$TLSP" ] && ok "a TLS upstream with a private CA on 127.0.0.1:$TLSP" ||
    bad "the TLS upstream starts" "$(cat "$W/tls.err")"

cat > "$W/pol/web.json" <<JSON
{"cordon_policy": 1, "agent": "web", "mode": "enforce",
 "api": {"models": ["gpt-4o-mini", "claude-*", "text-embedding-3-small", "down-*", "tls-*"],
         "tools": {"allow": ["get_weather"], "deny": ["delete_*"]}}}
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
upstream down http://127.0.0.1:1/v1 kind=openai models=down-*
upstream tlsbad https://127.0.0.1:$TLSP/v1 kind=openai models=tls-bad* key_file=$W/okey
upstream tlsok https://127.0.0.1:$TLSP/v1 kind=openai models=tls-ok* key_file=$W/okey ca_file=$W/ca.pem
upstream openai http://127.0.0.1:$SP/v1 key_file=$W/okey
upstream anthropic http://127.0.0.1:$SP key_file=$W/akey
upstream_connect_timeout_ms 1000
upstream_first_byte_timeout_ms 1000
upstream_idle_timeout_ms 2000
proxy_max_body 1048576
CONF
"$CORDOND" --config "$W/cordond.conf" >>"$W/cordond.log" 2>&1 &
CPID=$!
PIDS+=($CPID)
for _ in $(seq 300); do [ -s "$W/ready" ] && break; sleep 0.05; done
H=$(sed -n 's/^http=//p' "$W/ready")
[ -n "$H" ] && ok "cordond ready" || { bad "cordond ready" "$(cat "$W/cordond.log")"; finish; exit 1; }
URL=http://$H
export CORDON_ADMIN_TOKEN_FILE=$W/admin
KEY=$("$CORDON" agent add --server "unix:$W/admin.sock" --agent web 2>/dev/null) </dev/null
[[ $KEY =~ ^ck_ ]] && ok "agent key" || { bad "agent add" "$KEY" "$(cat "$W/cordond.log")"; finish; exit 1; }

# post PATH BODY [HEADER...]: the status in $CODE, the body in $W/body
post() {
    local path=$1 body=$2; shift 2
    CODE=$(curl -s -o "$W/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        "$@" --data-binary "$body" "$URL$path")
}
OA=(-H "Authorization: Bearer $KEY")
AN=(-H "x-api-key: $KEY" -H "anthropic-version: 2023-06-01")
chat() { echo "{\"model\":\"${2:-gpt-4o-mini}\",\"stream\":${3:-false},\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}"; }
msgs() { echo "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":64,\"stream\":${2:-false},\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}"; }
check() { # NAME WANT_CODE PATTERN
    if [ "$CODE" = "$2" ] && grep -q -- "$3" "$W/body"; then ok "$1"; else
        bad "$1" "status $CODE, want $2, pattern $3" "$(head -c 600 "$W/body")"; fi
}

# ------------------------------------------------------------------ allowed calls
post /v1/chat/completions "$(chat 'hello [[stub:text text=howdy]]')" "${OA[@]}"
check "chat: 200 with the upstream's answer" 200 '"content":"howdy"'
post /v1/chat/completions "$(chat 'hi [[stub:text text=streamed chunks=3]]' gpt-4o-mini true)" "${OA[@]}"
check "chat streamed: events to [DONE]" 200 'data: \[DONE\]'
grep -q 'chat.completion.chunk' "$W/body" && ok "chat streamed: chunks" || bad "chat chunks" "$(head -c 300 "$W/body")"
post /chat/completions "$(chat 'no prefix [[stub:text text=np]]')" "${OA[@]}"
check "chat without /v1" 200 '"content":"np"'
post /v1/messages "$(msgs 'hello [[stub:text text=bonjour]]')" "${AN[@]}"
check "messages: 200 with the answer" 200 '"text":"bonjour"'
post /v1/messages "$(msgs 'hi [[stub:text text=abc chunks=2]]' true)" "${AN[@]}"
check "messages streamed: to message_stop" 200 'event: message_stop'
post /v1/responses '{"model":"gpt-4o-mini","input":"hi [[stub:text text=resp]]"}' "${OA[@]}"
check "responses: 200" 200 '"object":"response"'
post /v1/responses '{"model":"gpt-4o-mini","stream":true,"input":"hi [[stub:text text=resp]]"}' "${OA[@]}"
check "responses streamed: response.completed" 200 'response.completed'
post /v1/embeddings '{"model":"text-embedding-3-small","input":"abc"}' "${OA[@]}"
check "embeddings: 200" 200 '"embedding"'
CODE=$(curl -s -o "$W/body" -w '%{http_code}' "${OA[@]}" "$URL/v1/models")
check "models: the allowed ones listed" 200 '"gpt-4o-mini"'
grep -q '"gpt-4o"' "$W/body" && bad "models: gpt-4o is filtered out" "$(cat "$W/body")" || ok "models: a model the policy does not allow is filtered out"
"$PY" - "$URL" "$KEY" >"$W/py.out" 2>&1 <<'PYEOF'
import json, sys, requests
url, key = sys.argv[1], sys.argv[2]
r = requests.post(url + "/v1/chat/completions", headers={"Authorization": "Bearer " + key},
                  json={"model": "gpt-4o-mini", "stream": True,
                        "messages": [{"role": "user", "content": "[[stub:text text=py chunks=2]]"}]},
                  stream=True, timeout=10)
text = ""
for line in r.iter_lines():
    if line.startswith(b"data: {"):
        for ch in json.loads(line[6:])["choices"]:
            text += ch.get("delta", {}).get("content") or ""
print(r.status_code, text)
PYEOF
grep -q '^200 py$' "$W/py.out" && ok "python requests: a streamed chat through cordond" || bad "python stream" "$(cat "$W/py.out")"

# ------------------------------------------------------------------ refusals
post /v1/chat/completions "$(chat hi gpt-4o)" "${OA[@]}"
check "a model the policy does not allow: 403 cordon.model" 403 'cordon.model'
post /v1/chat/completions "$(chat hi)"
check "no credential: 401" 401 'cordon.unknown_key'
post /v1/chat/completions "$(chat hi)" -H "Authorization: Bearer ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
check "an unknown key: 401" 401 'cordon.'
# cordond's own refusals (before the engine: the key, the size) in the shape of the API the
# path belongs to, as the SDKs parse them: OpenAI's error object, Anthropic's error.
shape() { # NAME WANT_CODE SHAPE(openai|anthropic) TYPE CODE
    if [ "$CODE" = "$2" ] && "$PY" - "$W/body" "$3" "$4" "$5" <<'PYEOF'; then ok "$1"; else
import json, sys
b = json.load(open(sys.argv[1]))
shape, typ, code = sys.argv[2:5]
e = b["error"]
ok = e["type"] == typ and e["code"] == code and len(e["message"]) > 20
ok = ok and (b.get("type") == "error" and "param" not in e if shape == "anthropic"
             else "type" not in b and "param" in e and e["param"] is None)
sys.exit(0 if ok else 1)
PYEOF
        bad "$1" "status $CODE, want $2 $3 $4 $5" "$(head -c 600 "$W/body")"
    fi
}
post /v1/messages "$(msgs hi)" -H "x-api-key: ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    -H "anthropic-version: 2023-06-01"
shape "an unknown key on /v1/messages: Anthropic's error shape" 401 anthropic authentication_error \
    cordon.unknown_key
post /messages "$(msgs hi)" -H "anthropic-version: 2023-06-01"
shape "no key on /messages (no /v1): Anthropic's error shape" 401 anthropic authentication_error \
    cordon.unknown_key
post /v1/chat/completions "$(chat hi)" -H "Authorization: Bearer ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
shape "an unknown key on /v1/chat/completions: OpenAI's error object" 401 openai \
    authentication_error cordon.unknown_key
post /v1/embeddings '{"model":"text-embedding-3-small","input":"x"}'
shape "no key on /v1/embeddings: OpenAI's error object" 401 openai authentication_error \
    cordon.unknown_key
post /v1/chat/completions '{"model": "gpt-4o-mini", "messages": [' "${OA[@]}"
check "invalid JSON: 400" 400 'error'
DEEP=$("$PY" -c 'print("{\"model\":\"gpt-4o-mini\",\"messages\":" + "[" * 10000 + "]" * 10000 + "}")')
post /v1/chat/completions "$DEEP" "${OA[@]}"
check "10,000-deep nesting: 400" 400 'error'

# A tool call the policy denies is taken out of the answer, streamed and not.
post /v1/chat/completions "$(chat 'x [[stub:tool name=delete_all args={}]]')" "${OA[@]}"
[ "$CODE" = 200 ] && ! grep -q delete_all "$W/body" && ok "a denied tool call is removed from the answer" ||
    bad "denied tool removed" "$CODE $(head -c 600 "$W/body")"
post /v1/chat/completions "$(chat 'x [[stub:tool name=delete_all args={}]]' gpt-4o-mini true)" "${OA[@]}"
[ "$CODE" = 200 ] && ! grep -q delete_all "$W/body" && grep -q 'DONE' "$W/body" &&
    ok "a denied tool call is removed from the stream" || bad "denied tool stream" "$CODE $(head -c 600 "$W/body")"
post /v1/messages "$(msgs 'x [[stub:tool name=get_weather]]' true)" "${AN[@]}"
check "an allowed tool call streams through" 200 'get_weather'

# ------------------------------------------------------------------ credentials
if grep -q -- "$KEY" "$W/stub.jsonl"; then bad "the stub never sees the agent key" "$(grep -c -- "$KEY" "$W/stub.jsonl")"
else ok "the stub never sees the agent key"; fi
grep -q "Bearer $OKEY" "$W/stub.jsonl" && ok "openai calls carry the provider key" || bad "provider key (openai)"
grep -q "\"x-api-key\", \"$AKEY\"\|\"x-api-key\",\"$AKEY\"" "$W/stub.jsonl" && ok "anthropic calls carry x-api-key" || bad "provider key (anthropic)" "$(grep -m1 messages "$W/stub.jsonl" | head -c 600)"

# ------------------------------------------------------------------ upstream failures
post /v1/chat/completions "$(chat hi down-model)" "${OA[@]}"
check "upstream down: 502 naming the upstream" 502 'upstream down'
post /v1/chat/completions "$(chat hi tls-ok)" "${OA[@]}"
check "an HTTPS upstream verified against its ca_file" 200 'over verified TLS'
post /v1/chat/completions "$(chat hi tls-bad)" "${OA[@]}"
check "the same upstream without ca_file: its certificate is refused, 502 naming it" 502 'upstream tlsbad'
grep -qi 'certificate\|SSL' "$W/body" && ok "the refusal says the certificate did not verify" ||
    bad "the refusal says the certificate did not verify" "$(head -c 400 "$W/body")"
post /v1/chat/completions "$(chat 'x [[stub:slow_first_byte first_byte_ms=3000]]')" "${OA[@]}"
check "slow first byte: 504" 504 'timed out'
post /v1/chat/completions "$(chat 'x [[stub:status code=503]]')" "${OA[@]}"
check "upstream 5xx: 502" 502 'server error'
# a stream the upstream drops, one it leaves silent, one that errs in the middle, and a whole
# answer larger than cordond holds: each ends in the client's shape, naming the upstream
post /v1/chat/completions "$(chat 'x [[stub:drop chunks=6 after=2]]' gpt-4o-mini true)" "${OA[@]}"
[ "$CODE" = 200 ] && grep -q 'upstream openai: the stream broke off' "$W/body" &&
    grep -q '"code":"cordon.upstream"' "$W/body" &&
    ok "a stream the upstream drops: an in-stream error event naming it" ||
    bad "a stream the upstream drops: an in-stream error event naming it" "$CODE $(tail -c 600 "$W/body")"
post /v1/chat/completions "$(chat 'x [[stub:drop chunks=6 after=2]]')" "${OA[@]}"
check "a whole answer the upstream drops: 502 naming it" 502 'upstream openai'
post /v1/chat/completions "$(chat 'x [[stub:sse_unterminated mode=hold hold_ms=6000]]' gpt-4o-mini true)" \
    "${OA[@]}"
[ "$CODE" = 200 ] && grep -q 'upstream openai: the stream broke off' "$W/body" && grep -q 'timed out\|no bytes' "$W/body" &&
    ok "a stream the upstream leaves silent past upstream_idle_timeout_ms: ended with an error event" ||
    bad "a stream the upstream leaves silent past upstream_idle_timeout_ms: ended with an error event" \
        "$CODE $(tail -c 600 "$W/body")"
post /v1/messages "$(msgs 'x [[stub:error_midstream chunks=4 after=2 message=overloaded]]' true)" "${AN[@]}"
[ "$CODE" = 200 ] && grep -q '^event: error' "$W/body" && grep -q 'overloaded' "$W/body" &&
    ok "an error event in the middle of an Anthropic stream passes through" ||
    bad "an error event in the middle of an Anthropic stream passes through" "$CODE $(tail -c 600 "$W/body")"
post /v1/chat/completions "$(chat 'x [[stub:huge mib=70 size=65536]]')" "${OA[@]}"
check "a whole answer over 64 MiB: 502, never held whole" 502 'more than cordond holds'
curl -s "$URL/metrics" > "$W/metrics"
grep -q 'cordon_upstream_errors_total{why="timeout"} [1-9]' "$W/metrics" && ok "metrics count upstream timeouts" ||
    bad "metrics upstream" "$(grep upstream "$W/metrics")"

# ------------------------------------------------------------------ hostile bodies
"$PY" - "${H%:*}" "${H##*:}" "$KEY" >"$W/big.out" 2>&1 <<'PYEOF'
import socket, sys, time
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port))
s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (key, 100 << 20)).encode())
s.sendall(b"{" * 4096)
s.settimeout(5)
t = time.time()
print(s.recv(4096).split(b"\r\n")[0].decode(), round(time.time() - t, 1))
PYEOF
grep -q '^HTTP/1.1 413' "$W/big.out" && ok "a 100 MB body: 413 before it is read" || bad "413" "$(cat "$W/big.out")"
head -c $((2 << 20)) /dev/zero | tr '\0' 'a' > "$W/2m"
CODE=$(curl -s -o "$W/body" -w '%{http_code}' -X POST "${OA[@]}" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$W/2m" "$URL/v1/chat/completions")
[ "$CODE" = 413 ] && ok "a chunked body over proxy_max_body: 413" || bad "chunked 413" "$CODE"
CODE=$(curl -s -o "$W/body" -w '%{http_code}' -X POST "${AN[@]}" -H 'Content-Type: application/json' \
    --data-binary @"$W/2m" "$URL/v1/messages")
shape "a body over proxy_max_body on /v1/messages: Anthropic's request_too_large" 413 anthropic \
    request_too_large cordon.too_large

# ------------------------------------------------------------------ a client that leaves
"$PY" - "${H%:*}" "${H##*:}" "$KEY" >"$W/leave.out" 2>&1 <<'PYEOF'
import json, socket, sys
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 64, "stream": True,
                   "messages": [{"role": "user",
                                 "content": "[[stub:text chunks=20 size=8 delay_ms=50 output_tokens=77]]"}]})
s = socket.create_connection((host, port))
s.sendall(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\nanthropic-version: 2023-06-01\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (key, len(body), body)).encode())
got = s.recv(4096)
s.close()
print(got.split(b"\r\n")[0].decode())
PYEOF
grep -q '^HTTP/1.1 200' "$W/leave.out" && ok "a client that leaves mid-stream got the head" || bad "leave" "$(cat "$W/leave.out")"
sleep 2.5

# ------------------------------------------------------------------ a client that reads a byte a second
# A streamed answer of 16 MiB to a client that takes one byte a second: cordond pauses the
# upstream instead of holding the answer (its resident size stays far below 16 MiB), and
# other clients are served meanwhile.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$CPID/status"; }
R0=$(rss)
"$PY" - "${H%:*}" "${H##*:}" "$KEY" >"$W/slow.out" 2>&1 <<'PYEOF' &
import json, socket, sys, time
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = json.dumps({"model": "gpt-4o-mini", "stream": True,
                   "messages": [{"role": "user", "content": "[[stub:huge mib=16 size=4096]]"}]})
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (key, len(body), body)).encode())
got = b""
for _ in range(6):
    got += s.recv(1)
    time.sleep(1)
print("read", len(got), got[:8])
s.close()
PYEOF
SLOW=$!
sleep 2
T0=$(date +%s%N)
post /v1/chat/completions "$(chat 'meanwhile [[stub:text text=served]]')" "${OA[@]}"
T1=$(date +%s%N)
check "while a client reads a byte a second, another is served" 200 'served'
[ $(((T1 - T0) / 1000000)) -lt 2000 ] && ok "... at once ($(((T1 - T0) / 1000000)) ms)" ||
    bad "... at once" "$(((T1 - T0) / 1000000)) ms"
sleep 2
R1=$(rss)
wait "$SLOW"
grep -q '^read 6 ' "$W/slow.out" && ok "the slow client read its bytes" || bad "the slow client" "$(cat "$W/slow.out")"
[ $((R1 - R0)) -lt 8192 ] && ok "cordond held back by the slow client, not the 16 MiB answer (RSS +$((R1 - R0)) KiB)" ||
    bad "cordond held back by the slow client, not the 16 MiB answer" "RSS $R0 -> $R1 KiB"

# ------------------------------------------------------------------ the audit log
run "audit query reads the model.call records" 0 "$CORDON" audit query "$W/state/audit" --kind model.call --json
N=$(echo "$OUT" | grep -c '"kind":"model.call"')
[ "$N" -ge 15 ] && ok "one model.call record per call ($N)" || bad "model.call count" "$N" "$(echo "$OUT" | tail -3)"
echo "$OUT" | grep '"agent":"web"' | grep -q '"endpoint":"/v1/messages"' && ok "records name the agent and endpoint" || bad "record fields" "$(echo "$OUT" | head -2)"
echo "$OUT" | grep -q '"output":77' && ok "the record of the call whose client left holds its usage" ||
    bad "usage after leave" "$(echo "$OUT" | grep -c output)"
echo "$OUT" | grep -q 'delete_all' && ok "the removed tool call is recorded" || bad "removed tool recorded"
echo "$OUT" | grep -q '"status":403' && ok "a refusal is recorded" || bad "refusal recorded"
echo "$OUT" | grep '"endpoint":"/v1/chat/completions"' | grep -q '"identity":{"decision":"allow","via":"agent_key","key_id":"ak_' &&
    ok "the record opens with the identity stage: the credential's kind and key" ||
    bad "the record opens with the identity stage" "$(echo "$OUT" | grep chat/completions | head -1 | cut -c1-400)"
echo "$OUT" | grep '"endpoint":"/v1/models"' | grep '"decision":"allow"' |
    grep -q '"models_listed":[1-9]' && ok "the model list served is recorded, with what it listed" ||
    bad "the model list served is recorded, with what it listed" "$(echo "$OUT" | grep models | head -3)"
kill -TERM "$CPID"; wait "$CPID"; RC=$?
[ "$RC" = 0 ] && ok "cordond stops cleanly with SIGTERM" || bad "cordond stop" "exit $RC" "$(tail -20 "$W/cordond.log")"
grep -q 'Sanitizer' "$W/cordond.log" && bad "no sanitizer report" "$(grep -A20 -m1 Sanitizer "$W/cordond.log")" ||
    ok "no sanitizer report from cordond"
if "$CORDON" audit verify --help >/dev/null 2>&1; then
    run "the audit log verifies" 0 "$CORDON" audit verify "$W/state/audit" --trust "$W/sign.pub"
fi
finish
