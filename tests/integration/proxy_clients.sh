#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.proxy_clients: real model clients inside `cordon run` with the embedded default
# and the stub upstream (tests/support/stub_upstream) behind the private cordond's model
# proxy: the official openai and @anthropic-ai/sdk Node clients (proxy_clients.cjs), curl,
# python3 requests and httpx (proxy_clients.py), each configured by nothing but the variables
# the shim exports. The agent's own provider key, set before cordon run, never reaches the
# stub (its request log shows every header), and the agent's environment holds the session
# token, never a key. The Node clients come from the cache integration.stub_upstream fills.
#   proxy_clients.sh CORDON STUB_BIN SOURCE_DIR
CORDON=$1
STUB=$2
SRC=$3
NPM_DIR=${CORDON_TEST_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/cordon-test-npm}
OPENAI_VER=6.49.0
ANTHROPIC_VER=1.16.0
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"

# A planted credential in the temporary HOME: the policy denies it.
mkdir -p "$HOME/.ssh" "$HOME/.aws"
echo "PLANTED-SSH-KEY" >"$HOME/.ssh/id_ed25519"
echo "PLANTED-AWS-KEY" >"$HOME/.aws/credentials"

have_clients() {
    [ "$(node -p "require('$NPM_DIR/node_modules/openai/package.json').version" 2>/dev/null)" = "$OPENAI_VER" ] &&
    [ "$(node -p "require('$NPM_DIR/node_modules/@anthropic-ai/sdk/package.json').version" 2>/dev/null)" = "$ANTHROPIC_VER" ]
}
mkdir -p "$NPM_DIR"
(
    flock 9
    if ! have_clients; then
        echo "installing openai@$OPENAI_VER and @anthropic-ai/sdk@$ANTHROPIC_VER into $NPM_DIR"
        [ -f "$NPM_DIR/package.json" ] || echo '{"private": true}' >"$NPM_DIR/package.json"
        npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error \
            "openai@$OPENAI_VER" "@anthropic-ai/sdk@$ANTHROPIC_VER" >&2
    fi
) 9>"$NPM_DIR/.lock"
if have_clients; then ok "the official clients are installed in $NPM_DIR"; else
    bad "the official clients are installed" "npm could not install them into $NPM_DIR"
    finish
    exit 1
fi
PY=python3
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import requests, httpx' 2>/dev/null; then PY=$p; break; fi
done

# The clients are copied beside the policy, and the Node modules are granted read-only: the
# source and the cache lie outside the grants otherwise.
cp "$SRC/tests/integration/proxy_clients.cjs" "$SRC/tests/integration/proxy_clients.py" "$FX/"
cat >"$FX/p.json" <<J
{"cordon_policy":1,"agent":"it-clients","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["\${workspace}","\${tmp}"],"read_only":["$FX","$NPM_DIR"],
               "deny":["\${home}/.ssh","\${home}/.aws"]},
 "exec":{"allow":["*"]},"network":{"mode":"proxy","allow":[]}},
 "api":{"models":["gpt-4o-mini","claude-*"],"tools":{"allow":["get_weather"]}}}
J

# The stub holds the real keys: it answers 401 to anything else.
OKEY=sk-real-openai-$$-$RANDOM
AKEY=sk-real-anthropic-$$-$RANDOM
FAKE=sk-agent-fake-$$-$RANDOM
start_stub() { # start_stub LOG OPENAI_KEY ANTHROPIC_KEY
    rm -f "$T/ready"
    "$STUB" --listen 127.0.0.1:0 --ready-file "$T/ready" --log "$1" --openai-key "$2" \
        --anthropic-key "$3" --quiet 2>"$T/stub.err" &
    STUB_PID=$!
    for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.05; done
    PORT=$(sed -n 's/^port=//p' "$T/ready" 2>/dev/null)
}
stop_stub() {
    kill -TERM "$STUB_PID" 2>/dev/null
    wait "$STUB_PID" 2>/dev/null
}
start_stub "$T/req1.jsonl" "$OKEY" "$AKEY"
if [ -n "$PORT" ]; then ok "the stub upstream listens on 127.0.0.1:$PORT"; else
    bad "the stub upstream starts" "$(cat "$T/stub.err")"
    finish
    exit 1
