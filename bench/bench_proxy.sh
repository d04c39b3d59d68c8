#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What cordond's model proxy costs. bench/loadgen drives tests/support/stub_upstream directly
# and through a private cordond (single-policy mode, audit fsync off so the disk is not
# measured) whose `upstream openai` is that stub, in the same run, so each figure of cordond
# sits beside the stub's own. It prints first the stub's own rate alone (what the machine
# gives before cordond is in the way), then:
#   - added latency p50/p99 of a non-streaming chat call, at c=1 (closed loop) and open loop
#     1,000 requests/s over 64 connections (latency from each request's scheduled time);
#   - added time to first byte of a streamed chat call, at the same two loads;
#   - the saturation rate at c=64 through cordond against the stub's own (ratio), and beside
#     it the same through bench/relay_floor, a bare byte relay with cordond's thread count:
#     what any second hop on loopback costs before a proxy does any work of its own;
#   - cordond's resident memory with 1,000 streams held open at once, in KiB per stream.
# "added" is through cordond minus direct. Each figure is the median of ROUNDS rounds
# (default 5) of BENCH_SECONDS seconds (default 2). The machine is shared: read ratios and
# differences, not absolute figures.
# CASES picks some of them (default all): latency stream saturation memory.
#   bench/bench_proxy.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
ROUNDS=${ROUNDS:-5}
SECONDS_PER=${BENCH_SECONDS:-2} # not SECONDS: bash keeps its own count of seconds there
THREADS=${THREADS:-1}          # stub worker threads
CORDOND_THREADS=${CORDOND_THREADS:-2}
HOLD=${HOLD:-1000}
CASES=${CASES:-latency stream saturation memory}
want() { [[ " $CASES " == *" $1 "* ]]; }
T=$(mktemp -d /tmp/cordon-bench-proxy-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
# 1,000 held streams are 1,000 client sockets and, in cordond, 2,000
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

wait_line() { # FILE KEY -> the value of KEY=... written there
    for _ in $(seq 200); do
        grep -q "^$2=" "$1" 2>/dev/null && break
        sleep 0.05
    done
    sed -n "s/^$2=//p" "$1" | head -n 1
}

"$B/tests/support/stub_upstream" --threads "$THREADS" --ready-file "$T/stub.ready" --keep 1000 \
    --max-conns 8192 --quiet &
PIDS+=($!)
SP=$(wait_line "$T/stub.ready" port)
[ -n "$SP" ] || { echo "bench_proxy: stub_upstream did not start" >&2; exit 1; }

# cordond in front of it: one agent, one key, every model, the stub as its OpenAI upstream
"$B/tools/cordon" keygen "$T/sign" >/dev/null
cat >"$T/bench.json" <<JSON
{"cordon_policy": 1, "agent": "bench", "api": {"models": ["*"]}}
JSON
KEY=ck_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | head -c 42)A
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
BENCH_UPSTREAM_KEY=sk-bench-not-a-key "$B/policy/server/cordond" --policy "$T/bench.json" \
    --agent-key-file "$T/key" --signing-key "$T/sign.key" --state-dir "$T/state" \
    --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --events-socket off --audit-fsync none \
    --threads "$CORDOND_THREADS" \
    --upstream "openai http://127.0.0.1:$SP/v1 key_env=BENCH_UPSTREAM_KEY" \
    --ready-file "$T/cordond.ready" 2>"$T/cordond.log" &
CPID=$!
PIDS+=($CPID)
CADDR=$(wait_line "$T/cordond.ready" http)
if [ -z "$CADDR" ]; then
    echo "bench_proxy: cordond did not start:" >&2
    cat "$T/cordond.log" >&2
    exit 1
fi
CP=${CADDR##*:}

printf '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' \
    "Say hello to the benchmark." >"$T/chat.json"
printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"%s"}]}' \
    "Say hello to the benchmark." >"$T/stream.json"
# a stream that sends its first events and then stays open, silent, for the memory figure
printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"%s"}]}' \
    "[[stub:sse_unterminated mode=hold hold_ms=60000]]" >"$T/hold.json"

# the proxy must answer before anything is measured
if ! curl -sf -o "$T/probe.out" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' --data-binary @"$T/chat.json" \
    "http://127.0.0.1:$CP/v1/chat/completions"; then
    echo "bench_proxy: cordond does not proxy POST /v1/chat/completions yet:" >&2
    cat "$T/probe.out" "$T/cordond.log" >&2 2>/dev/null || true
    exit 1
fi

# the floor of the saturation figure: a bare relay to the stub, as many threads as cordond
"$B/bench/relay_floor" --upstream "$SP" --threads "$CORDOND_THREADS" --ready-file "$T/relay.ready" &
PIDS+=($!)
RP=$(wait_line "$T/relay.ready" port)
[ -n "$RP" ] || { echo "bench_proxy: relay_floor did not start" >&2; exit 1; }

