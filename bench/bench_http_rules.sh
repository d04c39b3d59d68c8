#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The latency per request that sandbox.network.http adds: the same loopback origin
# (bench/static_responder, keep-alive, a small JSON answer) reached straight, through an
# opaque tunnel of one cordond whose policy only allows 127.0.0.1:PORT, and through a judged
# tunnel of a second cordond whose policy names the same endpoint in sandbox.network.http with
# a few rules (each request parsed, normalized, matched against the rules, re-framed to the
# origin and audited as http.request). bench/bench_http_rules.c drives small GETs the rules
# allow over keep-alive connections, one tunnel each, at each concurrency, in interleaved
# rounds; prints the medians of each run's p50 and p99, the judged minus opaque difference
# and each cordond's CPU per request (its audit writer included).
#   bench/bench_http_rules.sh [BUILD_DIR [REQUESTS [ROUNDS [CONCURRENCY,...]]]]
#   (default: build 20000 7 1,32)
# CORDOND=PATH measures another cordond binary (an older build, say) with the same client.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}
requests=${2:-20000}
rounds=${3:-7}
concs=${4:-1,32}
cordon=$src/$build/tools/cordon
cordond=${CORDOND:-$src/$build/policy/server/cordond}
bench=$src/$build/bench/bench_http_rules
work=$(mktemp -d /var/tmp/cordon-bench-XXXXXX)
pids=()
# cordond closes its audit log on SIGTERM (its writer writes the last checkpoint): wait for
# that before removing the directory, or the checkpoint lands in a removed tree
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# a small JSON answer, as an API would give one order
body='{"id":1042,"status":"shipped","total":"129.90","currency":"EUR"}'
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" > "$work/response"
"$src/$build/bench/static_responder" --response "$work/response" --ready-file "$work/origin" &
pids+=($!)
wait_file "$work/origin" || { echo "bench_http_rules: the origin did not start" >&2; exit 1; }
port=$(sed -n 's/^port=//p' "$work/origin")

mkdir -p "$work/keys"
"$cordon" keygen "$work/keys/k" >/dev/null
key=ck_$(python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$key" > "$work/keys/agent.key"; chmod 600 "$work/keys/agent.key"

# opaque: the endpoint is allowed and nothing more
cat > "$work/opaque.json" <<J
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "network":{"mode":"proxy","allow":["127.0.0.1:$port"]}},"poll_seconds":3600}
J
# judged: the same endpoint with rules; the benchmark's GET /api/orders/1042?... is allowed
# by the third, after two that do not match it
cat > "$work/judged.json" <<J
{"cordon_policy":1,"agent":"bench","sandbox":{"enforcement":"best_effort",
 "network":{"mode":"proxy","allow":["127.0.0.1:$port"],
   "http":[{"host":"127.0.0.1:$port","tls":"none",
            "rules":[{"path":"/api/customers/export*","action":"deny"},
                     {"method":["GET","HEAD"],"path":"/api/customers/*","action":"allow"},
                     {"method":"GET","path":"/api/orders/*","action":"allow"},
                     {"method":"POST","path":"/api/notes","action":"allow"}],
            "default":"deny"}]}},"poll_seconds":3600}
J
start_cordond() { # NAME: starts cordond on $work/NAME.json; sets started_pid and started_tunnel
    mkdir -p "$work/$1"
    "$cordond" --policy "$work/$1.json" --agent-key-file "$work/keys/agent.key" \
        --signing-key "$work/keys/k.key" --state-dir "$work/$1" --listen 127.0.0.1:0 \
        --tunnel-listen 127.0.0.1:0 --events-socket off --ready-file "$work/$1.ready" \
        > "$work/$1.log" 2>&1 & pids+=($!)
    started_pid=$!
    if ! wait_file "$work/$1.ready"; then
        echo "bench_http_rules: cordond ($1) did not start:" >&2; cat "$work/$1.log" >&2; exit 1
    fi
    started_tunnel=$(sed -n 's/^tunnel=//p' "$work/$1.ready")
}
start_cordond opaque
pid_opaque=$started_pid tun_opaque=$started_tunnel
start_cordond judged
pid_judged=$started_pid tun_judged=$started_tunnel

echo "== $build/bench/bench_http_rules $port $tun_opaque $tun_judged KEY $requests $rounds $concs" \
    "PID PID   ($(nproc) CPUs)"
"$bench" "$port" "$tun_opaque" "$tun_judged" "$work/keys/agent.key" "$requests" "$rounds" \
    "$concs" "$pid_opaque" "$pid_judged"
# the judged cordond read and recorded every request; the opaque one none
sleep 0.5
judged=$(cat "$work"/judged/audit/*.jsonl | grep -c '"kind":"http.request"' || true)
allowed=$(cat "$work"/judged/audit/*.jsonl | grep '"kind":"http.request"' |
    grep -c '"decision":"allow"' || true)
opaque=$(cat "$work"/opaque/audit/*.jsonl | grep -c '"kind":"http.request"' || true)
echo "http.request records: judged $judged ($allowed allowed), opaque $opaque"