fi
V=$(mktemp -d /var/tmp/cordon-it-pc-XXXXXX)
trap 'rm -rf "$T" "$FX" "$V"; kill "$STUB_PID" 2>/dev/null' EXIT
umask 077
printf '%s\n' "$OKEY" >"$V/openai.key"
printf '%s\n' "$AKEY" >"$V/anthropic.key"
umask 022
UP=(--upstream "openai=http://127.0.0.1:$PORT/v1" --upstream "anthropic=http://127.0.0.1:$PORT")
KEYS=(--upstream-key "openai=$V/openai.key" --upstream-key "anthropic=$V/anthropic.key")

# 1. the keys from files; the agent had its own provider key in its environment.
run "the Node clients through cordond (chat, responses, messages; streams; tools)" 0 \
    env OPENAI_API_KEY="$FAKE" ANTHROPIC_API_KEY="$FAKE" NODE_PATH="$NPM_DIR/node_modules" \
    "$CORDON" run --policy "$FX/p.json" --audit "$V/a1" "${UP[@]}" "${KEYS[@]}" -- \
    node "$FX/proxy_clients.cjs"
echo "$OUT" | grep -E '^(ok|FAIL|     )' | sed 's/^/    /'
run "requests and httpx through cordond" 0 \
    env OPENAI_API_KEY="$FAKE" ANTHROPIC_API_KEY="$FAKE" \
    "$CORDON" run --policy "$FX/p.json" --audit "$V/a1" "${UP[@]}" "${KEYS[@]}" -- \
    "$PY" "$FX/proxy_clients.py"
echo "$OUT" | grep -E '^(ok|FAIL|     )' | sed 's/^/    /'
run "curl with the exported variables" 0 \
    env OPENAI_API_KEY="$FAKE" ANTHROPIC_API_KEY="$FAKE" \
    "$CORDON" run --policy "$FX/p.json" --audit "$V/a1" "${UP[@]}" "${KEYS[@]}" -- sh -c '
    curl -sS --fail "$OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $OPENAI_API_KEY" \
        -H content-type:application/json \
        -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"[[stub:text text=curl-ok]]\"}]}"
    echo
    curl -sS --fail "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" \
        -H "anthropic-version: 2023-06-01" -H content-type:application/json \
        -d "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"[[stub:text text=curl-claude]]\"}]}"
    echo'
has "curl: the chat answer" '"content":"curl-ok"'
has "curl: the messages answer" '"text":"curl-claude"'
# Network mode none: no network but cordond's API port, so the model calls still work.
sed 's/"mode":"proxy"/"mode":"none"/' "$FX/p.json" >"$FX/none.json"
run "network mode none: curl and python3 reach the model proxy" 0 \
    "$CORDON" run --policy "$FX/none.json" --audit "$V/a1" "${UP[@]}" "${KEYS[@]}" -- sh -c '
    curl -sS --fail "$OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $OPENAI_API_KEY" \
        -H content-type:application/json \
        -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"[[stub:text text=none-curl]]\"}]}"
    echo
    python3 -c "import json, os, urllib.request as u
