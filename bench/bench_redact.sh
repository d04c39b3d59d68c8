#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What redaction costs a streamed answer: time to first byte and time to the last byte of a
# streamed chat call through two private cordonds in front of one tests/support/stub_upstream,
# in the same run: one whose policy has no api.data (the raw, zero-copy stream), one whose
# api.data acts on every built-in PII and secret class in both directions (every text delta
# goes through the data stage's holdback lane and out rewritten). The prompt carries an
# e-mail address and a card number (redacted on the way in), and the answer is 32 deltas of
# 16 bytes. bench/bench_redact (the engine alone, no sockets) runs first, for the cost per
# event. Same method as bench_proxy.sh: bench/loadgen, medians of ROUNDS rounds (default
# 5) of BENCH_SECONDS seconds (default 2), audit fsync off; the machine is shared: read the
# difference, not the absolute figures.
#   bench/bench_redact.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
ROUNDS=${ROUNDS:-5}
SECONDS_PER=${BENCH_SECONDS:-2}
T=$(mktemp -d /tmp/cordon-bench-redact-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

wait_line() { # FILE KEY -> the value of KEY=... written there
    for _ in $(seq 200); do
        grep -q "^$2=" "$1" 2>/dev/null && break
        sleep 0.05
    done
    sed -n "s/^$2=//p" "$1" | head -n 1
}

"$B/tests/support/stub_upstream" --threads 1 --ready-file "$T/stub.ready" --keep 1000 --quiet &
PIDS+=($!)
SP=$(wait_line "$T/stub.ready" port)
[ -n "$SP" ] || { echo "bench_redact: stub_upstream did not start" >&2; exit 1; }

"$B/tools/cordon" keygen "$T/sign" >/dev/null
KEY=ck_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | head -c 42)A
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
cat >"$T/off.json" <<JSON
{"cordon_policy": 1, "agent": "bench", "api": {"models": ["*"]}}
JSON
cat >"$T/on.json" <<JSON
{"cordon_policy": 1, "agent": "bench", "api": {"models": ["*"],
 "data": {"pii.*": "redact", "secret.*": "redact", "health": "log", "financial": "log"}}}
JSON
start_cordond() { # NAME -> its port in $CP
    mkdir -p "$T/$1"
    BENCH_UPSTREAM_KEY=sk-bench-not-a-key "$B/policy/server/cordond" --policy "$T/$1.json" \
        --agent-key-file "$T/key" --signing-key "$T/sign.key" --state-dir "$T/$1" \
        --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --events-socket off \
        --audit-fsync none --threads 2 \
        --upstream "openai http://127.0.0.1:$SP/v1 key_env=BENCH_UPSTREAM_KEY" \
        --ready-file "$T/$1.ready" 2>"$T/$1.log" &
    PIDS+=($!)
    local a
    a=$(wait_line "$T/$1.ready" http)
    if [ -z "$a" ]; then
        echo "bench_redact: cordond ($1) did not start:" >&2
        cat "$T/$1.log" >&2
        exit 1
    fi
    CP=${a##*:}
}
start_cordond off
OFF=$CP
start_cordond on
ON=$CP

printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"%s"}]}' \
    "Mail alice.smith@example.com the card 4539 1488 0343 6467. [[stub:text chunks=32 size=16]]" \
    >"$T/stream.json"
for port in $OFF $ON; do
    if ! curl -sf -o "$T/probe.out" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data-binary @"$T/stream.json" \
        "http://127.0.0.1:$port/v1/chat/completions"; then
        echo "bench_redact: cordond on port $port does not answer the stream:" >&2
        cat "$T/probe.out" >&2 2>/dev/null || true
        exit 1
    fi
done

# the same answer paced as a model sends it: 1 ms after every delta
printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"%s"}]}' \
    "Mail alice.smith@example.com the card 4539 1488 0343 6467. [[stub:text chunks=32 size=16 delay_ms=1]]" \
    >"$T/paced.json"
BODY=$T/stream.json
lg() { # PORT ARGS...
    local port=$1
    shift
    "$B/bench/loadgen" --json -d "$SECONDS_PER" --body "$BODY" \
        -H "Authorization: Bearer $KEY" "$@" "http://127.0.0.1:$port/v1/chat/completions"
}
measure() { # LABEL ARGS...
    local label=$1
    shift
    : >"$T/off.jsonl"
    : >"$T/on.jsonl"
    for _ in $(seq "$ROUNDS"); do
        lg "$OFF" "$@" >>"$T/off.jsonl" || true
        lg "$ON" "$@" >>"$T/on.jsonl" || true
    done
    python3 - "$label" "$T/off.jsonl" "$T/on.jsonl" <<'PY'
import json, statistics, sys
label, off, on = sys.argv[1:]
def load(f):
    return [json.loads(l) for l in open(f) if l.strip()]
o, n = load(off), load(on)
if not o or not n:
    print(f"{label:<34} no report (loadgen failed)")
    sys.exit(0)
errs = sum(r["errors"] + r["non2xx"] + r["unfinished"] for r in o + n)
for f in ("ttfb_us.p50", "ttfb_us.p99", "latency_us.p50", "latency_us.p99"):
    k1, k2 = f.split(".")
    ov = statistics.median(r[k1][k2] for r in o)
    nv = statistics.median(r[k1][k2] for r in n)
    print(f"{label:<34} {f:<16} {ov:>9.1f} {nv:>9.1f}  added {nv - ov:>7.1f} us" +
          (f"  ({errs} errors)" if errs else ""))
PY
}

"$B/bench/bench_redact"
echo
echo "bench_redact: through cordond, streamed chat, 32 deltas of 16 bytes (the stub sends them"
echo "at once: the first byte waits for the batch cordond read); median of $ROUNDS rounds of" \
    "${SECONDS_PER}s; the machine is shared"
printf '%-34s %-16s %9s %9s\n' case figure "data off" "data on"
measure "chat stream, closed loop, c=1" -c 1
measure "chat stream, open loop 200/s, c=16" -c 16 -r 200
BODY=$T/paced.json
measure "paced stream (1 ms/delta), c=1" -c 1