# one loadgen run -> its JSON report; "direct" goes to the stub, "proxy" through cordond,
# "relay" through relay_floor
lg() { # direct|proxy|relay BODY ARGS...
    local who=$1 body=$2 port=$SP
    shift 2
    [ "$who" = proxy ] && port=$CP
    [ "$who" = relay ] && port=$RP
    "$B/bench/loadgen" --json -d "$SECONDS_PER" --body "$body" \
        -H "Authorization: Bearer $KEY" "$@" "http://127.0.0.1:$port/v1/chat/completions"
}

# LABEL BODY FIELDS ARGS...: median per field, direct and through cordond, their difference
# (latencies: the time cordond adds) and ratio (rates: how much of the stub's rate is left)
# (VIA=relay: through relay_floor instead of cordond)
measure() {
    local label=$1 body=$2 fields=$3 via=${VIA:-proxy}
    shift 3
    : >"$T/d.jsonl"
    : >"$T/p.jsonl"
    for _ in $(seq "$ROUNDS"); do
        lg direct "$body" "$@" >>"$T/d.jsonl" || true
        lg "$via" "$body" "$@" >>"$T/p.jsonl" || true
    done
    python3 - "$label" "$fields" "$T/d.jsonl" "$T/p.jsonl" <<'PY'
import json, statistics, sys
label, fields, df, pf = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
def load(f):
    return [json.loads(l) for l in open(f) if l.strip()]
def get(r, f):
    v = r
    for k in f.split("."):
        v = v[k]
    return v
d, p = load(df), load(pf)
if not d or not p:
    print(f"{label:<36} no report (loadgen failed)")
    sys.exit(0)
errs = sum(r["errors"] + r["non2xx"] + r["unfinished"] for r in p)
for f in fields:
    dv = statistics.median(get(r, f) for r in d)
    pv = statistics.median(get(r, f) for r in p)
    if f == "rate":
        ratio = pv / dv if dv else float("nan")
        print(f"{label:<36} {f:<20} {dv:>10.1f} {pv:>10.1f}  ratio {ratio:>5.2f}  req/s" +
              (f"  ({errs} errors)" if errs else ""))
    else:
        print(f"{label:<36} {f:<20} {dv:>10.1f} {pv:>10.1f}  added {pv - dv:>7.1f}  us" +
              (f"  ({errs} errors)" if errs else ""))
PY
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "bench_proxy: loadgen 1 thread; stub_upstream $THREADS thread(s); cordond $CORDOND_THREADS"
echo "thread(s); median of $ROUNDS rounds of ${SECONDS_PER}s; the machine is shared"

# the stub's own rate, alone, before cordond carries any load
: >"$T/own.jsonl"
for _ in $(seq "$ROUNDS"); do lg direct "$T/chat.json" -c 64 >>"$T/own.jsonl" || true; done
python3 - "$T/own.jsonl" <<'PY'
import json, statistics, sys
r = [json.loads(l)["rate"] for l in open(sys.argv[1]) if l.strip()]
print("stub_upstream alone, chat, closed loop, c=64: %.1f req/s" % statistics.median(r))
PY

printf '%-36s %-20s %10s %10s\n' case figure direct cordond
if want latency; then
    measure "chat, closed loop, c=1" "$T/chat.json" latency_us.p50,latency_us.p99 -c 1
    measure "chat, open loop 1000/s, c=64" "$T/chat.json" latency_us.p50,latency_us.p99 -c 64 \
        -r 1000
fi
if want stream; then
    measure "chat stream, closed loop, c=1" "$T/stream.json" ttfb_us.p50,ttfb_us.p99 -c 1
    measure "chat stream, open loop 1000/s, c=64" "$T/stream.json" ttfb_us.p50,ttfb_us.p99 \
        -c 64 -r 1000
fi
if want saturation; then
    measure "chat, saturation, closed loop, c=64" "$T/chat.json" rate -c 64
    VIA=relay measure "  the same through relay_floor" "$T/chat.json" rate -c 64
fi
want memory || exit 0

# memory: cordond's RSS idle, then with HOLD streams open through it at once
before=$(rss_kib "$CPID")
"$B/bench/loadgen" --hold "$HOLD" -t 2 --hold-seconds 60 --body "$T/hold.json" \
    -H "Authorization: Bearer $KEY" "http://127.0.0.1:$CP/v1/chat/completions" \
    >"$T/hold.out" 2>&1 &
LG=$!
PIDS+=($LG)
for _ in $(seq 600); do
    grep -q '^held=' "$T/hold.out" 2>/dev/null && break
    kill -0 "$LG" 2>/dev/null || break
    sleep 0.1
done
sleep 0.5
during=$(rss_kib "$CPID")
held=$(sed -n 's/^held=//p' "$T/hold.out")
kill -TERM "$LG" 2>/dev/null || true
wait "$LG" 2>/dev/null || true
if [ -n "$held" ]; then
    awk -v b="$before" -v d="$during" -v n="$held" 'BEGIN {
        printf "cordond RSS: %d KiB idle, %d KiB with %d open streams: %.1f KiB per stream\n",
               b, d, n, (d - b) / n }'
else
    echo "cordond RSS: the $HOLD streams did not all open ($(tail -n 1 "$T/hold.out"))"
fi