r = u.Request(os.environ[\"OPENAI_BASE_URL\"] + \"/chat/completions\", json.dumps({\"model\": \"gpt-4o-mini\",
    \"messages\": [{\"role\": \"user\", \"content\": \"[[stub:text text=none-py]]\"}]}).encode(),
    {\"Authorization\": \"Bearer \" + os.environ[\"OPENAI_API_KEY\"], \"content-type\": \"application/json\"})
print(u.urlopen(r).read().decode())"'
has "mode none: the curl answer" '"content":"none-curl"'
has "mode none: the python3 answer" '"content":"none-py"'
run "a model outside api.models is refused by cordond, not forwarded" 0 \
    env OPENAI_API_KEY="$FAKE" "$CORDON" run --policy "$FX/p.json" --audit "$V/a1" "${UP[@]}" \
    "${KEYS[@]}" -- sh -c 'curl -sS "$OPENAI_BASE_URL/chat/completions" \
        -H "Authorization: Bearer $OPENAI_API_KEY" -H content-type:application/json \
        -d "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"'
has "the refusal names api.models" "api.models"
run "the agent's environment" 0 \
    env OPENAI_API_KEY="$FAKE" ANTHROPIC_API_KEY="$FAKE" \
    "$CORDON" run --policy "$FX/p.json" --audit "$V/a1" "${UP[@]}" "${KEYS[@]}" -- env
ENVOUT=$OUT
TOKEN=$(echo "$ENVOUT" | sed -n 's/^OPENAI_API_KEY=//p')
case "$TOKEN" in cs_*) ok "OPENAI_API_KEY is a session token" ;;
    *) bad "OPENAI_API_KEY is a session token" "$ENVOUT" ;; esac
has "ANTHROPIC_API_KEY is the same token" "ANTHROPIC_API_KEY=$TOKEN"
has "CORDON_KEY is the token too" "CORDON_KEY=$TOKEN"
case "$ENVOUT" in *"$FAKE"*) bad "the agent's provider key is gone from its environment" "$ENVOUT" ;;
    *) ok "the agent's provider key is gone from its environment" ;; esac
case "$ENVOUT" in *=ck_*|*:ck_*) bad "no agent key in the agent's environment" "$ENVOUT" ;;
    *) ok "no agent key (ck_) in the agent's environment" ;; esac
case "$ENVOUT" in *"$OKEY"*|*"$AKEY"*) bad "the upstream keys stay with cordond" "$ENVOUT" ;;
    *) ok "the upstream keys stay with cordond" ;; esac
OUT=$ENVOUT
has "OPENAI_BASE_URL points at cordond" "OPENAI_BASE_URL=http://127.0.0.1:"
has "ANTHROPIC_BASE_URL points at cordond" "ANTHROPIC_BASE_URL=http://127.0.0.1:"
run "a planted credential stays denied" 0 "$CORDON" run --policy "$FX/p.json" --audit "$V/a1" \
    "${UP[@]}" "${KEYS[@]}" -- sh -c 'cat "$HOME/.ssh/id_ed25519" "$HOME/.aws/credentials" 2>&1; true'
case "$OUT" in *PLANTED*) bad "no planted credential read" "$OUT" ;; *) ok "no planted credential read" ;; esac

stop_stub
N=$(wc -l <"$T/req1.jsonl")
if [ "$N" -ge 16 ]; then ok "the stub saw the calls ($N)"; else bad "the stub saw the calls" "$N"; fi
if grep -q -- "$FAKE" "$T/req1.jsonl"; then bad "the agent's provider key never reached the stub"
else ok "the agent's provider key never reached the stub"; fi
if grep -q 'cs_' "$T/req1.jsonl" && grep -o '"Bearer cs_[^"]*"\|"x-api-key","cs_[^"]*"' "$T/req1.jsonl" | grep -q .; then
    bad "no session token reached the stub" "$(grep -o 'cs_[A-Za-z0-9_-]*' "$T/req1.jsonl" | head -3)"
else ok "no session token reached the stub"; fi
run "every request carried the real key of its provider" 0 "$PY" - "$T/req1.jsonl" "$OKEY" "$AKEY" <<'PY'
import json, sys
bad = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = {k.lower(): v for k, v in r["headers"]}
    got = h.get("x-api-key") or h.get("authorization", "").removeprefix("Bearer ")
    want = sys.argv[3] if r["path"].endswith("/messages") else sys.argv[2]
    if got != want:
        bad.append((r["path"], got[:12]))
