#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How fast the stub upstream is on its own, so that a benchmark of cordond in front of it
# measures cordond. Each case runs bench/loadgen against tests/support/stub_upstream and,
# in the same run, against bench/static_responder serving the very bytes the stub answered
# that case with (captured first): the least a loopback HTTP server can do. Cases:
# non-streaming chat at 1 and 64 connections (closed loop), the open loop at 1,000 requests/s
# over 64 connections, and a streamed chat answer's time to first event. Each figure is the
# median of ROUNDS rounds (default 5) of BENCH_SECONDS seconds (default 2); the ratio is stub over
# baseline (rates: near 1 or above means the stub keeps up; latencies: near 1 is as fast).
# wrk, when installed, adds its own rate for the c=64 case as a second opinion on loadgen.
#   bench/bench_stub.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
ROUNDS=${ROUNDS:-5}
SECONDS_PER=${BENCH_SECONDS:-2} # not SECONDS: bash keeps its own count of seconds there
THREADS=${THREADS:-1}
T=$(mktemp -d /tmp/cordon-bench-stub-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

wait_port() { # FILE -> the port written there
    for _ in $(seq 100); do
        grep -q '^port=[0-9][0-9]*$' "$1" 2>/dev/null && break
        sleep 0.05
    done
    sed -n 's/^port=//p' "$1"
}

"$B/tests/support/stub_upstream" --threads "$THREADS" --ready-file "$T/stub.ready" --keep 1000 \
    --quiet &
PIDS+=($!)
SP=$(wait_port "$T/stub.ready")

printf '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' \
    "Say hello to the benchmark." >"$T/chat.json"
printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"%s"}]}' \
    "Say hello to the benchmark." >"$T/stream.json"

# capture the stub's exact answer (head and body) to one request, for the static responder
capture() { # BODY_FILE OUT_FILE
    python3 - "$SP" "$1" "$2" <<'PY'
import socket, sys
port, body, out = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
          b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
data = b""
while True:
    data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    if not _:
        continue
    if b"transfer-encoding: chunked" in head.lower():
        if rest.endswith(b"0\r\n\r\n"):
            break
    else:
        n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
        if len(rest) >= n:
            break
open(out, "wb").write(data)
PY
}
capture "$T/chat.json" "$T/chat.resp"
capture "$T/stream.json" "$T/stream.resp"

for r in chat stream; do
    "$B/bench/static_responder" --response "$T/$r.resp" --threads "$THREADS" \
        --ready-file "$T/$r.ready" &
    PIDS+=($!)
done
BP_CHAT=$(wait_port "$T/chat.ready")
BP_STREAM=$(wait_port "$T/stream.ready")

# one loadgen run -> its JSON report
lg() { # PORT BODY ARGS...
    local port=$1 body=$2
    shift 2
    "$B/bench/loadgen" --json -d "$SECONDS_PER" --body "$body" "$@" \
        "http://127.0.0.1:$port/v1/chat/completions"
}

# CASE NAME, FIELD (rate | latency_us.p50 ...), then the loadgen arguments
declare -a ROWS
measure() { # LABEL STUB_BODY BASE_PORT FIELDS ARGS...
    local label=$1 body=$2 bport=$3 fields=$4
    shift 4
    : >"$T/s.jsonl"
    : >"$T/b.jsonl"
    for _ in $(seq "$ROUNDS"); do
        lg "$SP" "$body" "$@" >>"$T/s.jsonl" || true
        lg "$bport" "$body" "$@" >>"$T/b.jsonl" || true
    done
    python3 - "$label" "$fields" "$T/s.jsonl" "$T/b.jsonl" <<'PY'
import json, statistics, sys
label, fields, sf, bf = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
def load(f):
    return [json.loads(l) for l in open(f) if l.strip()]
def get(r, f):
    v = r
    for k in f.split("."):
        v = v[k]
    return v
s, b = load(sf), load(bf)
errs = sum(r["errors"] + r["non2xx"] + r["unfinished"] for r in s + b)
for f in fields:
    sv = statistics.median(get(r, f) for r in s)
    bv = statistics.median(get(r, f) for r in b)
    ratio = sv / bv if bv else float("nan")
    unit = "req/s" if f == "rate" else "us"
    print(f"{label:<34} {f:<20} {sv:>12.1f} {bv:>12.1f}  {ratio:>6.2f}  {unit}" +
          (f"  ({errs} errors)" if errs else ""))
PY
}

echo "bench_stub: stub_upstream vs static_responder (same bytes), $THREADS server thread(s),"
echo "loadgen 1 thread, median of $ROUNDS rounds of ${SECONDS_PER}s; the machine is shared,"
echo "so absolute figures are noisy: read the ratios"
printf '%-34s %-20s %12s %12s  %6s\n' case figure stub baseline ratio
measure "chat, closed loop, c=1" "$T/chat.json" "$BP_CHAT" rate,latency_us.p50,latency_us.p99 -c 1
measure "chat, closed loop, c=64" "$T/chat.json" "$BP_CHAT" rate,latency_us.p50,latency_us.p99 -c 64
measure "chat, open loop 1000/s, c=64" "$T/chat.json" "$BP_CHAT" \
    latency_us.p50,latency_us.p90,latency_us.p99 -c 64 -r 1000
measure "chat stream, closed loop, c=16" "$T/stream.json" "$BP_STREAM" \
    rate,first_event_us.p50,first_event_us.p99 -c 16
if command -v wrk >/dev/null; then
    cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$(cat "$T/chat.json")]]
LUA
    for who in stub baseline; do
        port=$SP
        [ "$who" = baseline ] && port=$BP_CHAT
        r=$(wrk -t1 -c64 -d"${SECONDS_PER}s" -s "$T/post.lua" \
            "http://127.0.0.1:$port/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
        printf '%-34s %-20s %12s\n' "wrk: chat, c=64 ($who)" rate "$r"
    done
fi
