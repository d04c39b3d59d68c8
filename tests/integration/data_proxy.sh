#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.data_proxy: api.data through cordond's model proxy with the official Node
# clients inside `cordon run` (the session token, so the session's tokenize vault): the
# openai client's e-mail address reaches the stub upstream only as [EMAIL_1] (the stub's
# request log holds every body) and comes back restored, in the same call's stream and in a
# later call of the session; a card number the model streams through @anthropic-ai/sdk is
# redacted; the audit log names the classes and positions and never the values. The Node
# clients come from the cache integration.proxy_clients fills.
#   data_proxy.sh CORDON STUB_BIN SOURCE_DIR
CORDON=$1
STUB=$2
SRC=$3
NPM_DIR=${CORDON_TEST_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/cordon-test-npm}
OPENAI_VER=6.49.0
ANTHROPIC_VER=1.16.0
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"

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

cp "$SRC/tests/integration/data_proxy.cjs" "$FX/"
cat >"$FX/p.json" <<J
{"cordon_policy":1,"agent":"it-data","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["\${workspace}","\${tmp}"],"read_only":["$FX","$NPM_DIR"]},
 "exec":{"allow":["*"]},"network":{"mode":"proxy","allow":[]}},
 "api":{"models":["gpt-4o-mini","claude-*"],
        "data":{"pii.email":{"request":"tokenize","response":"allow"},
                "pii.credit_card":{"request":"allow","response":"redact"},
                "secret.*":"block"}}}
J

OKEY=sk-real-openai-$$-$RANDOM
AKEY=sk-real-anthropic-$$-$RANDOM
"$STUB" --listen 127.0.0.1:0 --ready-file "$T/ready" --log "$T/stub.jsonl" --openai-key "$OKEY" \
    --anthropic-key "$AKEY" --quiet 2>"$T/stub.err" &
STUB_PID=$!
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.05; done
PORT=$(sed -n 's/^port=//p' "$T/ready" 2>/dev/null)
if [ -n "$PORT" ]; then ok "the stub upstream listens on 127.0.0.1:$PORT"; else
    bad "the stub upstream starts" "$(cat "$T/stub.err")"
    finish
    exit 1
fi
V=$(mktemp -d /var/tmp/cordon-it-dp-XXXXXX)
trap 'rm -rf "$T" "$FX" "$V"; kill "$STUB_PID" 2>/dev/null' EXIT
umask 077
printf '%s\n' "$OKEY" >"$V/openai.key"
printf '%s\n' "$AKEY" >"$V/anthropic.key"
umask 022

run "the Node clients through cordond with api.data" 0 \
    env NODE_PATH="$NPM_DIR/node_modules" \
    "$CORDON" run --policy "$FX/p.json" --audit "$V/a" \
    --upstream "openai=http://127.0.0.1:$PORT/v1" --upstream "anthropic=http://127.0.0.1:$PORT" \
    --upstream-key "openai=$V/openai.key" --upstream-key "anthropic=$V/anthropic.key" -- \
    node "$FX/data_proxy.cjs"
echo "$OUT" | grep -E '^(ok|FAIL|     )' | sed 's/^/    /'

# What the stub saw: the token, never the address.
n=$(grep -c '/v1/chat/completions' "$T/stub.jsonl" 2>/dev/null || echo 0)
if [ "$n" -ge 3 ]; then ok "the stub saw the $n chat calls"; else
    bad "the stub saw the chat calls" "$n" "$(head -c 2000 "$T/stub.jsonl" 2>/dev/null)"; fi
if grep -q 'alice.smith' "$T/stub.jsonl"; then
    bad "the stub upstream never saw the address" "$(grep 'alice.smith' "$T/stub.jsonl" | head -c 800)"
else ok "the stub upstream never saw the address"; fi
if grep -q 'Write to \[EMAIL_1\] today' "$T/stub.jsonl"; then ok "the stub saw the token instead"
else bad "the stub saw the token instead" "$(head -c 1200 "$T/stub.jsonl")"; fi

# The audit log: classes and positions, never the values.
OUT=$("$CORDON" audit query "$V/a" --kind model.call --json 2>&1)
has "the record names the tokenized class" '"class":"pii.email","action":"tokenize"'
has "the record names the position" '"positions":["messages[0].content"]'
has "the record names the redacted stream position" '"response.content[0].text"'
case "$OUT" in
    *alice.smith* | *"4539 1488"*) bad "the audit log holds no value" "$OUT" ;;
    *) ok "the audit log holds no value" ;;
esac
finish
