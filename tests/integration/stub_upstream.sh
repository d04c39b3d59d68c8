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
BUILD=$3
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

run "README.md documents every scenario and parameter the stub has" 0 "$PY" - "$PORT" \
    "$SRC/tests/support/README.md" <<'PY'
import json, sys, urllib.request
table = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/__stub/scenarios"))
doc = open(sys.argv[2]).read()
missing = [f"`{w}`" for w in table["common_params"].split() if f"`{w}`" not in doc]
for s in table["scenarios"]:
    row = next((l for l in doc.splitlines() if l.startswith(f"| `{s['name']}` |")), None)
    if row is None:
        missing.append(s["name"])
        continue
    missing += [f"{s['name']}.{p}" for p in s["params"].split() if f"`{p}`" not in row]
print("undocumented:", missing) if missing else print("all documented")
sys.exit(1 if missing else 0)
PY

# bench/loadgen against the stub: counts, and held streams
LG=$BUILD/bench/loadgen
printf '{"model":"m","messages":[{"role":"user","content":"hi"}]}' >"$T/chat.json"
run "loadgen: 500 requests over 8 connections, closed loop" 0 "$LG" --json -n 500 -c 8 \
    --body "$T/chat.json" -H "Authorization: Bearer $OKEY" "http://127.0.0.1:$PORT/v1/chat/completions"
has "loadgen: all 500 answered without error" '"requests":500,"errors":0,"non2xx":0,"unfinished":0'
run "loadgen: an open loop of 200 requests at 400/s" 0 "$LG" --json -n 200 -r 400 -c 4 \
    --body "$T/chat.json" -H "Authorization: Bearer $OKEY" "http://127.0.0.1:$PORT/v1/chat/completions"
has "loadgen: the open loop sent all 200" '"requests":200,"errors":0'
printf '{"model":"m","stream":true,"messages":[{"role":"user","content":"%s"}]}' \
    '[[stub:sse_unterminated hold_ms=3000]]' >"$T/hold.json"
run "loadgen --hold: 20 streams held open" 0 "$LG" --hold 20 --hold-seconds 0.5 \
    --body "$T/hold.json" -H "Authorization: Bearer $OKEY" "http://127.0.0.1:$PORT/v1/chat/completions"
has "loadgen --hold: every stream reached its first event" 'held 20 streams (0 ended early)'
run "loadgen: a wrong key counts as non-2xx" 1 "$LG" --json -n 10 -c 2 --body "$T/chat.json" \
    "http://127.0.0.1:$PORT/v1/chat/completions"
has "loadgen: non-2xx reported" '"non2xx":10'

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
