#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.stub_upstream: tests/support/stub_upstream driven directly, with the official
# OpenAI and Anthropic Node clients (stub_clients.cjs) and with python3-requests, httpx and
# raw sockets (stub_raw.py), then stopped with SIGTERM. The Node clients are installed once,
# at pinned versions, into a cache outside the source tree ($CORDON_TEST_NPM, default
# $XDG_CACHE_HOME/cordon-test-npm or ~/.cache/cordon-test-npm); later runs find them there.
#   stub_upstream.sh STUB_BIN SOURCE_DIR BUILD_DIR
STUB=$1
SRC=$2
NPM_DIR=${CORDON_TEST_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/cordon-test-npm}
OPENAI_VER=6.49.0    # the newest openai that runs on Debian 12's Node 20 (7.x wants Node 22)
ANTHROPIC_VER=1.16.0
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"

# The clients, installed when missing or at another version. A lock keeps two test runs
# from installing into the same place at once.
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

# Debian's python3 carries python3-requests and python3-httpx (tools/install-deps.sh)
PY=python3
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import requests, httpx' 2>/dev/null; then PY=$p; break; fi
done

OKEY=sk-stub-$$-$RANDOM
AKEY=ak-stub-$$-$RANDOM
REQ_TIMEOUT_MS=1500
"$STUB" --listen 127.0.0.1:0 --ready-file "$T/ready" --log "$T/requests.jsonl" --threads 2 \
    --openai-key "$OKEY" --anthropic-key "$AKEY" --request-timeout "$REQ_TIMEOUT_MS" \
    --log-body-max 4096 --quiet 2>"$T/stub.err" &
STUB_PID=$!
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.05; done
PORT=$(sed -n 's/^port=//p' "$T/ready" 2>/dev/null)
if [ -n "$PORT" ]; then ok "listening on 127.0.0.1:$PORT (--ready-file)"; else
    bad "the stub starts and writes --ready-file" "$(cat "$T/stub.err")"
    finish
    exit 1
fi

run "the official Node clients see what the providers send" 0 \
    env NODE_PATH="$NPM_DIR/node_modules" STUB_URL="http://127.0.0.1:$PORT" \
    STUB_OPENAI_KEY="$OKEY" STUB_ANTHROPIC_KEY="$AKEY" node "$SRC/tests/integration/stub_clients.cjs"
echo "$OUT" | sed 's/^/    /'
run "requests, httpx and raw sockets: log, control API, framing, hostile input" 0 \
    env STUB_PORT="$PORT" STUB_LOG="$T/requests.jsonl" STUB_OPENAI_KEY="$OKEY" \
    STUB_ANTHROPIC_KEY="$AKEY" STUB_REQUEST_TIMEOUT_MS="$REQ_TIMEOUT_MS" "$PY" \
    "$SRC/tests/integration/stub_raw.py"
echo "$OUT" | sed 's/^/    /'

run "curl: a streamed chat answer ends with data: [DONE]" 0 \
    curl -sS --fail -N "http://127.0.0.1:$PORT/v1/chat/completions" -H "Authorization: Bearer $OKEY" \
    -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
has "curl: the stream is terminated" 'data: [DONE]'

if kill -0 "$STUB_PID" 2>/dev/null; then ok "the stub survived everything above"; else
    bad "the stub survived everything above" "$(cat "$T/stub.err")"
fi
kill -TERM "$STUB_PID"
for _ in $(seq 50); do kill -0 "$STUB_PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$STUB_PID" 2>/dev/null; then
    bad "SIGTERM stops the stub within 2.5 s"
    kill -KILL "$STUB_PID"
else
    wait "$STUB_PID"
    rc=$?
    if [ "$rc" -eq 0 ]; then ok "SIGTERM stops the stub cleanly (exit 0)"; else
        bad "SIGTERM stops the stub cleanly" "exit $rc" "$(cat "$T/stub.err")"
    fi
fi
if [ ! -s "$T/stub.err" ]; then ok "--quiet: nothing on stderr"; else
    bad "--quiet: nothing on stderr" "$(cat "$T/stub.err")"
fi
finish