print(bad or "all real")
sys.exit(1 if bad else 0)
PY
if grep -rq -- "$TOKEN" "$V/a1"; then bad "the audit log never holds a session token in clear"
else ok "the audit log never holds a session token in clear"; fi
if grep -rq '"kind":"session.token".*"token_id":"st_' "$V/a1"; then ok "the audit log names the tokens by id"
else bad "the audit log names the tokens by id" "$(grep -rho '"kind":"[a-z._]*"' "$V/a1" | sort | uniq -c)"; fi
if grep -rq '"kind":"model.call"' "$V/a1"; then ok "the calls are recorded (model.call)"
else bad "the calls are recorded (model.call)"; fi

# 2. without --upstream-key: the keys come from cordon run's own environment, which the agent
# never sees.
start_stub "$T/req2.jsonl" "$OKEY" "$AKEY"
UP=(--upstream "openai=http://127.0.0.1:$PORT/v1" --upstream "anthropic=http://127.0.0.1:$PORT")
run "key_env: the keys of cordon run's environment" 0 \
    env OPENAI_API_KEY="$OKEY" ANTHROPIC_API_KEY="$AKEY" \
    "$CORDON" run --policy "$FX/p.json" --audit "$V/a2" "${UP[@]}" -- sh -c '
    env
    curl -sS --fail "$OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $OPENAI_API_KEY" \
        -H content-type:application/json \
        -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"[[stub:text text=env-ok]]\"}]}"'
has "key_env: the call went through" '"content":"env-ok"'
case "$OUT" in *"$OKEY"*|*"$AKEY"*) bad "key_env: the agent never sees the provider keys" "$OUT" ;;
    *) ok "key_env: the agent never sees the provider keys" ;; esac
has "key_env: the agent holds the session token" "OPENAI_API_KEY=cs_"
stop_stub
run "key_env: the stub got the real key" 0 grep -q "Bearer $OKEY" "$T/req2.jsonl"

# 3. malformed flags say what and how.
run "--upstream with an unknown API is a usage error" 2 "$CORDON" run --policy "$FX/p.json" \
    --upstream foo=http://127.0.0.1:1 -- true
has "it names the forms" "expected openai=URL or anthropic=URL"
run "--upstream with a URL that is not http(s)" 2 "$CORDON" run --policy "$FX/p.json" \
    --upstream openai=ftp://127.0.0.1:1 -- true
has "it says what a URL must be" "must start with http:// or https://"
run "--upstream given twice" 2 "$CORDON" run --policy "$FX/p.json" \
    --upstream openai=http://127.0.0.1:1 --upstream openai=http://127.0.0.1:2 -- true
has "it says so" "given twice"
run "--upstream-key without its --upstream" 2 "$CORDON" run --policy "$FX/p.json" \
    --upstream-key "openai=$V/openai.key" -- true
has "it asks for the upstream" "there is no --upstream openai=URL"
chmod 644 "$V/anthropic.key"
run "--upstream-key with a file others can read" 2 "$CORDON" run --policy "$FX/p.json" \
    --upstream anthropic=http://127.0.0.1:1 --upstream-key "anthropic=$V/anthropic.key" -- true
has "it names the file" "$V/anthropic.key"
run "--upstream without a key anywhere" 2 env -u OPENAI_API_KEY "$CORDON" run --policy "$FX/p.json" \
    --upstream openai=http://127.0.0.1:1 -- true
has "it says where the key can come from" "OPENAI_API_KEY is not set in cordon run's environment"
run "--upstream outside the embedded default" 2 "$CORDON" run --server http://127.0.0.1:1 \
    --key "ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" --trust /dev/null \
    --upstream openai=http://127.0.0.1:1 -- true
has "it says where upstreams go" "apply to the embedded default"
finish
